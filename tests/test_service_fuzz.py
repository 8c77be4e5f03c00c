"""Fuzz the running service from its own OpenAPI spec: no 5xx, and every response matches the spec.

The cases are generated from the app's spec (built in-process with the same
settings) and sent over HTTP to a real ``reviewer serve`` process; a test checks
that the process serves that very spec. Bounded (a few examples per operation)
so the suite stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.case import Case
from service_server import ServiceProcess

from reviewer.config import Settings
from reviewer.service.app import create_app

KEY = "fuzz-key"
SPEC = create_app(Settings(api_keys=[KEY], rules_only=True)).openapi()

# schemathesis's default rejection statuses, plus 413: a body over the size limit is refused before it is parsed.
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
CONFIG = SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": REJECTED}}})
schema = schemathesis.openapi.from_dict(SPEC, config=CONFIG)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    db = tmp_path_factory.mktemp("fuzz") / "feedback.db"  # feedback on, so /v1/feedback is fuzzed against the store
    with ServiceProcess(["--rules-only"], env={"REVIEWER_API_KEYS": KEY, "REVIEWER_DB": str(db)}) as server:
        yield server


def test_the_process_serves_the_spec_the_cases_come_from(fuzz_server: ServiceProcess) -> None:
    assert httpx.get(f"{fuzz_server.url}/openapi.json").json() == SPEC


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_spec(case: Case[Any], fuzz_server: ServiceProcess) -> None:
    case.call_and_validate(base_url=fuzz_server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
