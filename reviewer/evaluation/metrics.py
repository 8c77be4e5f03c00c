"""Score case outcomes: per-case pass/fail with reasons, and the run's metrics.

Per-criterion precision, recall and F1 treat ``fail`` as the positive class:
the reviewer's job is to catch failures, so recall is "of the drafts that
fail this criterion, how many it caught" and precision is "of the drafts it
failed, how many really fail". Gold ``na`` is left out of every criterion score.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from reviewer.evaluation.cases import EvalCase
from reviewer.evaluation.runner import CaseOutcome
from reviewer.models import Review, Status
from reviewer.rubric import CRITERION_IDS

VERDICTS = ("send", "revise", "block")
ERROR = "error"


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0-100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1], 3)


def gold_class(expected: list[Status]) -> str | None:
    """``fail`` / ``ok`` for scoring, or None when the gold is ``na`` or ambiguous (fail among others)."""
    if expected == ["na"]:
        return None
    if "fail" in expected:
        return "fail" if expected == ["fail"] else None
    return "ok"


def status_of(review: Review | None, criterion: str) -> Status | None:
    if review is None:
        return None
    for result in review.criteria:
        if result.id == criterion:
            return result.status
    return None


# -- one case -------------------------------------------------------------------------------------

def rewrite_checks(case: EvalCase, review: Review | None, llm: bool) -> dict[str, Any]:
    """Check the rewrite assertions; ``state`` is checked, skipped (with why) or missing."""
    spec = case.expect.rewrite
    if spec.is_empty():
        return {"state": "none", "assertions": []}
    rewrite = review.rewrite if review is not None else None
    if rewrite is None:
        if not llm:
            return {"state": "skipped", "why": "the rules engine does not rewrite", "assertions": []}
        if review is not None and review.verdict == "send":
            return {"state": "skipped", "why": "verdict send: no rewrite needed", "assertions": []}
        return {"state": "missing", "why": "no rewrite returned", "assertions": []}
    text = rewrite.text
    lowered = text.lower()
    assertions: list[dict[str, Any]] = []
    for phrase in spec.must_not_contain:
        assertions.append({"kind": "must_not_contain", "value": phrase, "ok": phrase.lower() not in lowered})
    for item in spec.must_contain:
        options = [item] if isinstance(item, str) else item
        assertions.append({"kind": "must_contain", "value": item,
                           "ok": any(option.lower() in lowered for option in options)})
    for fact in spec.must_keep:
        assertions.append({"kind": "must_keep", "value": fact, "ok": fact in text})
    if spec.max_chars is not None:
        assertions.append({"kind": "max_chars", "value": spec.max_chars, "ok": len(text) <= spec.max_chars,
                           "actual": len(text)})
    return {"state": "checked", "assertions": assertions, "text": text, "status": rewrite.status}


def score_case(outcome: CaseOutcome, llm: bool) -> dict[str, Any]:
    """The JSON-ready result of one case, with every reason it failed."""
    case, review = outcome.case, outcome.review
    failures: list[str] = []
    got_verdict = review.verdict if review is not None else ERROR
    verdict_ok = got_verdict in case.expect.verdict
    if outcome.error:
        failures.append(f"engine error: {outcome.error}")
    elif not verdict_ok:
        failures.append(f"verdict {got_verdict}, expected {'/'.join(case.expect.verdict)}")
    criteria: dict[str, Any] = {}
    for cid, expected in case.expect.criteria.items():
        got = status_of(review, cid)
        ok = got in expected
        judged = next((c for c in review.criteria if c.id == cid), None) if review else None
        criteria[cid] = {"expected": expected, "got": got, "ok": ok,
                         "decided": judged.decided if judged else None,
                         "source": judged.source if judged else None}
        if outcome.rules_review is not None:
            criteria[cid]["rules"] = status_of(outcome.rules_review, cid)
            criteria[cid]["rules_decided"] = next(
                (c.decided for c in outcome.rules_review.criteria if c.id == cid), None)
        if outcome.model_criteria is not None:
            criteria[cid]["model"] = outcome.model_criteria.get(cid)
        if not ok and case.expect.criteria_decide_pass and review is not None:
            failures.append(f"{cid} {got}, expected {'/'.join(expected)}")
    rewrite = rewrite_checks(case, review, llm)
    if rewrite["state"] == "missing":
        failures.append("rewrite: no rewrite returned")
    for assertion in rewrite["assertions"]:
        if not assertion["ok"]:
            failures.append(f"rewrite {assertion['kind']}: {assertion['value']!r}")
    result: dict[str, Any] = {
        "id": case.id,
        "tags": case.tags,
        "rationale": case.rationale,
        "passed": not failures,
        "failures": failures,
        "verdict": {"expected": case.expect.verdict, "got": got_verdict, "ok": verdict_ok},
        "criteria": criteria,
        "rewrite": rewrite,
        "latency_ms": round(outcome.latency_ms, 3),
        "error": outcome.error,
        "rewrite_status": review.rewrite.status if review is not None and review.rewrite is not None else None,
    }
    if review is not None:
        result["findings"] = [
            {"rule_id": f.rule_id, "criterion": f.criterion, "severity": f.severity,
             "text": f.span.text if f.span else None, "source": f.source}
            for f in review.findings
        ]
        result["engine"] = review.engine.model_dump(mode="json")
    if outcome.rules_review is not None:
        result["rules_verdict"] = outcome.rules_review.verdict
        if review is not None:  # whose judgement each of the ten criteria took, listed in the case or not
            result["criterion_sources"] = {c.id: c.source for c in review.criteria}
    if outcome.model_verdict is not None:
        result["model_verdict"] = outcome.model_verdict
    return result


# -- the run --------------------------------------------------------------------------------------

def verdict_metrics(results: list[dict[str, Any]], key: str = "got") -> dict[str, Any]:
    """Accuracy, confusion matrix (rows: expected, columns: answered) and per-verdict precision/recall.

    A case with several acceptable verdicts counts on the diagonal when the answer is one of
    them, else in the row of its first acceptable verdict.
    """
    confusion = {gold: dict.fromkeys((*VERDICTS, ERROR), 0) for gold in VERDICTS}
    correct = 0
    answered = 0
    for result in results:
        expected = result["verdict"]["expected"]
        got = result["verdict"].get(key) if key == "got" else result.get(key)
        if got is None:
            continue
        answered += 1
        gold = got if got in expected else expected[0]
        confusion[gold][got] += 1
        correct += got in expected
    per_class = {}
    for verdict in VERDICTS:
        predicted = sum(confusion[gold][verdict] for gold in VERDICTS)
        actual = sum(confusion[verdict].values())
        per_class[verdict] = {"precision": _ratio(confusion[verdict][verdict], predicted),
                              "recall": _ratio(confusion[verdict][verdict], actual), "support": actual}
    return {"accuracy": _ratio(correct, answered), "n": answered, "correct": correct,
            "confusion": confusion, "per_class": per_class}


def majority_verdict(results: list[dict[str, Any]]) -> dict[str, Any]:
    counts = Counter(r["verdict"]["expected"][0] for r in results)
    if not counts:
        return {"answer": None, "accuracy": None}
    answer = counts.most_common(1)[0][0]
    hits = sum(answer in r["verdict"]["expected"] for r in results)
    return {"answer": answer, "accuracy": _ratio(hits, len(results))}


def criterion_metrics(results: list[dict[str, Any]], key: str = "got") -> dict[str, dict[str, Any]]:
    """Per criterion: confusion counts with fail as positive, precision/recall/F1, agreement, majority."""
    out: dict[str, dict[str, Any]] = {}
    for cid in CRITERION_IDS:
        tp = fp = fn = tn = agree = n = 0
        golds: Counter[str] = Counter()
        for result in results:
            entry = result["criteria"].get(cid)
            if entry is None or key not in entry:
                continue
            gold = gold_class(entry["expected"])
            got = entry[key]
            if gold is None or got is None:
                continue
            n += 1
            golds[entry["expected"][0] if len(entry["expected"]) == 1 else "pass"] += 1
            agree += got in entry["expected"]
            if gold == "fail":
                tp += got == "fail"
                fn += got != "fail"
            else:
                fp += got == "fail"
                tn += got != "fail"
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        f1 = None if tp + fp + fn == 0 else round(2 * tp / (2 * tp + fp + fn), 4)
        majority = golds.most_common(1)[0][0] if golds else None
        out[cid] = {"n": n, "tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": precision, "recall": recall,
                    "f1": f1, "agreement": _ratio(agree, n), "majority_answer": majority,
                    "majority_agreement": _ratio(golds[majority], n) if majority else None}
    return out


def trusted_sources(results: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per criterion, over every review, how often its status came from the rules, the model or both."""
    out: dict[str, Counter[str]] = {cid: Counter() for cid in CRITERION_IDS}
    for result in results:
        for cid, source in result.get("criterion_sources", {}).items():
            out[cid][source] += 1
    return {cid: dict(counter) for cid, counter in out.items()}


