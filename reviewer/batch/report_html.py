"""The scorecard as one self-contained HTML page: inline CSS and SVG, no script, nothing fetched.

Every text that came from the data (names, drafts, spans, messages) is escaped: a draft
holding ``<script>`` is shown, never run.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from reviewer.batch import svg
from reviewer.batch.scorecard import VERDICTS, Group, Scorecard

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; color: #222; margin: 24px auto; max-width: 960px; padding: 0 16px; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 36px; border-bottom: 1px solid #ddd; }
.meta { color: #666; } .kpis { display: flex; gap: 12px; margin: 16px 0; }
.kpi { flex: 1; border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; }
.kpi b { display: block; font-size: 22px; }
.send { color: #2e7d32; } .revise { color: #9a6a00; } .block { color: #c62828; }
svg.chart { max-width: 100%; height: auto; display: block; margin: 8px 0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 8px 0; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #eee; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.coach { border: 1px solid #ddd; border-left: 4px solid #c62828; border-radius: 4px;
  padding: 8px 12px; margin: 12px 0; }
.coach.revise { border-left-color: #f2a900; } .coach p { margin: 4px 0; white-space: pre-wrap; }
mark { background: #ffd6d6; padding: 0 1px; } .customer { color: #555; font-style: italic; }
code { background: #f4f4f4; padding: 0 3px; border-radius: 3px; }
"""


def render(card: Scorecard, title: str = "Reply quality scorecard") -> str:
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p class='meta'>{_meta(card)}</p>",
        _kpis(card),
        *_over_time(card),
        *_groups("Per agent", "agents", card.agents),
        *_heatmap(card.agents),
        *_groups("Per team", "teams", card.teams),
        *_findings(card),
        *_worst(card),
        "</body></html>",
    ]
    return "\n".join(parts)


def _meta(card: Scorecard) -> str:
    span = ""
    if card.first and card.last:
        span = f", {card.first.date().isoformat()} to {card.last.date().isoformat()}"
    versions = ", ".join(f"{v} ({n:,})" for v, n in card.rules_versions.most_common())
    model = f"; {card.by_model:,} reviewed by a model" if card.by_model else ""
    return escape(f"{card.total:,} replies{span}; rules {versions}{model}")


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "-"


def _kpis(card: Scorecard) -> str:
    boxes = [
        f"<div class='kpi {v}'><b>{_pct(card.verdicts[v], card.total)}</b>{v} ({card.verdicts[v]:,})</div>"
        for v in VERDICTS
    ]
    boxes.append(f"<div class='kpi'><b>{card.mean_score:.0f}</b>mean score</div>")
    return "<div class='kpis'>" + "".join(boxes) + "</div>"


def _over_time(card: Scorecard) -> list[str]:
    out = ["<h2>Verdicts over time</h2>"]
    if not card.by_period:
        out.append("<p>No row has a timestamp this report can read (ISO 8601 or a Unix epoch).</p>")
        return out
    out.append(svg.verdicts_over_time("chart-time", card.by_period, card.period))
    if card.undated:
        out.append(f"<p class='meta'>{card.undated:,} replies without a readable timestamp are left out.</p>")
    return out


def _groups(heading: str, chart: str, groups: Sequence[Group]) -> list[str]:
    out = [f"<h2>{heading}</h2>"]
    out.append(svg.verdict_shares(f"chart-{chart}", [(g.name, g.verdicts) for g in groups]))
    rows = []
    for g in groups:
        worst = ", ".join(f"<code>{escape(c)}</code> {rate:.0%}" for c, rate in g.worst_criteria())
        rows.append(
            f"<tr><td>{escape(g.name)}</td><td class='n'>{g.replies:,}</td>"
            + "".join(f"<td class='n'>{g.share(v):.0%}</td>" for v in VERDICTS)
            + f"<td class='n'>{g.mean_score:.0f}</td><td>{worst or '-'}</td></tr>"
        )
    out.append(
        "<table><tr><th>name</th><th>replies</th><th>send</th><th>revise</th><th>block</th>"
        "<th>score</th><th>fails most (decided, share of replies)</th></tr>" + "".join(rows) + "</table>"
    )
    return out


