"""The learned judge: verdict and fuzzy criteria learned from labelled real replies, offline and fast.

The rules engine finds exact spans and the hard errors; the judge, a set of linear
models over hashed features of the reply, the customer's message and the rules'
own result (:mod:`reviewer.judge.features`), decides the verdict and the criteria
it was measured to judge better than the rules (``decides`` in its file). Each
decision carries its probability; below the file's threshold the judge abstains
(``decided=False``) and the rules' answer stands.

A judge trained on the project's labelled data ships as a separate file
(``reviewer/judge/data/default.judge``, derived from CC BY-NC-SA 4.0 data: see
``NOTICE`` beside it); ``reviewer train`` builds one from a team's own labels.
``REVIEWER_JUDGE`` / ``--judge`` picks one (a path, or ``default``); none runs unless
asked, because the shipped one measured no better than the rules on unseen brands.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from reviewer import rubric
from reviewer.judge.features import hashed, reply_groups, rules_signals, sentences, words
from reviewer.judge.model import JudgeFile, JudgeFileError, load
from reviewer.judge_choice import DEFAULT_PATH
from reviewer.models import CriterionResult, Finding, ReviewRequest, Span, Verdict

__all__ = ["DEFAULT_PATH", "Applied", "Decision", "Judge", "JudgeFileError", "Judgement", "get"]



@dataclass(frozen=True)
class Decision:
    """One learned decision: the label, its probability, and whether it clears the judge's threshold."""

    label: str
    probability: float
    decided: bool


@dataclass(frozen=True)
class Judgement:
    verdict: Decision
    criteria: dict[str, Decision]


@dataclass
class Applied:
    """The rules' result with the judge's decisions merged in, and the judge's verdict when it is sure."""

    criteria: list[CriterionResult]
    findings: list[Finding]
    verdict: Verdict | None
    probability: float
    name: str


class Judge:
    """A loaded judge file, ready to judge requests."""

    def __init__(self, judge_file: JudgeFile, name: str) -> None:
        self.file = judge_file
        self.name = name
        meta = judge_file.meta
        self.threshold: float = float(meta.get("verdict_threshold", 0.0))
        self.criterion_threshold: float = float(meta.get("criterion_threshold", 0.0))
        self.decides: tuple[str, ...] = tuple(meta.get("decides", ()))
        self.version: str = str(meta.get("version", "unversioned"))

    def judge(
        self,
        draft: str,
        customer_message: str | None,
        rules_verdict: Verdict,
        criteria: list[CriterionResult],
        findings: list[Finding],
    ) -> Judgement:
        groups = reply_groups(draft, customer_message)
        groups["rules"] = rules_signals(rules_verdict, criteria, findings)
        features = hashed(groups, self.file.bits)
        verdict_head = self.file.heads["verdict"]
        probabilities = verdict_head.probabilities(features)
        label = max(probabilities, key=probabilities.__getitem__)
        verdict = Decision(label, probabilities[label], probabilities[label] >= self.threshold)
        decisions: dict[str, Decision] = {}
        for cid in self.decides:
            head = self.file.heads.get(cid)
            if head is None:
                continue
            p = head.probabilities(features)
            status = max(p, key=p.__getitem__)
            decisions[cid] = Decision(status, p[status], p[status] >= self.criterion_threshold)
        return Judgement(verdict, decisions)

    def apply(
        self, request: ReviewRequest, criteria: list[CriterionResult], findings: list[Finding], rules_verdict: Verdict
    ) -> Applied:
        """Merge the judge into the rules' result (``rules_verdict`` is what it comes to): it decides the criteria
        in ``decides`` and, when sure, raises the verdict; the rules' ``error`` findings stay."""
        judgement = self.judge(request.draft, request.customer_message, rules_verdict, criteria, findings)
        merged = [self._criterion(c, judgement.criteria.get(c.id), request.draft) for c in criteria]
        verdict = judgement.verdict
        sure: Verdict | None = verdict.label if verdict.decided else None  # type: ignore[assignment]
        found = list(findings)
        if sure is not None and rubric.strictest(rules_verdict, sure) != rules_verdict:
            span = self._driving_sentence(request.draft, "verdict", sure)  # only now: it costs a pass per sentence
            found.append(self._finding(sure, verdict.probability, span, merged, request.draft))
        return Applied(merged, found, sure, verdict.probability, f"{self.name}@{self.version}")

    def _criterion(self, rules_result: CriterionResult, decision: Decision | None, draft: str) -> CriterionResult:
        if decision is None or not decision.decided or decision.label not in ("pass", "fail", "na"):
            return rules_result
        if rules_result.source != "rules" or rules_result.decided:
            return rules_result  # a confident rule, or a model trusted with this criterion, has decided it
        p = round(decision.probability, 3)
        if decision.label == rules_result.status:
            return rules_result.model_copy(update={"probability": p, "decided": True, "source": "judge"})
        where = self._driving_sentence(draft, rules_result.id, "fail") if decision.label == "fail" else None
        evidence = [_span(draft, where)] if where else []
        return CriterionResult(
            id=rules_result.id,
            status=decision.label,
            evidence=evidence,
            explanation=f"The learned judge says {decision.label} (probability {p:.2f}); "
            f"the rules said {rules_result.status}: {rules_result.explanation}",
            decided=True,
            source="judge",
            probability=p,
        )

    def _finding(
        self, verdict: Verdict, probability: float, where: tuple[int, int] | None, criteria: list[CriterionResult],
        draft: str,
    ) -> Finding:
        """Why the judge's verdict is stricter than the rules': the sentence that drove it."""
        p = f"{probability:.2f}"
        span = _span(draft, where) if where else None
        if verdict == "block":
            return Finding(
                rule_id="judge.makes-it-worse", criterion="stays-professional", severity="error", span=span,
                message=f"Reads as dismissive, defensive or a brush-off to an upset customer (learned judge, "
                f"probability {p}).",
                suggestion=None, source="judge",
            )
        failing = [c.id for c in criteria if c.status == "fail" and rubric.is_gating(c.id)]
        return Finding(
            rule_id="judge.not-ready", criterion=failing[0] if failing else "understands-issue", severity="warning",
            span=span,
            message=f"Not ready to send as it is: something the customer needs is missing (learned judge, "
            f"probability {p}).",
            suggestion=None, source="judge",
        )

    def _driving_sentence(self, draft: str, head_name: str, label: str) -> tuple[int, int] | None:
        """The sentence whose own words score highest for ``label`` against the other labels."""
        head = self.file.heads[head_name]
        k = head.classes.index(label)
        best: tuple[float, tuple[int, int]] | None = None
        for start, end in sentences(draft):
            tokens = words(draft[start:end])
            grams = tokens + [" ".join(tokens[i:i + 2]) for i in range(len(tokens) - 1)]
            grams += [" ".join(tokens[i:i + 3]) for i in range(len(tokens) - 2)]
            scores = head.scores(hashed({"reply": grams}, self.file.bits))
            margin = scores[k] - max(s for j, s in enumerate(scores) if j != k) if len(scores) > 1 else scores[k]
            if best is None or margin > best[0]:
                best = (margin, (start, end))
        return best[1] if best else None


@lru_cache(maxsize=4)
def get(path: Path) -> Judge:
    """The judge in ``path``, read once per process (raises :class:`JudgeFileError`)."""
    return Judge(load(path), name=path.name)


def _span(draft: str, where: tuple[int, int]) -> Span:
    start, end = where
    return Span(start=start, end=end, text=draft[start:end])