def summarize(results: list[dict[str, Any]], llm: bool) -> dict[str, Any]:
    """Every metric of the run, from the per-case results."""
    latencies = [r["latency_ms"] for r in results if r["error"] is None]
    engines = [r["engine"] for r in results if "engine" in r]
    costs = [e["usage"]["cost_usd"] for e in engines if e["usage"].get("cost_usd") is not None]
    rewrites = [r["rewrite"] for r in results if r["rewrite"]["state"] in {"checked", "missing"}]
    rewrites_passed = sum(1 for rw in rewrites
                          if rw["state"] == "checked" and all(a["ok"] for a in rw["assertions"]))
    assertions = [a for rw in rewrites for a in rw["assertions"]]
    all_rewrites = sum(1 for r in results if r.get("rewrite_status"))
    metrics: dict[str, Any] = {
        "cases": {"n": len(results), "passed": sum(r["passed"] for r in results),
                  "failed": sum(not r["passed"] for r in results),
                  "pass_rate": _ratio(sum(r["passed"] for r in results), len(results)),
                  "errors": sum(r["error"] is not None for r in results),
                  "degraded": sum(bool(e.get("degraded")) for e in engines)},
        "verdict": verdict_metrics(results),
        "majority_verdict": majority_verdict(results),
        "criteria": criterion_metrics(results),
        "rewrite": {
            "cases_with_assertions": sum(r["rewrite"]["state"] != "none" for r in results),
            "checked": len(rewrites),
            "passed": rewrites_passed,
            "pass_rate": _ratio(rewrites_passed, len(rewrites)),
            "assertions": len(assertions),
            "assertions_passed": sum(a["ok"] for a in assertions),
            "returned": sum(r.get("rewrite_status") is not None for r in results),
            "verified": sum(r.get("rewrite_status") == "verified" for r in results),
            "verified_rate": _ratio(sum(r.get("rewrite_status") == "verified" for r in results), all_rewrites),
        },
        "latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
                       "mean": round(sum(latencies) / len(latencies), 3) if latencies else None},
        "usage": {
            "prompt_tokens": sum(e["usage"]["prompt_tokens"] for e in engines),
            "completion_tokens": sum(e["usage"]["completion_tokens"] for e in engines),
            "total_tokens": sum(e["usage"]["total_tokens"] for e in engines),
            "cost_usd": round(sum(costs), 6) if costs else None,
            "cost_known_for": len(costs),
        },
    }
    if llm:
        metrics["sources"] = {
            "verdict": {
                "rules": verdict_metrics(results, "rules_verdict")["accuracy"],
                "model": verdict_metrics(results, "model_verdict")["accuracy"],
                "merged": metrics["verdict"]["accuracy"],
                "majority": metrics["majority_verdict"]["accuracy"],
            },
            "criteria": {
                "rules": criterion_metrics(results, "rules"),
                "model": criterion_metrics(results, "model"),
            },
            "trusted": trusted_sources(results),
        }
    return metrics
