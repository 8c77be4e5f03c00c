"""Write a run's reports: ``report.json`` (everything), ``report.md`` (for a pull request), ``junit.xml`` (for CI)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from reviewer.rubric import CRITERION_IDS

VERDICTS = ("send", "revise", "block")


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def title(run: dict[str, Any]) -> str:
    prompt = f" · prompt `{run['prompt']}`" if run.get("prompt") else ""
    return f"Eval: `{run['case_set']}` · model `{run['model']}`{prompt}"


def render_markdown(report: dict[str, Any]) -> str:
    run, m = report["run"], report["metrics"]
    lines = [f"# {title(run)}", ""]
    lines.append(f"{m['cases']['n']} cases · mode {run['mode']} · rules {run['rules_version']}"
                 + (f" · prompt hash `{run['prompt_hash'][:12]}`" if run.get("prompt_hash") else "")
                 + f" · {run['duration_s']:.1f} s · {run['started_at']}")
    if run.get("subset"):
        lines.append(f"Cases: {run['subset']}.")
    if run.get("replay_stale"):
        lines.append(f"{run['replay_stale']} responses were replayed for requests that changed since they were "
                     "recorded (the rules' findings in them moved; same case and prompt).")
    lines.append("")
    gate = report.get("gate")
    if gate is not None:
        lines += _gate_section(gate)
    verdict, cases, rw = m["verdict"], m["cases"], m["rewrite"]
    majority = m["majority_verdict"]
    lines += ["## Summary", ""]
    lines += _table(["metric", "value"], [
        ["cases passed", f"{cases['passed']}/{cases['n']} ({fmt(cases['pass_rate'])})"],
        ["verdict accuracy", f"{fmt(verdict['accuracy'])} ({verdict['correct']}/{verdict['n']})"],
        [f"majority-class answer (always `{majority['answer']}`)", fmt(majority["accuracy"])],
        ["rewrite assertions: cases passed", f"{rw['passed']}/{rw['checked']} ({fmt(rw['pass_rate'])})"
         + (f", {rw['cases_with_assertions'] - rw['checked']} skipped" if rw["cases_with_assertions"] > rw["checked"]
            else "")],
        ["verified rewrites", f"{rw['verified']} of {rw['returned']} returned"],
        ["latency p50 / p95 (ms)", f"{fmt(m['latency_ms']['p50'], 1)} / {fmt(m['latency_ms']['p95'], 1)}"],
        ["tokens (prompt + completion)",
         f"{m['usage']['prompt_tokens']} + {m['usage']['completion_tokens']} = {m['usage']['total_tokens']}"],
        ["cost (USD)", fmt(m["usage"]["cost_usd"], 4) if m["usage"]["cost_usd"] is not None else "unknown"],
        ["engine errors / degraded reviews", f"{cases['errors']} / {cases['degraded']}"],
    ])
    lines += ["## Verdicts", "", "Rows: expected; columns: the reviewer's answer.", ""]
    confusion = verdict["confusion"]
    lines += _table(["expected \\ answered", *VERDICTS, "error", "recall"], [
        [gold, *(confusion[gold][v] for v in (*VERDICTS, "error")), fmt(verdict["per_class"][gold]["recall"])]
        for gold in VERDICTS
    ] + [["precision", *(fmt(verdict["per_class"][v]["precision"]) for v in VERDICTS), "", ""]])
    lines += ["## Criteria", "",
              "`fail` is the positive class: recall = share of failing drafts caught, precision = share of "
              "flagged drafts that really fail. Gold `na` is left out.", ""]
    rows = []
    for cid in CRITERION_IDS:
        c = m["criteria"][cid]
        rows.append([f"`{cid}`", c["n"], c["tp"], c["fp"], c["fn"], fmt(c["precision"]), fmt(c["recall"]),
                     fmt(c["f1"]), fmt(c["agreement"]),
                     f"{fmt(c['majority_agreement'])} ({c['majority_answer'] or '–'})"])
    lines += _table(["criterion", "n", "TP", "FP", "FN", "precision", "recall", "F1", "agreement",
                     "majority (answer)"], rows)
    if "sources" in m:
        lines += _sources_section(m, run.get("trust"))
    failing = [c for c in report["cases"] if not c["passed"]]
    lines += [f"## Failing cases ({len(failing)})", ""]
    if failing:
        lines += ["<details><summary>show</summary>", ""]
        lines += _table(["case", "expected", "answered", "why"], [
            [f"`{c['id']}`", "/".join(c["verdict"]["expected"]), c["verdict"]["got"], "; ".join(c["failures"])]
            for c in failing
        ])
        lines += ["</details>", ""]
    return "\n".join(lines)


def _gate_section(gate: dict[str, Any]) -> list[str]:
    base = gate["baseline"]
    status = "PASSED" if gate["passed"] else "FAILED"
    lines = [f"## Gate: {status}", "",
             f"Against the baseline `{base.get('case_set')}` · model `{base.get('model')}`"
             + (f" · prompt `{base.get('prompt')}`" if base.get("prompt") else "") + ".", ""]
    if gate.get("compared_on"):
        lines += [f"The case sets differ, so the metrics are compared on the {gate['compared_on']} cases both "
                  "runs share.", ""]
    if gate.get("run_differs"):
        lines += ["This run differs from the baseline's: " + "; ".join(gate["run_differs"]) + ".", ""]
    if gate["metric_drops"]:
        lines += ["Metrics that fell by more than their tolerance:", ""]
        lines += _table(["metric", "baseline", "now", "change", "tolerance"], [
            [d["metric"], fmt(d["baseline"]), fmt(d["current"]), f"{d['delta']:+.3f}", fmt(d["tolerance"])]
            for d in gate["metric_drops"]])
    if gate["case_regressions"]:
        lines += ["Cases that passed in the baseline and fail now:", ""]
        lines += [f"- `{r['id']}`: {'; '.join(r['failures'])}" for r in gate["case_regressions"]] + [""]
    if gate["cases_fixed"]:
        lines += ["Cases that failed in the baseline and pass now: "
                  + ", ".join(f"`{c}`" for c in gate["cases_fixed"]), ""]
    others = [c for c in gate["metric_changes"] if c not in gate["metric_drops"]]
    if others:
        lines += ["Other metric changes (within tolerance or better):", ""]
        lines += _table(["metric", "baseline", "now", "change"], [
            [c["metric"], fmt(c["baseline"]), fmt(c["current"]), f"{c['delta']:+.3f}"] for c in others])
    for key, label in (("cases_added", "Cases new since the baseline"), ("cases_removed", "Cases no longer run")):
        if gate[key]:
            lines += [f"{label}: " + ", ".join(f"`{c}`" for c in gate[key]), ""]
    if not (gate["metric_changes"] or gate["case_regressions"] or gate["cases_fixed"]
            or gate["cases_added"] or gate["cases_removed"]):
        lines += ["No change from the baseline.", ""]
    return lines


def _sources_section(m: dict[str, Any], trust: dict[str, Any] | None = None) -> list[str]:
    sources = m["sources"]
    lines = ["## Sources: rules alone, model alone, merged", "",
             "Agreement with the gold labels (gold `na` left out). *Trusted* is the trust profile's choice for "
             "the criterion, then counts of whose judgement the merged review used. The model's own answer is "
             "read from its raw review response; its verdict applies the rubric rule, a model `fail` on a "
             "blocking criterion counting as block.", ""]
    if trust:
        lines += [f"Trust profile: **{trust['profile']}** ({trust['reason']}).", ""]
    rows = []
    for cid in CRITERION_IDS:
        trusted = ", ".join(f"{k} {v}" for k, v in sorted(sources["trusted"][cid].items())) or "–"
        if trust:
            trusted = f"{trust['criteria'].get(cid, '?')}: {trusted}"
        rows.append([f"`{cid}`", trusted, fmt(sources["criteria"]["rules"][cid]["agreement"]),
                     fmt(sources["criteria"]["model"][cid]["agreement"]), fmt(m["criteria"][cid]["agreement"]),
                     fmt(m["criteria"][cid]["majority_agreement"])])
    v = sources["verdict"]
    rows.append(["**verdict**", "", fmt(v["rules"]), fmt(v["model"]), fmt(v["merged"]), fmt(v["majority"])])
    return lines + _table(["criterion", "trusted", "rules", "model", "merged", "majority"], rows)


def render_junit(report: dict[str, Any]) -> bytes:
    cases = report["cases"]
    suite = ET.Element("testsuite", {
        "name": f"reviewer-eval.{report['run']['case_set']}.{report['run']['model']}",
        "tests": str(len(cases)),
        "failures": str(sum(not c["passed"] and not c["error"] for c in cases)),
        "errors": str(sum(bool(c["error"]) for c in cases)),
        "time": f"{report['run']['duration_s']:.3f}",
    })
    for case in cases:
        element = ET.SubElement(suite, "testcase", {
            "classname": f"evals.{report['run']['case_set']}", "name": case["id"],
            "time": f"{case['latency_ms'] / 1000:.3f}"})
        if case["error"]:
            ET.SubElement(element, "error", {"message": case["error"]})
        elif not case["passed"]:
            failure = ET.SubElement(element, "failure", {"message": "; ".join(case["failures"])})
            failure.text = case["rationale"]
    gate = report.get("gate")
    if gate is not None:
        element = ET.SubElement(suite, "testcase", {"classname": "evals.gate", "name": "baseline"})
        if not gate["passed"]:
            reasons = [f"{d['metric']} {d['baseline']} -> {d['current']}" for d in gate["metric_drops"]]
            reasons += [f"case {r['id']} regressed" for r in gate["case_regressions"]]
            ET.SubElement(element, "failure", {"message": "; ".join(reasons)})
        suite.set("tests", str(len(cases) + 1))
    return bytes(ET.tostring(suite, encoding="utf-8", xml_declaration=True))


def write_reports(report: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "report.json", "md": out_dir / "report.md", "junit": out_dir / "junit.xml"}
    paths["json"].write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths["md"].write_text(render_markdown(report), encoding="utf-8")
    paths["junit"].write_bytes(render_junit(report))
    return paths


def comparison_rows(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Side-by-side rows (metric, A, B, change) for ``reviewer eval compare``."""
    def pick(report: dict[str, Any]) -> dict[str, float | None]:
        m = report["metrics"]
        values: dict[str, float | None] = {
            "cases passed": m["cases"]["pass_rate"],
            "verdict accuracy": m["verdict"]["accuracy"],
            "majority-class verdict": m["majority_verdict"]["accuracy"],
            "rewrite pass rate": m["rewrite"]["pass_rate"],
            "verified rewrites": m["rewrite"]["verified"],
            "latency p50 (ms)": m["latency_ms"]["p50"],
            "latency p95 (ms)": m["latency_ms"]["p95"],
            "total tokens": m["usage"]["total_tokens"],
            "cost (USD)": m["usage"]["cost_usd"],
        }
        for verdict in VERDICTS:
            values[f"{verdict} precision"] = m["verdict"]["per_class"][verdict]["precision"]
            values[f"{verdict} recall"] = m["verdict"]["per_class"][verdict]["recall"]
        for cid in CRITERION_IDS:
            values[f"{cid} F1"] = m["criteria"][cid]["f1"]
            values[f"{cid} agreement"] = m["criteria"][cid]["agreement"]
        return values

    va, vb = pick(a), pick(b)
    rows = []
    for key in va:
        x, y = va[key], vb.get(key)
        change = f"{y - x:+.3f}" if isinstance(x, int | float) and isinstance(y, int | float) else ""
        rows.append((key, fmt(x), fmt(y), change))
    return rows
