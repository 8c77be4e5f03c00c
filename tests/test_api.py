"""The Python API: ``from reviewer import check, Review, ReviewRequest`` in-process, and lazy heavy parts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from cli_helpers import FAKE_APOLOGY, GOOD_DRAFT, HEAVY_MODULES

import reviewer
from reviewer import Review, ReviewRequest, check
from reviewer.config import Settings


def test_check_a_string() -> None:
    review = check(FAKE_APOLOGY)
    assert isinstance(review, Review)
    assert review.verdict == "block"
    assert review.engine.mode == "rules" and review.engine.model is None


def test_check_a_request_with_context() -> None:
    request = ReviewRequest(draft=GOOD_DRAFT, customer_message="You charged me twice!", context={"channel": "email"})
    review = check(request)
    assert review.verdict != "block"
    assert len(review.criteria) == 10


def test_check_with_customer_message_argument() -> None:
    assert check(FAKE_APOLOGY, customer_message="My parcel never came.").verdict == "block"


def test_check_refuses_an_empty_draft() -> None:
    with pytest.raises(ValueError, match="draft is empty"):
        check("   ")


def test_review_and_areview_are_exported() -> None:
    from reviewer import areview, review

    assert callable(review) and callable(areview)
    assert {"check", "review", "areview", "Review", "ReviewRequest"} <= set(reviewer.__all__)
    assert "areview" in dir(reviewer)
    with pytest.raises(AttributeError):
        _ = reviewer.no_such_name


def test_review_rules_only_is_the_rules_review() -> None:
    from reviewer import review

    settings = Settings(rules_only=True)
    assert review(ReviewRequest(draft=FAKE_APOLOGY), settings).model_dump(exclude={"engine"}) == check(
        FAKE_APOLOGY
    ).model_dump(exclude={"engine"})


async def test_areview_rules_only() -> None:
    from reviewer import areview

    result = await areview(ReviewRequest(draft=FAKE_APOLOGY), Settings(rules_only=True))
    assert result.verdict == "block" and result.engine.mode == "rules"


def test_package_import_and_check_load_nothing_heavy() -> None:
    """``import reviewer`` and a rules-only check never import litellm, FastAPI and the like."""
    code = (
        "import json, sys\n"
        "import reviewer\n"
        "from reviewer import check, review, areview, Review, ReviewRequest\n"
        f"check({FAKE_APOLOGY!r})\n"
        f"print(json.dumps(sorted(m for m in {list(HEAVY_MODULES)!r} if m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(result.stdout) == []
