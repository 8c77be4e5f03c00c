"""The service as it runs: a real ``reviewer serve`` process on 127.0.0.1, rules-only, hit with httpx.

Model-backed behaviour (degraded reviews, 503 under load) is in test_service_model.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from service_server import ServiceProcess, free_port

from reviewer.models import Review
from reviewer.rubric import CRITERIA

KEYS = ("key-old-0123456789", "key-new-9876543210")
AUTH = {"Authorization": f"Bearer {KEYS[1]}"}
# Unique words that must never reach the logs unless REVIEWER_LOG_CONTENT=1.
DRAFT_MARKER = "Zanzibar-draft-7Q"
CUSTOMER_MARKER = "Quetzal-customer-4K"
PRIVATE = {
    "draft": f"I'm sorry you feel that way, {DRAFT_MARKER}. Per our policy there is nothing we can do.",
    "customer_message": f"My order never arrived and nobody answers, {CUSTOMER_MARKER}!",
}
V1_ROUTES = [
    ("POST", "/v1/reviews", {"draft": "Thanks for waiting."}),
    ("POST", "/v1/check", {"draft": "Thanks for waiting."}),
    ("POST", "/v1/reviews/batch", {"requests": [{"draft": "Thanks for waiting."}]}),
    ("GET", "/v1/criteria", None),
    ("GET", "/v1/prompts", None),
]


@pytest.fixture(scope="module")
def keyed() -> Iterator[ServiceProcess]:
    """Rules-only, two API keys (as during a rotation), content logging off."""
    with ServiceProcess(["--rules-only"], env={"REVIEWER_API_KEYS": ",".join(KEYS)}) as server:
        yield server


@pytest.fixture(scope="module")
def open_server() -> Iterator[ServiceProcess]:
    """No keys (so loopback only), two workers (settings reach them through the environment), content logged."""
    with ServiceProcess(["--rules-only", "--workers", "2"], env={"REVIEWER_LOG_CONTENT": "1"}) as server:
        yield server


@pytest.fixture(scope="module")
def client(keyed: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=keyed.url, timeout=10.0) as c:
        yield c


def assert_error(response: httpx.Response, status: int, code: str, field: str | None = None) -> dict[str, object]:
    """The one error shape, with no traceback in it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "field"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert error["field"] == field
    assert "Traceback" not in response.text
    assert response.headers.get("x-request-id")
    return dict(error)


def log_records(server: ServiceProcess) -> list[dict[str, object]]:
    """Every line the process wrote (up to a barrier request), parsed: each one must be a JSON object."""
    records = []
    for line in server.barrier().splitlines():
        if line.strip():
            record = json.loads(line)
            assert isinstance(record, dict), line
            records.append(record)
    return records


# -- open routes -------------------------------------------------------------------------------


