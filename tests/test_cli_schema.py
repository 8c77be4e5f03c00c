"""``reviewer schema``: the JSON Schema of the public contract, usable by other tools."""

from __future__ import annotations

import json

import jsonschema
import pytest
from cli_helpers import run_cli

from reviewer.models import SCHEMA_VERSION, CriterionResult, Engine, Finding, Review, ReviewRequest, Span
from reviewer.rubric import CRITERIA

Capsys = pytest.CaptureFixture[str]


def _schemas(capsys: Capsys) -> dict[str, dict[str, object]]:
    outcome = run_cli(capsys, "schema")
    assert outcome.code == 0 and outcome.err == ""
    parsed: dict[str, dict[str, object]] = json.loads(outcome.out)
    return parsed


def _a_review() -> Review:
    draft = "I'm sorry you feel that way."
    return Review(
        verdict="block",
        score=10,
        criteria=[CriterionResult(id=c.id, status="na", explanation="-", decided=False) for c in CRITERIA],
        findings=[
            Finding(
                rule_id="fake-apology",
                criterion="no-fake-apology",
                severity="error",
                span=Span(start=0, end=len(draft) - 1, text=draft[:-1]),
                message="Fake apology.",
                suggestion="I'm sorry we got this wrong",
            )
        ],
        engine=Engine(rules_version="1"),
    )


def test_schema_prints_both_models(capsys: Capsys) -> None:
    schemas = _schemas(capsys)
    assert set(schemas) == {"ReviewRequest", "Review"}
    request, review = schemas["ReviewRequest"], schemas["Review"]
    assert request["required"] == ["draft"]
    assert request["additionalProperties"] is False
    assert set(request["properties"]) == {"draft", "customer_message", "context"}  # type: ignore[arg-type]
    assert {"schema_version", "verdict", "score", "criteria", "findings", "rewrite", "engine"} <= set(
        review["properties"]  # type: ignore[arg-type]
    )
    jsonschema.Draft202012Validator.check_schema(request)
    jsonschema.Draft202012Validator.check_schema(review)


def test_schema_accepts_real_instances_and_rejects_broken_ones(capsys: Capsys) -> None:
    schemas = _schemas(capsys)
    review = _a_review().model_dump(mode="json")
    assert review["schema_version"] == SCHEMA_VERSION
    jsonschema.validate(review, schemas["Review"])
    jsonschema.validate(ReviewRequest(draft="Hi", context={"channel": "chat"}).model_dump(mode="json"),
                        schemas["ReviewRequest"])  # fmt: skip
    for broken in ({**review, "verdict": "maybe"}, {**review, "score": 101}, {**review, "surprise": 1}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schemas["Review"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"draft": "Hi", "context": {"channel": "fax"}}, schemas["ReviewRequest"])
    enum = schemas["Review"]["$defs"]["CriterionResult"]["properties"]["id"]["enum"]  # type: ignore[index]
    assert enum == [c.id for c in CRITERIA]


@pytest.mark.parametrize("name", ["ReviewRequest", "Review"])
def test_schema_of_one_model(capsys: Capsys, name: str) -> None:
    outcome = run_cli(capsys, "schema", "--model", name)
    assert outcome.code == 0
    assert json.loads(outcome.out)["title"] == name
