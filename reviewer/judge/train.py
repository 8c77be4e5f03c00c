"""Training a judge file from labelled replies (``reviewer train``); needs the ``[train]`` extra (scikit-learn).

Input: a labels JSONL (``id``, ``verdict``, ``labels`` = criterion -> pass/fail/na)
and a texts JSONL (``id``, ``reply``, ``customer``; optional ``brand``), joined by
id: the format of ``shared/realworld/``. The features are exactly the ones the
judge computes at review time (:mod:`reviewer.judge.features`), over the rules'
result for the same request.

What the judge decides is itself measured here: ``fit`` runs a k-fold
cross-validation inside the training data and lets the judge decide a criterion
(where the rules abstain) only where it agreed with the labels there more often
than the rules' fallback did (by ``CRITERION_MARGIN``), and picks the verdict
threshold below which it abstains.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reviewer import rubric, rules
from reviewer.judge.features import Features, hashed, reply_groups, rules_signals
from reviewer.judge.model import FORMAT_VERSION, Head, JudgeFile
from reviewer.models import ReviewRequest
from reviewer.rubric import CRITERION_IDS

BITS = 18
C_VERDICT = 4.0
C_CRITERION = 2.0
FOLDS = 5
CRITERION_MARGIN = 0.02
THRESHOLDS = (0.0, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)


class TrainingError(ValueError):
    """The labels or texts can't be used (missing file, bad line, unknown id, too few examples)."""


@dataclass
class Example:
    """One labelled exchange with what the rules said about it and its features."""

    id: str
    reply: str
    customer: str | None
    verdict: str
    labels: dict[str, str]
    brand: str = ""
    rules_verdict: str = ""
    rules_criteria: dict[str, tuple[str, bool]] = field(default_factory=dict)
    features: Features = field(default_factory=dict)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TrainingError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise TrainingError(f"{path}: not UTF-8") from exc
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TrainingError(f"{path}:{number}: not JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or "id" not in row:
            raise TrainingError(f"{path}:{number}: expected an object with an 'id'")
        out.append(row)
    return out


def load_examples(labels_paths: Sequence[Path], texts_paths: Sequence[Path]) -> list[Example]:
    """Labelled examples, joined by id across the files; every label must have its text, once."""
    texts = {str(row["id"]): row for path in texts_paths for row in _read_jsonl(path)}
    examples = []
    seen: set[str] = set()
    for labels_path in labels_paths:
        examples += _labelled(labels_path, texts, seen)
    return examples


def _labelled(labels_path: Path, texts: dict[str, dict[str, Any]], seen: set[str]) -> list[Example]:
    examples = []
    for number, label in enumerate(_read_jsonl(labels_path), start=1):
        key = str(label["id"])
        text = texts.get(key)
        if text is None:
            raise TrainingError(f"{labels_path}:{number}: id {key} has no text in the texts files")
        if key in seen:
            raise TrainingError(f"{labels_path}:{number}: id {key} is labelled twice")
        seen.add(key)
        verdict = label.get("verdict")
        if verdict not in ("send", "revise", "block"):
            raise TrainingError(f"{labels_path}:{number}: verdict must be send, revise or block, not {verdict!r}")
        reply = text.get("reply") or text.get("draft")
        if not isinstance(reply, str) or not reply.strip():
            raise TrainingError(f"id {key} has no reply text")
        labels = {cid: str(v) for cid, v in (label.get("labels") or {}).items() if cid in CRITERION_IDS}
        examples.append(Example(key, reply, text.get("customer") or text.get("customer_message"), verdict,
                                labels, str(text.get("brand", ""))))
    return examples


def featurize(examples: Sequence[Example], bits: int = BITS) -> None:
    """Run the rules on each example and compute its features (in place; done once, reused by every fold)."""
    for ex in examples:
        request = ReviewRequest(draft=ex.reply, customer_message=ex.customer)
        result = rules.run(request)
        verdict = rubric.decide_verdict(result.criteria, result.findings)
        ex.rules_verdict = verdict
        ex.rules_criteria = {c.id: (c.status, c.decided) for c in result.criteria}
        groups = reply_groups(ex.reply, ex.customer)
        groups["rules"] = rules_signals(verdict, result.criteria, result.findings)
        ex.features = hashed(groups, bits)


def _matrix(examples: Sequence[Example], bits: int) -> Any:
    from scipy.sparse import csr_matrix

    rows, cols, vals = [], [], []
    for i, ex in enumerate(examples):
        for bucket, value in ex.features.items():
            rows.append(i)
            cols.append(bucket)
            vals.append(value)
    return csr_matrix((vals, (rows, cols)), shape=(len(examples), 1 << bits))


def _head(name: str, X: Any, y: list[str], c: float, bits: int) -> Head:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=5000)
    model.fit(X, y)
    classes = tuple(str(k) for k in model.classes_)
    coef = model.coef_
    bias = [float(b) for b in model.intercept_]
    if len(classes) == 2:  # sklearn keeps one row for two classes: softmax over [0, w.x + b] is the same model
        coef = [[0.0] * coef.shape[1], coef[0]]
        bias = [0.0, bias[0]]
    columns = len(classes)
    weights = array("f", bytes(4 * columns * (1 << bits)))
    for k in range(columns):
        row = coef[k]
        for bucket in (row.nonzero()[0] if hasattr(row, "nonzero") else range(len(row))):
            weights[int(bucket) * columns + k] = float(row[bucket])
    return Head(name, classes, tuple(bias), weights)