def _heatmap(agents: Sequence[Group]) -> list[str]:
    from reviewer.rubric import CRITERIA

    failing = {c for g in agents for c in g.failed}
    criteria = [c.id for c in CRITERIA if c.id in failing]
    if not criteria:
        return []
    rates = [[g.failed[c] / g.replies if g.replies else 0.0 for c in criteria] for g in agents]
    return [
        "<h2>Criteria each agent fails most</h2>",
        "<p class='meta'>Share of each agent's replies failing each criterion (decided failures only: where "
        "the rules abstain, their fallback status is left out).</p>",
        svg.failure_heatmap("chart-criteria", [g.name for g in agents], criteria, rates),
    ]


def _findings(card: Scorecard) -> list[str]:
    if not card.findings:
        return ["<h2>Most frequent findings</h2><p>No finding.</p>"]
    rows = [(f"{s.rule_id}", s.count, s.severity) for s in card.findings]
    table = "".join(
        f"<tr><td><code>{escape(s.rule_id)}</code><br>{escape(s.criterion)}, {escape(s.severity)}</td>"
        f"<td class='n'>{s.count:,}</td><td>{escape(s.message)}</td>"
        f"<td>{'<br>'.join(f'<mark>{escape(e)}</mark>' for e in s.examples)}</td></tr>"
        for s in card.findings
    )
    return [
        "<h2>Most frequent findings</h2>",
        svg.count_bars("chart-findings", rows),
        "<table><tr><th>rule</th><th>count</th><th>what</th><th>example spans</th></tr>" + table + "</table>",
    ]


def _worst(card: Scorecard) -> list[str]:
    out = ["<h2>Replies to coach on</h2>", "<p class='meta'>Blocked first, then the lowest scores.</p>"]
    for record in card.worst:
        review = record["review"]
        who = " · ".join(escape(str(record[k])) for k in ("agent", "team", "timestamp") if record.get(k))
        findings = "".join(
            f"<li><b class='{_severity_class(f['severity'])}'>{escape(f['severity'])}</b> "
            f"<code>{escape(f['criterion'])}</code> {escape(f['message'])}"
            + (f" → <i>{escape(f['suggestion'])}</i>" if f.get("suggestion") else "")
            + "</li>"
            for f in review["findings"]
            if f["severity"] != "suggestion"
        )
        customer = record.get("customer")
        out.append(
            f"<div class='coach {escape(review['verdict'])}'>"
            f"<b class='{escape(review['verdict'])}'>{escape(review['verdict'])}</b>, score {review['score']} · "
            f"<code>{escape(str(record['id']))}</code> · {who}"
            + (f"<p class='customer'>{escape(customer)}</p>" if customer else "")
            + f"<p>{highlight(str(record.get('draft') or ''), review['findings'])}</p><ul>{findings}</ul></div>"
        )
    return out


def _severity_class(severity: str) -> str:
    return "block" if severity == "error" else "revise"


def highlight(draft: str, findings: Sequence[dict[str, Any]]) -> str:
    """The draft, escaped, with the spans of its error and warning findings in ``<mark>``."""
    spans = sorted(
        (f["span"]["start"], f["span"]["end"])
        for f in findings
        if f["severity"] != "suggestion"
        and f.get("span")
        and f["span"].get("source", "draft") == "draft"
        and draft[f["span"]["start"] : f["span"]["end"]] == f["span"]["text"]
    )
    out, at = [], 0
    for start, end in spans:
        if start < at:  # overlaps the previous mark: extend it
            start = at
        if end <= start:
            continue
        out.append(escape(draft[at:start]))
        out.append(f"<mark>{escape(draft[start:end])}</mark>")
        at = end
    out.append(escape(draft[at:]))
    return "".join(out)