def test_healthz_and_readyz_need_no_key(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["mode"] == "rules"


def test_openapi_and_docs_are_served(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/v1/reviews", "/v1/check", "/v1/reviews/batch", "/v1/criteria", "/v1/prompts"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["BearerKey"]["scheme"] == "bearer"
    for path, operations in spec["paths"].items():  # the spec says which routes need the key
        for operation in operations.values():
            assert ("security" in operation) is path.startswith("/v1/"), path
    assert "422" in spec["paths"]["/v1/check"]["post"]["responses"]
    assert spec["paths"]["/v1/check"]["post"]["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"
    }
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


# -- auth --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), V1_ROUTES)
def test_every_v1_route_needs_a_valid_key(client: httpx.Client, method: str, path: str, body: object) -> None:
    missing = client.request(method, path, json=body)
    assert_error(missing, 401, "unauthorized")
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = client.request(method, path, json=body, headers={"Authorization": "Bearer key-new-987654321"})
    assert_error(wrong, 401, "unauthorized")
    basic = client.request(method, path, json=body, headers={"Authorization": f"Basic {KEYS[1]}"})
    assert_error(basic, 401, "unauthorized")
    for key in KEYS:  # both keys of a rotation work
        ok = client.request(method, path, json=body, headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200, ok.text


def test_without_keys_v1_is_open_on_loopback_and_says_so(open_server: ServiceProcess) -> None:
    response = httpx.post(f"{open_server.url}/v1/check", json={"draft": "Thanks for your patience."})
    assert response.status_code == 200
    Review.model_validate(response.json())
    warnings = [r for r in log_records(open_server) if "authentication is off" in str(r.get("msg"))]
    assert warnings and "loopback only" in str(warnings[0]["msg"])


def test_refuses_a_public_interface_without_keys() -> None:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("REVIEWER_")}
    result = subprocess.run(
        [sys.executable, "-m", "reviewer", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("reviewer: error: refusing to listen on 0.0.0.0 without API keys")
    assert "--insecure-no-auth" in lines[0]


# -- the review routes ------------------------------------------------------------------------


def test_check_and_review_return_a_review(client: httpx.Client) -> None:
    for path in ("/v1/check", "/v1/reviews"):
        response = client.post(path, json=PRIVATE, headers=AUTH)
        assert response.status_code == 200, response.text
        review = Review.model_validate(response.json())
        assert review.engine.mode == "rules"
        assert review.engine.degraded is False
        assert [c.id for c in review.criteria] == [c.id for c in CRITERIA]


def test_batch_keeps_the_order_of_the_requests(client: httpx.Client) -> None:
    drafts = [
        "I'm sorry you feel that way.",
        "Thank you for telling us. I'm sorry we charged you twice; I refunded it today.",
        "Calm down. That is not our problem.",
        "Thanks for your patience. Your replacement ships tomorrow; reply here if anything is wrong.",
    ]
    response = client.post("/v1/reviews/batch", json={"requests": [{"draft": d} for d in drafts]}, headers=AUTH)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [item["index"] for item in results] == list(range(len(drafts)))
    for draft, item in zip(drafts, results, strict=True):
        assert item["error"] is None
        alone = client.post("/v1/check", json={"draft": draft}, headers=AUTH).json()
        got = Review.model_validate(item["review"])
        assert got.verdict == alone["verdict"]
        assert [f.model_dump() for f in got.findings] == alone["findings"]
        for finding in got.findings:  # every span points into *this* item's draft
            if finding.span is not None and finding.span.source == "draft":
                assert draft[finding.span.start : finding.span.end] == finding.span.text


def test_criteria_is_the_rubric(client: httpx.Client) -> None:
    body = client.get("/v1/criteria", headers=AUTH).json()
    assert [c["id"] for c in body["criteria"]] == [c.id for c in CRITERIA]
    assert [c["weight"] for c in body["criteria"]] == [c.weight for c in CRITERIA]
    assert {c["id"] for c in body["criteria"] if c["gating"]} == {c.id for c in CRITERIA if c.weight >= 2}


def test_prompts_lists_versions_and_hashes(client: httpx.Client) -> None:
    body = client.get("/v1/prompts", headers=AUTH).json()
    assert body["default"] == "review@v1"
    assert body["available"] is True, body
    refs = {p["ref"]: p for p in body["prompts"]}
    assert "review@v1" in refs
    assert re.fullmatch(r"[0-9a-f]{64}", refs["review@v1"]["sha256"])


# -- errors ------------------------------------------------------------------------------------


def test_unknown_route_is_404(client: httpx.Client) -> None:
    assert_error(client.get("/v1/nothing-here", headers=AUTH), 404, "not_found")
    assert_error(client.post("/v1/reviews/", json={}, headers=AUTH), 404, "not_found")


def test_wrong_method_is_405_with_allow(client: httpx.Client) -> None:
    response = client.put("/v1/check", json={"draft": "x"}, headers=AUTH)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"
    assert_error(client.post("/healthz"), 405, "method_not_allowed")


def test_invalid_json_is_422(client: httpx.Client) -> None:
    response = client.post(
        "/v1/check", content=b'{"draft": "unterminated', headers={**AUTH, "content-type": "application/json"}
    )
    error = assert_error(response, 422, "invalid_request")
    assert "JSON" in str(error["message"])
    as_json = {**AUTH, "content-type": "application/json"}
    not_utf8 = client.post("/v1/reviews", content=b'{"draft": "\xff\xfe"}', headers=as_json)
    assert_error(not_utf8, 422, "invalid_request")
    no_type = client.post("/v1/check", content=b'{"draft": "Thanks."}', headers=AUTH)
    assert "JSON" in str(assert_error(no_type, 422, "invalid_request")["message"])
    batch_not_utf8 = client.post("/v1/reviews/batch", content=b'{"requests": [{"draft": "\xff"}]}', headers=as_json)
    assert_error(batch_not_utf8, 422, "invalid_request")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "draft"),
        ({"draft": "   "}, "draft"),
        ({"draft": 42}, "draft"),
        ({"draft": "x" * 20_001}, "draft"),
        ({"draft": "Hello", "surprise": 1}, "surprise"),
        ({"draft": "Hello", "context": {"channel": "pigeon"}}, "context.channel"),
        ([], None),
    ],
)
def test_invalid_fields_are_422_naming_the_field(client: httpx.Client, body: object, field: str | None) -> None:
    assert_error(client.post("/v1/check", json=body, headers=AUTH), 422, "invalid_request", field)


def test_batch_limits_are_422(client: httpx.Client) -> None:
    too_many = {"requests": [{"draft": "Thanks."}] * 51}
    assert_error(client.post("/v1/reviews/batch", json=too_many, headers=AUTH), 422, "invalid_request", "requests")
    empty: dict[str, list[object]] = {"requests": []}
    assert_error(client.post("/v1/reviews/batch", json=empty, headers=AUTH), 422, "invalid_request", "requests")
    bad_item = {"requests": [{"draft": "Thanks."}, {"draft": "Fine."}, {"draft": ""}]}
    assert_error(
        client.post("/v1/reviews/batch", json=bad_item, headers=AUTH), 422, "invalid_request", "requests.2.draft"
    )


def test_body_over_the_limit_is_413_with_content_length(client: httpx.Client) -> None:
    big = json.dumps({"draft": "a" * (64 * 1024 + 10)}).encode()
    response = client.post("/v1/check", content=big, headers={**AUTH, "content-type": "application/json"})
    assert_error(response, 413, "payload_too_large")


def test_body_over_the_limit_is_413_when_streamed_without_length(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"draft": "'
        for _ in range(80):
            yield b"a" * 1024
        yield b'"}'

    response = client.post("/v1/check", content=chunks(), headers={**AUTH, "content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_error(response, 413, "payload_too_large")
    # A streamed body under the limit is read in full and reviewed.
    small = iter([b'{"draft": "', b"Thanks for waiting.", b'"}'])
    ok = client.post("/v1/check", content=small, headers={**AUTH, "content-type": "application/json"})
    assert ok.status_code == 200, ok.text


# -- request ids, metrics, logs ----------------------------------------------------------------


def test_request_id_is_kept_or_generated_on_every_response(client: httpx.Client) -> None:
    kept = client.post("/v1/check", json={"draft": "Thanks."}, headers={**AUTH, "X-Request-ID": "abc-123.x"})
    assert kept.headers["x-request-id"] == "abc-123.x"
    generated = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    assert generated.headers["x-request-id"] != client.get("/healthz").headers["x-request-id"]
    for response in (
        client.get("/v1/criteria"),  # 401
        client.get("/nope", headers={"X-Request-ID": "req-404"}),
        client.post("/v1/check", json={}, headers={**AUTH, "X-Request-ID": "req-422"}),
    ):
        assert response.status_code >= 400
        assert response.headers["x-request-id"]
    assert client.get("/nope", headers={"X-Request-ID": "req-404"}).headers["x-request-id"] == "req-404"
    # A header that could forge log lines is replaced, not echoed.
    hostile = client.get("/healthz", headers={"X-Request-ID": 'x" "level": "error'})
    assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["x-request-id"])


def test_metrics_count_requests_by_route_and_status(client: httpx.Client) -> None:
    client.post("/v1/check", json={"draft": "Thanks."}, headers=AUTH)
    client.post("/v1/check", json={}, headers=AUTH)
    client.get("/no/such/route/12345")
    text = client.get("/metrics").text
    assert re.search(r'reviewer_http_requests_total\{method="POST",route="/v1/check",status="200"\} [1-9]', text)
    assert re.search(r'reviewer_http_requests_total\{method="POST",route="/v1/check",status="422"\} [1-9]', text)
    assert re.search(r'reviewer_http_requests_total\{method="GET",route="unmatched",status="404"\} [1-9]', text)
    assert "/no/such/route" not in text  # raw paths never become labels
    assert 'reviewer_http_request_duration_seconds_bucket{le="0.01",route="/v1/check"}' in text
    assert re.search(r'reviewer_reviews_total\{mode="rules",verdict="\w+"\} [1-9]', text)
    for name in ("reviewer_llm_attempts_total", "reviewer_llm_reasks_total", "reviewer_llm_fallbacks_total",
                 "reviewer_degraded_reviews_total"):
        assert f"{name} 0.0" in text  # exported (and zero: no model here)


def test_logs_are_json_lines_without_customer_text(client: httpx.Client, keyed: ServiceProcess) -> None:
    rid = "log-check-1"
    for path in ("/v1/check", "/v1/reviews"):
        assert client.post(path, json=PRIVATE, headers={**AUTH, "X-Request-ID": rid}).status_code == 200
    batch = {"requests": [PRIVATE, PRIVATE]}
    assert client.post("/v1/reviews/batch", json=batch, headers={**AUTH, "X-Request-ID": rid}).status_code == 200
    # Invalid and oversized bodies that contain the text must not leak it through error logging either.
    client.post("/v1/check", json={**PRIVATE, "extra": True}, headers=AUTH)
    client.post("/v1/check", json={"draft": DRAFT_MARKER * 5000}, headers=AUTH)
    records = log_records(keyed)
    ours = [r for r in records if r.get("request_id") == rid]
    assert {r["route"] for r in ours} == {"/v1/check", "/v1/reviews", "/v1/reviews/batch"}
    for record in ours:
        assert record["status"] == 200
        assert isinstance(record["latency_ms"], float | int)
        assert "content" not in record
    assert {r["verdict"] for r in ours if r["route"] != "/v1/reviews/batch"} <= {"send", "revise", "block"}
    assert all("degraded" in r for r in ours)
    text = keyed.logs()
    assert DRAFT_MARKER not in text
    assert CUSTOMER_MARKER not in text


def test_log_content_flag_puts_the_texts_in_the_logs(open_server: ServiceProcess) -> None:
    """The positive control for the test above: the marker *is* found when logging content is on."""
    response = httpx.post(f"{open_server.url}/v1/check", json=PRIVATE, headers={"X-Request-ID": "content-1"})
    assert response.status_code == 200
    record = next(r for r in log_records(open_server) if r.get("request_id") == "content-1")
    assert isinstance(record["content"], dict)
    assert DRAFT_MARKER in str(record["content"]["draft"])
    assert CUSTOMER_MARKER in str(record["content"]["customer_message"])


# -- the container's command -------------------------------------------------------------------


DOCKERFILE = Path(__file__).resolve().parent.parent / "Dockerfile"


def test_dockerfile_command_serves_on_all_interfaces_with_keys() -> None:
    """Run what the image runs (`reviewer serve --host 0.0.0.0`, keys from the environment) and its HEALTHCHECK."""
    text = DOCKERFILE.read_text()
    assert re.search(r'^CMD \["reviewer", "serve", "--host", "0.0.0.0"', text, re.MULTILINE)
    assert re.search(r"^USER (?!root)\w+", text, re.MULTILINE)
    healthcheck = re.search(r'^HEALTHCHECK .*CMD \["python", "-c", "(.+)"\]$', text, re.MULTILINE)
    assert healthcheck, "HEALTHCHECK with python -c not found"
    probe = healthcheck.group(1).encode().decode("unicode_escape")
    reviewer_bin = str(Path(sys.executable).with_name("reviewer"))
    with ServiceProcess(host="0.0.0.0", env={"REVIEWER_API_KEYS": "docker-key"}, command=[reviewer_bin]) as server:
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        assert httpx.post(f"{server.url}/v1/check", json={"draft": "Thanks."}).status_code == 401
        ok = httpx.post(
            f"{server.url}/v1/check", json={"draft": "Thanks."}, headers={"Authorization": "Bearer docker-key"}
        )
        assert ok.status_code == 200
        healthy = subprocess.run(
            [sys.executable, "-c", probe.replace("8080", str(server.port))], capture_output=True, timeout=30
        )
        assert healthy.returncode == 0, healthy.stderr
    unhealthy = subprocess.run(
        [sys.executable, "-c", probe.replace("8080", str(free_port()))], capture_output=True, timeout=30
    )
    assert unhealthy.returncode != 0
