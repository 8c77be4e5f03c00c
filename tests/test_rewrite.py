"""The verified rewrite: rules on the rewrite, facts kept, nothing new promised, bounded re-asks, honest status."""

from __future__ import annotations

import pytest
from fake_llm import FakeLLM, model_answer, rewrite_answer
from llm_helpers import fast_settings, phrase_rules

from reviewer import engine, rewrite, rules
from reviewer.models import Context, ReviewRequest

DRAFT = (
    "I'm sorry you feel that way about order #A-88231. The $49.99 charge on March 3 is correct; "
    "see https://example.com/orders or write to help@example.com.\n\nMaria"
)
GOOD = (
    "I'm sorry we let you down on order #A-88231. Thank you for raising it. The $49.99 charge on March 3 "
    "is correct; see https://example.com/orders or write to help@example.com.\n\nMaria"
)


@pytest.fixture(autouse=True)
def _phrase_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules, "run", phrase_rules)


def request_for(**context: object) -> ReviewRequest:
    return ReviewRequest(draft=DRAFT, customer_message="Why was I charged?", context=Context(**context))


def test_facts_of_the_draft() -> None:
    found = rewrite.facts(request_for())
    for fact in ("A-88231", "$49.99", "March 3", "https://example.com/orders", "help@example.com", "Maria"):
        assert any(fact in f for f in found), fact
    plain = ReviewRequest(draft="Sorry about the delay, Sam.\nThanks")
    assert rewrite.facts(plain) == ["Sam"]  # a closing "Thanks" is not a name


def test_a_good_rewrite_has_no_problems() -> None:
    assert rewrite.problems(request_for(), GOOD, ["no-fake-apology", "thanks-customer"]) == []


def test_dropping_the_order_number_is_a_problem() -> None:
    problems = rewrite.problems(request_for(), GOOD.replace("order #A-88231", "your order"), [])
    assert problems == ['it drops "#A-88231" from the draft; keep it exactly']


def test_inventing_a_refund_amount_or_deadline_is_a_problem_unless_allowed() -> None:
    invented = GOOD + " We will refund $10 within 3 business days."
    problems = rewrite.problems(request_for(), invented, [])
    assert any('"refund"' in p for p in problems)
    assert any('"$10"' in p for p in problems)
    assert any('"within 3 business days"' in p for p in problems)
    allowed = rewrite.problems(request_for(allowed_remedies=["refund of $10 within 3 business days"]), invented, [])
    assert allowed == []
    assert rewrite.problems(request_for(), GOOD + " We can offer [remedy].", []) == []


def test_a_rule_error_in_the_rewrite_is_a_problem() -> None:
    problems = rewrite.problems(request_for(), GOOD + " I'm sorry you feel that way.", [])
    assert problems == ['no-fake-apology ("sorry you feel that way"): '
                        "Apologises for the customer's feelings, not the failure."]
    still_unthanked = rewrite.problems(request_for(), GOOD.replace("Thank you for raising it. ", ""),
                                       ["thanks-customer"])
    assert any(p.startswith("thanks-customer still fails") for p in still_unthanked)


async def test_rewrite_keeping_the_fake_apology_is_reasked_then_verified(fake_llm: FakeLLM) -> None:
    fake_llm.script(model_answer(DRAFT, statuses={"no-fake-apology": "fail"}, rewrite=DRAFT + " Thanks."),
                    rewrite_answer(GOOD))
    review = await engine.areview(request_for(), fast_settings(fake_llm))
    assert review.rewrite is not None
    assert (review.rewrite.status, review.rewrite.attempts, review.rewrite.text) == ("verified", 2, GOOD)
    fix = fake_llm.chat_requests[1].messages
    assert len(fix) == 4 and fix[2]["role"] == "assistant"
    assert "Apologises for the customer's feelings" in fix[3]["content"]  # the exact problem, from the rules
    assert '{"rewrite"' in fix[3]["content"]


async def test_rewrite_that_never_gets_fixed_gives_way_to_the_verified_repair(fake_llm: FakeLLM) -> None:
    still_bad = DRAFT + " Thanks."
    fake_llm.script(model_answer(DRAFT, rewrite=still_bad), rewrite_answer(still_bad), rewrite_answer(still_bad))
    review = await engine.areview(request_for(), fast_settings(fake_llm, max_rewrite_reasks=2))
    assert len(fake_llm.chat_requests) == 3
    sizes = [len(r.messages) for r in fake_llm.chat_requests]
    assert sizes == [2, 4, 4]  # bounded: only the latest rewrite and its problems
    # the model's rewrite still fails after every re-ask: the verified repair is returned, saying why
    assert review.rewrite is not None and review.rewrite.source == "repair" and review.rewrite.status == "verified"
    assert review.rewrite.text == engine.check(request_for()).rewrite.text  # type: ignore[union-attr]
    assert "the model's rewrite failed checks" in review.rewrite.reason and "sorry you feel" in review.rewrite.reason


