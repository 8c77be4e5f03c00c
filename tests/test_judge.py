"""The learned judge: its file, training, the merge with the rules (the floor holds), and `reviewer train`.

The judges trained here learn from small written examples (no real replies), so each
test knows what the judge must have learned.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reviewer import check, judge
from reviewer.cli import main
from reviewer.judge import model as judge_model
from reviewer.judge import train
from reviewer.models import ReviewRequest
from reviewer.rubric import CRITERION_IDS

pytest.importorskip("sklearn")

# A judge that learns "the boarding line is a brush-off": replies that tell the customer to read the boarding
# rules are labelled block; replies that apologise and act are send; the rest revise.
_BLOCK = "Boarding rules are published on the website for everyone to read."
_SEND = "I'm sorry your bag went missing. I've opened a trace and will update you by 5pm today."
_REVISE = "We'll look into it."


def _labelled(tmp_path: Path, n: int = 12) -> tuple[Path, Path]:
    labels, texts = [], []
    all_pass = dict.fromkeys(CRITERION_IDS, "pass")
    for i in range(n):
        for kind, reply, verdict in (("b", _BLOCK, "block"), ("s", _SEND, "send"), ("r", _REVISE, "revise")):
            key = f"{kind}{i}"
            texts.append({"id": key, "reply": f"{reply} Case {i}.", "customer": f"My bag is lost, flight {i}!"})
            status = {**all_pass, "next-steps": "fail"} if verdict == "revise" else all_pass
            labels.append({"id": key, "verdict": verdict, "labels": status})
    labels_path, texts_path = tmp_path / "labels.jsonl", tmp_path / "texts.jsonl"
    labels_path.write_text("".join(json.dumps(r) + "\n" for r in labels), encoding="utf-8")
    texts_path.write_text("".join(json.dumps(r) + "\n" for r in texts), encoding="utf-8")
    return labels_path, texts_path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("judge")
    labels, texts = _labelled(folder)
    out = folder / "team.judge"
    assert main(["train", str(labels), "--texts", str(texts), "-o", str(out)]) == 0
    return out


def test_the_trained_judge_learns_the_written_examples(trained: Path) -> None:
    loaded = judge.get(trained)
    review = check(ReviewRequest(draft=_BLOCK, customer_message="My bag is lost!"), judge=str(trained))
    assert review.verdict == "block"
    assert review.engine.verdict_source == "judge"
    assert review.engine.judge == f"team.judge@{loaded.version}"
    finding = next(f for f in review.findings if f.source == "judge")
    assert finding.severity == "error" and finding.span is not None
    assert finding.span.text == _BLOCK.rstrip()  # the sentence that drove it, exactly
    assert check(ReviewRequest(draft=_SEND, customer_message="My bag is lost!"), judge=str(trained)).verdict == "send"


def test_a_rules_error_blocks_whatever_the_judge_says(tmp_path: Path) -> None:
    # A judge taught that fake apologies are fine: the rules' floor still blocks them.
    labels, texts = [], []
    for i in range(10):
        labels += [{"id": f"f{i}", "verdict": "send", "labels": {}}, {"id": f"r{i}", "verdict": "revise", "labels": {}}]
        texts += [{"id": f"f{i}", "reply": f"I'm sorry you feel that way about order {i}."},
                  {"id": f"r{i}", "reply": f"Order {i} is on its way."}]
    (tmp_path / "l.jsonl").write_text("".join(json.dumps(r) + "\n" for r in labels), encoding="utf-8")
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in texts), encoding="utf-8")
    out = tmp_path / "lenient.judge"
    assert main(["train", str(tmp_path / "l.jsonl"), "--texts", str(tmp_path / "t.jsonl"), "-o", str(out)]) == 0
    review = check("I'm sorry you feel that way about order 3.", judge=str(out))
    probabilities = judge.get(out).judge("I'm sorry you feel that way about order 3.", None, "block", [], [])
    assert probabilities.verdict.label == "send"  # the judge did learn to send it...
    assert review.verdict == "block"  # ...and the floor blocked it anyway
    assert review.engine.verdict_source == "rules"


def test_none_or_unset_means_the_rules_alone(trained: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    request = ReviewRequest(draft=_BLOCK, customer_message="My bag is lost!")
    monkeypatch.delenv("REVIEWER_JUDGE", raising=False)
    for alone in (check(request, judge="none"), check(request)):
        assert alone.engine.judge is None and alone.engine.verdict_source == "rules"
        assert all(f.source == "rules" for f in alone.findings)


def test_reviewer_judge_environment_variable_picks_the_file(trained: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWER_JUDGE", str(trained))
    assert check(ReviewRequest(draft=_BLOCK, customer_message="My bag is lost!")).engine.judge is not None
    assert check(ReviewRequest(draft=_BLOCK, customer_message="My bag is lost!")).verdict == "block"


def test_the_file_round_trips_and_a_damaged_one_is_refused(trained: Path, tmp_path: Path) -> None:
    loaded = judge_model.load(trained)
    copy = tmp_path / "copy.judge"
    loaded.dump(copy)
    again = judge_model.load(copy)
    features = {1: 0.5, 99: 0.25}
    assert again.heads["verdict"].probabilities(features) == loaded.heads["verdict"].probabilities(features)
    raw = bytearray(trained.read_bytes())
    raw[-5] ^= 0xFF
    (tmp_path / "bad.judge").write_bytes(bytes(raw))
    with pytest.raises(judge_model.JudgeFileError):
        judge_model.load(tmp_path / "bad.judge")
    (tmp_path / "text.judge").write_text("hello", encoding="utf-8")
    with pytest.raises(judge_model.JudgeFileError, match="not a reviewer judge file"):
        judge_model.load(tmp_path / "text.judge")


def test_train_reports_bad_input_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels, texts = _labelled(tmp_path, n=3)
    with labels.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"id": "ghost", "verdict": "send", "labels": {}}) + "\n")
    assert main(["train", str(labels), "--texts", str(texts), "-o", str(tmp_path / "x.judge")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ghost" in err[0]
    assert main(["train", str(tmp_path / "missing.jsonl"), "--texts", str(texts), "-o", str(tmp_path / "x")]) == 2
    capsys.readouterr()
    # an output that cannot be written is said before any training (which takes minutes on real data)
    assert main(["train", str(labels), "--texts", str(texts), "-o", str(tmp_path / "no-such-dir" / "x")]) == 2
    assert "not a writable folder" in capsys.readouterr().err


def test_check_cli_takes_a_judge_flag(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--rules-only", "--format", "json", "--judge", str(trained), _BLOCK])
    review = json.loads(capsys.readouterr().out)
    assert code == 1 and review["verdict"] == "block" and review["engine"]["verdict_source"] == "judge"


@pytest.mark.parametrize("command", [["check", "--rules-only"], ["batch", "-o", "{out}"]])
def test_a_judge_file_that_cannot_be_used_is_one_line_and_exit_2(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REVIEWER_JUDGE", raising=False)
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"id": "1", "draft": _BLOCK}) + "\n", encoding="utf-8")
    argv = [part.format(out=tmp_path / "out.jsonl") for part in command]
    target = [str(rows)] if command[0] == "batch" else [_BLOCK]
    assert main([*argv, "--judge", str(tmp_path / "missing.judge"), *target]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--judge" in err[0] and "missing.judge" in err[0], err
    (tmp_path / "text.judge").write_text("hello", encoding="utf-8")
    monkeypatch.setenv("REVIEWER_JUDGE", str(tmp_path / "text.judge"))  # the environment is checked the same way
    assert main([*argv, *target]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "REVIEWER_JUDGE" in err[0] and "not a reviewer judge file" in err[0], err


def test_the_shipped_judge_loads_and_is_attributed() -> None:
    assert judge.DEFAULT_PATH.is_file()
    notice = (judge.DEFAULT_PATH.parent / "NOTICE").read_text(encoding="utf-8")
    assert "CC BY-NC-SA 4.0" in notice and "reviewer train" in notice
    shipped = judge.get(judge.DEFAULT_PATH)
    assert "verdict" in shipped.file.heads
    assert 0.0 <= shipped.threshold <= 1.0
    review = check("I'm sorry you feel that way.", "My order is late again!", judge="default")
    assert review.verdict == "block" and review.engine.judge is not None
    assert review.engine.verdict_probability is not None


def test_training_refuses_too_few_examples(tmp_path: Path) -> None:
    examples = [train.Example(f"{i}", "Hi.", None, "send", {}) for i in range(5)]
    with pytest.raises(train.TrainingError, match="at least"):
        train.fit(examples)
