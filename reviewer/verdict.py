"""The rubric applied: a :class:`Review` from criteria and findings, with the learned judge merged in.

Both paths end here: the rules path (:func:`reviewer.engine.check`) and the model path
(:mod:`reviewer.model_review`, after the merge). The verdict, score, reasons and summary
all come from :mod:`reviewer.rubric` and :mod:`reviewer.summary`, so none can contradict another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reviewer import rubric
from reviewer.models import CriterionResult, Engine, Finding, Review, ReviewRequest
from reviewer.summary import summarize

if TYPE_CHECKING:  # the judge is imported only when one is chosen (cold start of `reviewer check`)
    from reviewer import judge as judge_module


def build_review(
    request: ReviewRequest,
    criteria: list[CriterionResult],
    findings: list[Finding],
    engine: Engine,
    judge_choice: str | None = None,
) -> Review:
    """Turn criterion results and findings into a Review with verdict and score, the learned judge merged in.

    ``judge_choice``: see :func:`current_judge`. The judge only raises the rules' verdict
    (:func:`reviewer.rubric.strictest`); it reads ``request`` for its features.
    """
    verdict = rubric.decide_verdict(criteria, findings)
    judge = current_judge(judge_choice)
    if judge is not None:
        applied = judge.apply(request, criteria, findings, verdict)
        engine.judge = applied.name
        engine.verdict_probability = round(applied.probability, 3)
        if applied.verdict is not None and rubric.strictest(verdict, applied.verdict) != verdict:
            engine.verdict_source = "judge"
        criteria, findings = applied.criteria, applied.findings
        verdict = rubric.strictest(verdict, rubric.decide_verdict(criteria, findings))
    return Review(
        verdict=verdict,
        score=rubric.score(criteria, verdict),
        criteria=criteria,
        findings=findings,
        summary=summarize(verdict, criteria, findings),
        reasons=rubric.reasons(criteria, findings),
        criteria_by_id={c.id: c for c in criteria},
        engine=engine,
    )


def current_judge(choice: str | None = None) -> judge_module.Judge | None:
    """The learned judge to use: ``choice`` (a path, ``default`` or ``none``), else ``REVIEWER_JUDGE``; unset = none.

    Loaded once per process; none means the rules decide alone.
    """
    from reviewer import judge_choice

    path = judge_choice.resolve(choice)
    if path is None:
        return None
    from reviewer import judge as judge_module

    return judge_module.get(path)
