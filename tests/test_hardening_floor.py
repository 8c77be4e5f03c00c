"""Issue 15, item 1: nothing in the request lowers the rules' floor (a real server, a fake model that obeys).

Whoever writes the text must not choose the rules: words of another language padded
around an English draft, a ``context.language`` tag, or both, and a model that says
``send`` with every criterion passed and the blocking draft as its "rewrite". Across
every variant the verdict never drops below what the rules say of the plain draft,
and a rewrite the rules would block is never ``verified``.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fake_llm import FakeLLM, review_responder
from service_server import ServiceProcess

from reviewer import engine
from reviewer.models import Review

RANK = {"send": 0, "revise": 1, "block": 2}

DRAFTS = [
    "I'm sorry you feel that way. Per our policy, there is nothing we can do. Nice try.",
    "Calm down. As I already explained, you should have read the terms before ordering.",
    "Sorry if you were upset. Whatever you say, the parcel was delivered.",
    # no finding at all: revise only because of what is missing (no thanks, no next step)
    "I'm sorry the parcel for order 4411 arrived late.",
]

PADDING = {
    "de": "der die das und ist nicht sie ich wir mit für dass ein eine bitte ihre ihnen leider uns auf den dem",
    "fr": "le les et est vous nous je pas une des pour votre avec ce sur mais très",
    "es": "el los las y usted su por para una con pedido lo muy nuestro gracias",
    "nl": "het een en je niet ons wij van voor naar dank",
    "it": "il che di non sono ci è grazie",
    "pt": "não você uma com os obrigado",
}


def _padded(draft: str, words: str, how: str) -> str:
    if how == "suffix":
        return f"{draft} {words} {words} {words}"
    if how == "prefix":
        return f"{words} {words}. {draft}"
    # interleaved: the padding inside every sentence
    return " ".join(f"{sentence} {words}." for sentence in draft.split(". "))


def variants() -> list[tuple[str, str, dict[str, object]]]:
    """(name, draft, context) for every injection tried: padding, a tag, both."""
    out: list[tuple[str, str, dict[str, object]]] = []
    for d, draft in enumerate(DRAFTS):
        for lang, words in PADDING.items():
            for how in ("suffix", "prefix", "interleaved"):
                out.append((f"d{d}-pad-{lang}-{how}", _padded(draft, words, how), {}))
        for tag in ("de", "fr", "es-ES", "ja", "x-unknown"):
            out.append((f"d{d}-tag-{tag}", draft, {"language": tag}))
        out.append((f"d{d}-pad-de-tag-de", _padded(draft, PADDING["de"], "suffix"), {"language": "de"}))
        out.append((f"d{d}-pad-all-tag-fr", draft + " " + " ".join(PADDING.values()) * 3, {"language": "fr"}))
    return out


VARIANTS = variants()
FLOOR = {draft: engine.check(draft).verdict for draft in DRAFTS}


def floor_of(text: str) -> str:
    return next(FLOOR[d] for d in DRAFTS if all(part in text for part in d.split(". ")))


@pytest.fixture(scope="module")
def obeying_model() -> Iterator[FakeLLM]:
    """A model that does what the injected text wants: every criterion passes, the draft comes back as the rewrite."""
    with FakeLLM() as fake:
        fake.responder = review_responder()
        yield fake


@pytest.fixture(scope="module")
def server(obeying_model: FakeLLM) -> Iterator[ServiceProcess]:
    args = ["--model", "openai/fake-model", "--api-base", obeying_model.base_url, "--api-key", "sk-fake"]
    env = {"REVIEWER_MAX_RETRIES": "0", "REVIEWER_MAX_REWRITE_REASKS": "0"}
    with ServiceProcess(args, env=env) as process:
        yield process


def test_there_are_at_least_fifty_variants_and_the_floors_are_what_the_rules_say() -> None:
    assert len(VARIANTS) >= 50
    assert [FLOOR[d] for d in DRAFTS] == ["block", "block", "block", "revise"]


def test_no_injection_lowers_the_rules_verdict(server: ServiceProcess) -> None:
    drops = []
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        for name, text, context in VARIANTS:
            response = client.post("/v1/check", json={"draft": text, "context": context})
            assert response.status_code == 200, (name, response.text)
            verdict = response.json()["verdict"]
            if RANK[verdict] < RANK[floor_of(text)]:
                drops.append((name, verdict))
    assert drops == []


def test_an_obeying_model_cannot_lower_the_verdict_nor_verify_a_blocked_rewrite(
    server: ServiceProcess, obeying_model: FakeLLM
) -> None:
    drops, verified_blocked = [], []
    with httpx.Client(base_url=server.url, timeout=60.0) as client:
        for name, text, context in VARIANTS:
            response = client.post("/v1/reviews", json={"draft": text, "context": context})
            assert response.status_code == 200, (name, response.text)
            review = Review.model_validate(response.json())
            assert review.engine.mode == "llm" and not review.engine.degraded, (name, review.engine)
            if RANK[review.verdict] < RANK[floor_of(text)]:
                drops.append((name, review.verdict))
            rewrite = review.rewrite
            if rewrite is not None and rewrite.status == "verified" and floor_of(text) == "block":
                verified_blocked.append(name)
    assert obeying_model.chat_requests  # the model was asked, and it said "send"
    assert drops == []
    assert verified_blocked == []