def fit_heads(
    examples: Sequence[Example], bits: int = BITS, criteria: Sequence[str] = CRITERION_IDS
) -> dict[str, Head]:
    """The verdict head and one head per criterion with at least two labels seen."""
    X = _matrix(examples, bits)
    heads = {"verdict": _head("verdict", X, [ex.verdict for ex in examples], C_VERDICT, bits)}
    for cid in criteria:
        rows = [i for i, ex in enumerate(examples) if cid in ex.labels]
        ys = [examples[i].labels[cid] for i in rows]
        if len(set(ys)) >= 2:
            heads[cid] = _head(cid, X[rows], ys, C_CRITERION, bits)
    return heads


def folds(examples: Sequence[Example], k: int, seed: int = 0) -> list[list[int]]:
    """k folds of indices, assigned by a hash of the id (stable whatever the file order)."""
    buckets: list[list[int]] = [[] for _ in range(k)]
    for i, ex in enumerate(examples):
        digest = hashlib.sha256(f"{seed}:{ex.id}".encode()).digest()
        buckets[int.from_bytes(digest[:4], "big") % k].append(i)
    return buckets


def fit(examples: list[Example], *, bits: int = BITS, folds_k: int = FOLDS, note: str = "") -> JudgeFile:
    """A judge file: heads fitted on all examples, ``decides`` and thresholds chosen by k-fold CV."""
    import sklearn  # noqa: F401  # fail here, before any work, when the [train] extra is missing

    if len(examples) < 4 * folds_k:
        raise TrainingError(f"{len(examples)} labelled examples; at least {4 * folds_k} are needed")
    if len({ex.verdict for ex in examples}) < 2:
        raise TrainingError("every example has the same verdict; a judge needs at least two")
    if not examples[0].features:
        featurize(examples, bits)
    held: list[tuple[Example, dict[str, dict[str, float]]]] = []
    for fold in folds(examples, folds_k):
        in_fold = set(fold)
        heads = fit_heads([ex for i, ex in enumerate(examples) if i not in in_fold], bits)
        for i in fold:
            ex = examples[i]
            held.append((ex, {name: head.probabilities(ex.features) for name, head in heads.items()}))
    decides, criterion_report = _choose_criteria(held)
    threshold, verdict_report = _choose_threshold(held)
    heads = fit_heads(examples, bits, criteria=decides)
    meta = {
        "version": hashlib.sha256("".join(sorted(ex.id for ex in examples)).encode()).hexdigest()[:12],
        "trained_on": {"examples": len(examples), "note": note},
        "decides": list(decides),
        "verdict_threshold": threshold,
        "criterion_threshold": 0.0,
        "cross_validation": {"folds": folds_k, "verdict": verdict_report, "criteria": criterion_report},
        "format": FORMAT_VERSION,
    }
    return JudgeFile(bits=bits, heads=heads, meta=meta)


def merged_verdict(ex: Example, probabilities: dict[str, float], threshold: float) -> str:
    """The verdict the review gives: the rules', raised to the judge's when the judge is sure of a stricter one."""
    label = max(probabilities, key=probabilities.__getitem__)
    if probabilities[label] < threshold:
        return ex.rules_verdict
    return rubric.strictest(ex.rules_verdict, label)  # type: ignore[arg-type]


def _choose_threshold(held: list[tuple[Example, dict[str, dict[str, float]]]]) -> tuple[float, dict[str, Any]]:
    scores = {}
    for t in THRESHOLDS:
        agree = sum(merged_verdict(ex, p["verdict"], t) == ex.verdict for ex, p in held)
        scores[t] = agree / len(held)
    best = max(THRESHOLDS, key=lambda t: (round(scores[t], 3), t))  # ties: the more cautious threshold
    rules_agree = sum(ex.rules_verdict == ex.verdict for ex, _ in held) / len(held)
    by_threshold = {str(t): round(s, 4) for t, s in scores.items()}
    return best, {"rules": round(rules_agree, 4), "judge_by_threshold": by_threshold}


def _choose_criteria(held: list[tuple[Example, dict[str, dict[str, float]]]]) -> tuple[list[str], dict[str, Any]]:
    decides: list[str] = []
    report: dict[str, Any] = {}
    for cid in CRITERION_IDS:  # the judge fills only what the rules abstain on, so it is measured there
        pairs = [(ex, p[cid]) for ex, p in held
                 if cid in ex.labels and cid in p and not ex.rules_criteria[cid][1]]
        if not pairs:
            continue
        judge = sum(max(p, key=p.__getitem__) == ex.labels[cid] for ex, p in pairs) / len(pairs)
        rules_ = sum(ex.rules_criteria[cid][0] == ex.labels[cid] for ex, _ in pairs) / len(pairs)
        report[cid] = {"n": len(pairs), "judge": round(judge, 4), "rules": round(rules_, 4)}
        if judge >= rules_ + CRITERION_MARGIN:
            decides.append(cid)
    return decides, report
