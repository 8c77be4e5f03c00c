"""From matches to one result per rubric criterion, saying honestly whether the rules decided it.

``decided=True``: a pattern fired, or its absence is conclusive (no thanks
anywhere means the customer was not thanked). ``decided=False``: text alone
cannot tell (is the empathy specific? is the fix concrete?), so the status is
only a fallback for a model, or a person, to settle.
"""

from __future__ import annotations

from collections.abc import Callable

from reviewer.models import CriterionId, CriterionResult, Finding, Span, Status
from reviewer.rubric import BLOCKING_CRITERIA, CRITERIA, attribute_name
from reviewer.rules.matching import Match, Matches, span_of

EARLY_SENTENCES = 2  # the apology belongs in the first two sentences of substance


def _result(cid: CriterionId, status: Status, explanation: str, evidence: list[Span] | None = None,
            decided: bool = True) -> CriterionResult:
    return CriterionResult(id=cid, status=status, explanation=explanation, evidence=evidence or [], decided=decided)


def _spans(matches: Matches, hits: list[Match]) -> list[Span]:
    return [span_of(matches.draft, m.start, m.end, "draft") for m in hits[:3]]


def _finding_spans(findings: list[Finding]) -> list[Span]:
    return [f.span for f in findings if f.span is not None][:3]


class CriterionJudge:
    """Holds one request's matches and findings and judges each criterion from them."""

    def __init__(self, matches: Matches, findings: list[Finding], real_apologies: list[Match],
                 english: bool = True) -> None:
        self.m = matches
        self.findings = findings
        self.real_apologies = real_apologies
        self.english = english

    def _failed(self, cid: CriterionId) -> CriterionResult | None:
        """``cid`` failed by its error and warning findings (the first one's message), else None."""
        problems = [f for f in self.findings if f.criterion == cid and f.severity in ("error", "warning")]
        return _result(cid, "fail", problems[0].message, _finding_spans(problems)) if problems else None

    def no_fake_apology(self) -> CriterionResult:
        if failed := self._failed("no-fake-apology"):
            return failed
        return _result("no-fake-apology", "pass", "No apology for feelings, no conditional or hedged 'any' apology.")

    def apologizes(self) -> CriterionResult:
        early = [a for a in self.real_apologies if self.m.draft.substantive_rank(a.start) <= EARLY_SENTENCES]
        if early:
            return _result("apologizes", "pass", "A real apology comes early.", _spans(self.m, early))
        if self.real_apologies:
            return _result("apologizes", "fail", "The apology comes late, after other sentences; move it to the start.",
                           _spans(self.m, self.real_apologies))
        if self.m.signal("apology"):
            return _result("apologizes", "fail", "The only apology is a fake or hedged one.")
        return _result("apologizes", "fail", "No apology for what went wrong.")

    def owns_it(self) -> CriterionResult:
        if failed := self._failed("owns-it"):
            return failed
        owned = self.m.signal("ownership")
        if owned:
            return _result("owns-it", "pass", "Takes responsibility on the company's behalf.", _spans(self.m, owned))
        return _result("owns-it", "fail", "Nothing says the failure is ours (for example 'that's on us').")

    def acknowledges_feelings(self) -> CriterionResult:
        if failed := self._failed("acknowledges-feelings"):
            return failed
        empathy = self.m.signal("empathy")
        specific = self.m.signal("empathy-specific")
        if specific:
            return _result("acknowledges-feelings", "pass",
                           "Acknowledges the customer's situation; whether it names the real impact needs a reader.",
                           _spans(self.m, empathy + specific), decided=False)
        if empathy:
            return _result("acknowledges-feelings", "fail",
                           "Only a generic 'I understand'; whether it names the real impact needs a reader.",
                           _spans(self.m, empathy), decided=False)
        return _result("acknowledges-feelings", "fail", "Nothing acknowledges why the customer is upset.")

    def stays_professional(self) -> CriterionResult:
        if failed := self._failed("stays-professional"):
            return failed
        return _result("stays-professional", "pass",
                       "No condescension, blame, flat refusal, brush-off or shouting found.")

    def understands_issue(self) -> CriterionResult:
        questions = self.m.signal("question")
        if questions:
            return _result("understands-issue", "pass", "Asks the customer a question to establish the facts.",
                           _spans(self.m, questions))
        return _result("understands-issue", "na",
                       "Asks no question; whether the facts were already clear needs a reader.", decided=False)

    def offers_solution(self) -> CriterionResult:
        remedies = self.m.signal("remedy")
        if remedies:
            return _result("offers-solution", "pass", "Names a concrete remedy.", _spans(self.m, remedies))
        gestures = self.m.signal("gesture")
        if gestures:
            return _result("offers-solution", "pass",
                           "Offers a gesture (voucher, discount); whether it fixes the real problem needs a reader.",
                           _spans(self.m, gestures), decided=False)
        refusals = [f for f in self.findings if f.rule_id in ("professional.refusal",)]
        if refusals:
            return _result("offers-solution", "fail", "Refuses without offering anything instead.",
                           _finding_spans(refusals))
        return _result("offers-solution", "fail",
                       "No remedy word (refund, replacement, resend, escalation); whether another fix is "
                       "concrete needs a reader.", decided=False)

    def next_steps(self) -> CriterionResult:
        steps = self.m.signal("step") + self.m.signal("question")
        if steps:
            return _result("next-steps", "pass", "Says what happens next (an action for the customer, or ours).",
                           _spans(self.m, steps))
        vague = self.m.signal("vague-step")
        if vague:
            return _result("next-steps", "fail", "Only a vague promise with no time; say what happens and when.",
                           _spans(self.m, vague))
        return _result("next-steps", "fail", "The customer is not told what happens next.")

    def invites_input(self) -> CriterionResult:
        invites = self.m.signal("invite")
        if invites:
            return _result("invites-input", "pass", "Asks what would put it right.", _spans(self.m, invites))
        return _result("invites-input", "na",
                       "Does not ask the customer's preference; whether the remedy was open needs a reader.",
                       decided=False)

    def thanks_customer(self) -> CriterionResult:
        thanks = self.m.signal("thanks")
        if thanks:
            return _result("thanks-customer", "pass", "Thanks the customer.", _spans(self.m, thanks))
        return _result("thanks-customer", "fail", "Does not thank the customer for raising it or for their patience.")

    def _other_language(self, cid: CriterionId) -> CriterionResult:
        """For a draft not in English the rules decide only what they can read; the rest is a model's."""
        if failed := self._failed(cid):
            return failed
        if cid == "apologizes" and self.real_apologies:
            return self.apologizes()
        if cid in BLOCKING_CRITERIA:  # failed only by something the draft does: nothing found, nothing failed
            return _result(cid, "pass", "Nothing found, but the rules read only a few phrases outside English.",
                           decided=False)
        if cid == "apologizes":
            return _result(cid, "fail", "No apology found; the rules read only a few phrases outside English.",
                           decided=False)
        return _result(cid, "na", "The draft is not in English; the rules cannot judge this criterion.",
                       decided=False)

    def all(self) -> list[CriterionResult]:
        if not self.english:
            return [self._other_language(c.id) for c in CRITERIA]
        judges: list[Callable[[], CriterionResult]] = [getattr(self, name) for name in _JUDGE_NAMES]
        return [judge() for judge in judges]


_JUDGE_NAMES = tuple(attribute_name(c.id) for c in CRITERIA)  # CriterionJudge's method for each criterion, in order