async def test_rewrite_dropping_the_order_number_or_inventing_a_refund(fake_llm: FakeLLM) -> None:
    dropped = GOOD.replace("order #A-88231", "your order")
    refund = GOOD + " We'll refund you today."
    fake_llm.script(model_answer(DRAFT, rewrite=dropped), rewrite_answer(refund))
    review = await engine.areview(request_for(), fast_settings(fake_llm, max_rewrite_reasks=1))
    assert 'drops "#A-88231"' in fake_llm.chat_requests[1].messages[3]["content"]
    # still wrong after the re-ask: the verified repair is returned, and the reason names the invented promises
    assert review.rewrite is not None and review.rewrite.source == "repair" and review.rewrite.status == "verified"
    assert '"refund"' in review.rewrite.reason and '"today"' in review.rewrite.reason


async def test_a_failing_rewrite_reask_keeps_the_rewrite_unverified(fake_llm: FakeLLM) -> None:
    fake_llm.script(model_answer(DRAFT, rewrite=DRAFT), 500, 500, 500)
    review = await engine.areview(request_for(), fast_settings(fake_llm))
    assert not review.engine.degraded  # the review itself came back
    assert review.rewrite is not None and review.rewrite.source == "repair" and review.rewrite.status == "verified"
    assert "could not get a corrected rewrite" in review.rewrite.reason


def test_a_rewrite_adding_a_hedged_apology_is_a_problem_with_the_real_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the real rules engine
    request = ReviewRequest(draft="I'm sorry we lost order #5521. Thank you for telling us.")
    worse = "I'm sorry we lost order #5521. Apologies for any inconvenience. Thank you for telling us."
    problems = rewrite.problems(request, worse, [])
    assert problems and problems[0].startswith("no-fake-apology")
    assert rewrite.problems(request, request.draft, []) == []


def test_remedy_words_in_ordinary_phrases_are_not_promises() -> None:
    request = ReviewRequest(draft="Sorry about order #1234.")
    for harmless in ("Feel free to reply about order #1234.", "Your credit card was charged for order #1234.",
                     "Call our toll-free line about order #1234."):
        assert rewrite.new_promises(request, harmless) == [], harmless
    for promise in ("A free gift for order #1234.", "We will credit your account for order #1234.",
                    "A free-of-charge repair for order #1234.", "A replacement for order #1234 ships tomorrow."):
        assert rewrite.new_promises(request, promise), promise


def test_a_remedy_the_draft_denied_is_not_an_allowed_one() -> None:
    denied = ReviewRequest(draft="Unfortunately we can't offer a refund on order #9001, as all sales are final.")
    promised = "I'm sorry about order #9001. We will provide you with a refund."
    assert any('"refund"' in p for p in rewrite.new_promises(denied, promised))
    honest = "I'm sorry about order #9001. We can't offer a refund, as all sales are final."
    assert rewrite.new_promises(denied, honest) == []
    offered = ReviewRequest(draft="We'll refund order #9001.")
    assert rewrite.new_promises(offered, "I'm sorry: we will refund order #9001.") == []
    allowed = ReviewRequest(draft="We can't refund order #9001.", context=Context(allowed_remedies=["refund"]))
    assert rewrite.new_promises(allowed, "We will refund order #9001.") == []


def test_phone_numbers_are_facts_and_new_contact_details_are_problems() -> None:
    request = ReviewRequest(draft="Sorry about that! Call us on 0800 123 4567 or use https://help.example.com/chat.")
    assert "0800 123 4567" in rewrite.facts(request)
    kept = "I'm sorry we let you down. Call us on 0800 123 4567 or use https://help.example.com/chat today."
    assert not any("contact detail" in p or "drops" in p for p in rewrite.problems(request, kept, []))
    changed = kept.replace("0800 123 4567", "0800 123 9999")
    assert 'it drops "0800 123 4567" from the draft; keep it exactly' in rewrite.problems(request, changed, [])
    invented = kept + " Or ring +1 (800) 555-0199, or e-mail vip@example.com, or see https://other.example.com."
    added = [p for p in rewrite.problems(request, invented, []) if "contact detail" in p]
    assert len(added) == 3 and all(x in " ".join(added) for x in ("555-0199", "vip@example.com", "other.example.com"))


@pytest.mark.parametrize("text", ["Sizes 10 12 14 16 are in stock.", "It takes 3-5 business days.",
                                  "Order 112-1234567-1234567 shipped on 12.10.2023.", "Refund of $1,234.56 sent."])
def test_digit_groups_that_are_not_phone_numbers(text: str) -> None:
    assert rewrite._phones(text) == []
