"""The FastAPI app: routes over ``reviewer.engine``, nothing more.

``create_app(settings)`` builds one app with its own metrics registry;
``app_from_env()`` is the factory uvicorn workers call (settings from ``REVIEWER_*``).
The service decides nothing about a review: it validates, admits, calls the
engine, and reports.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.types import DecoratedCallable
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ValidationError

from reviewer import cpu, engine, rubric
from reviewer.config import Settings, SettingsProblem, load_settings
from reviewer.feedback.store import FeedbackStore
from reviewer.models import MAX_CUSTOMER_CHARS, MAX_DRAFT_CHARS, Review, ReviewRequest
from reviewer.service import feedback, pages
from reviewer.service.admission import Abandoned, Admission, Ticket
from reviewer.service.auth import PROTECTED_PREFIX, SCHEME_NAME, SECURITY_SCHEME
from reviewer.service.draining import on_shutdown_signal
from reviewer.service.errors import RULES_TIMEOUT, ApiError, ErrorBody, error_responses, install_error_handlers
from reviewer.service.logs import SERVICE_LOGGER
from reviewer.service.metrics import Metrics
from reviewer.service.middleware import LOG_SCOPE_KEY, ServiceMiddleware
from reviewer.service.readiness import ModelProbe
from reviewer.service.schemas import (
    BatchItem,
    BatchRequest,
    BatchResponse,
    CriteriaResponse,
    CriterionInfo,
    Health,
    PromptInfo,
    PromptsResponse,
    Ready,
)

log = logging.getLogger(SERVICE_LOGGER)

JSON = "application/json"
_BODY_ERRORS = error_responses(413, 422)


def _json(model: Any, status_code: int = 200) -> Response:
    """Serialise with pydantic directly: the models are already valid, re-validating them is wasted time."""
    return Response(model.model_dump_json(), status_code=status_code, media_type=JSON)


# /v1/check and /v1/reviews parse their body in one pydantic pass (model_validate_json) instead of FastAPI's
# generic body handling: a measurable share of a rules check's cost. The spec still names the schema.
REVIEW_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReviewRequest"}}},
    }
}


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


BATCH_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchRequest"}}},
    }
}

BodyT = TypeVar("BodyT", bound=BaseModel)


async def read_body(request: Request, model: type[BodyT]) -> BodyT:
    """The body as ``model``, parsed by pydantic's JSON parser (the same on every route, so a lone surrogate
    or any other JSON oddity gets the same answer everywhere); errors become FastAPI's 422 shape."""
    body = await request.body()
    if not _is_json(request.headers.get("content-type")):
        raise ApiError(422, "Send the body as JSON with 'Content-Type: application/json'.", code="invalid_request")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_input=False)]
        raise RequestValidationError(errors) from None


async def read_review_request(request: Request) -> ReviewRequest:
    return await read_body(request, ReviewRequest)


def running_limit(settings: Settings, model: str | None) -> int:
    """Model-backed reviews run at once: as configured, else 1 for the embedded model.

    The embedded model's server answers one request at a time; reviews sent to it together
    would wait there with their deadlines running and come back degraded. Held here instead,
    they wait in the admission queue (bounded, 503 beyond it) and get the model's full time.
    """
    from reviewer import local

    if "max_concurrency" in settings.model_fields_set or model is None or not local.is_local(model):
        return settings.max_concurrency
    return local.SLOTS


class Service:
    """The per-app state the routes share: settings, resolved model, admission, metrics, readiness probe."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.model = engine.plan(settings).model
        self.metrics = Metrics()
        self.admission = Admission(
            running_limit(settings, self.model),
            settings.queue_limit,
            self.metrics,
            deadline_s=settings.deadline_s,
        )
        self.probe = ModelProbe(settings.api_base)
        self.prompt_catalogue: PromptsResponse | None = None
        self.store = FeedbackStore(settings.db) if settings.db else None

    async def prompts(self) -> PromptsResponse:
        if self.prompt_catalogue is None:
            self.prompt_catalogue = await asyncio.to_thread(load_prompt_catalogue, self.settings.prompt)
        return self.prompt_catalogue

    def note(self, request: Request, review_request: ReviewRequest | None, review: Review | None) -> None:
        """Add what the access log may say about this review (content only when allowed)."""
        entry: dict[str, Any] = request.scope.setdefault(LOG_SCOPE_KEY, {})
        if review is not None:
            entry["verdict"] = review.verdict
            entry["degraded"] = review.engine.degraded
            entry["mode"] = review.engine.mode
        if self.settings.log_content and review_request is not None:
            entry["content"] = {"draft": review_request.draft, "customer_message": review_request.customer_message}

    async def full_review(self, review_request: ReviewRequest, ticket: Ticket) -> Review:
        """One full review; model-backed ones hold a concurrency slot while they run (see ``Admission``)."""
        if self.model is None:
            review = await engine.areview(review_request, self.settings)
        else:
            async with self.admission.slot(ticket):
                try:
                    review = await self.admission.unless_abandoned(engine.areview(review_request, self.settings))
                except Abandoned:
                    review = await engine.acheck(review_request, self.settings)
                    review.engine.degraded = True
                    review.engine.degraded_reason = "the server is shutting down: the model call was given up"
        self.metrics.observe_review(review)
        return review

    async def batch_item(self, index: int, review_request: ReviewRequest, ticket: Ticket) -> BatchItem:
        """One item of a batch: an unexpected exception becomes this item's error, not the batch's."""
        try:
            return BatchItem(index=index, review=await self.full_review(review_request, ticket))
        except asyncio.CancelledError:
            raise
        except ApiError as exc:  # e.g. no slot within the deadline: this item is refused, the others go on
            return BatchItem(index=index, error=ErrorBody(code=exc.code, message=exc.message))
        except cpu.BudgetExceeded as exc:
            return BatchItem(index=index, error=ErrorBody(code=RULES_TIMEOUT, message=f"{exc}; retry shortly."))
        except Exception as exc:
            self.metrics.review_errors.inc()
            log.error("batch item failed", extra={"item": index, "exc_type": type(exc).__name__})
            return BatchItem(
                index=index, error=ErrorBody(code="review_failed", message="This item could not be reviewed.")
            )

    def begin_drain(self) -> None:
        """SIGTERM: refuse what waits, let what runs finish within ``drain_s`` (model calls given up just before)."""
        if self.admission.draining:
            return
        self.admission.drain()
        give_up_in = max(0.0, self.settings.drain_s - ABANDON_MARGIN_S)
        asyncio.get_running_loop().call_later(give_up_in, self.admission.abandon)
        log.info("draining", extra={"running": self.admission.pending, "drain_s": self.settings.drain_s})


# Running reviews' model calls are given up this long before the drain period ends, so their (degraded)
# answers are written before uvicorn closes what is left.
ABANDON_MARGIN_S = 1.5


def load_prompt_catalogue(default: str) -> PromptsResponse:
    """Prompt versions and hashes from ``reviewer.prompts``; an empty, unavailable list when it cannot load.

    Reads files, so it runs once (at startup, or in a thread), never per request on the event loop.
    """
    try:
        prompts: Any = importlib.import_module("reviewer.prompts")
        lock = prompts.read_lock() if hasattr(prompts, "read_lock") else None
        items = [
            PromptInfo(
                ref=f"{p.id}@{p.version}",
                id=str(p.id),
                version=str(p.version),
                sha256=str(p.sha256),
                description=getattr(p, "description", None),
                lock=prompts.lock_status(p, lock) if lock is not None else None,
            )
            for p in prompts.available()
        ]
    except Exception as exc:  # a missing or broken catalogue must not take the endpoint down
        log.warning("prompt catalogue unavailable", extra={"exc_type": type(exc).__name__})
        return PromptsResponse(default=default, prompts=[], available=False, detail=type(exc).__name__)
    return PromptsResponse(default=default, prompts=items, available=True)


# "Not blank" as the draft validator means it (str.strip() also removes \x1c-\x1f and \x85, which JSON
# Schema's \s does not match): at least one character outside all of them, stated conservatively.
_NOT_BLANK = r"[^\s\x1c-\x1f\x85]"


def document_spec(spec: dict[str, Any], keys_required: bool) -> dict[str, Any]:
    """Add to FastAPI's spec what it can't see: the API-key scheme (enforced in the middleware) and the
    limits ``ReviewRequest``'s validators enforce, so clients (and fuzzers) know them."""
    if keys_required:
        spec.setdefault("components", {}).setdefault("securitySchemes", {})[SCHEME_NAME] = SECURITY_SCHEME
        for path, operations in spec.get("paths", {}).items():
            if path.startswith(PROTECTED_PREFIX):
                for operation in operations.values():
                    operation["security"] = [{SCHEME_NAME: []}]
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for model in (ReviewRequest, BatchRequest):  # the bodies the routes parse themselves (see read_body)
        if model.__name__ not in schemas:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, definition in schema.pop("$defs", {}).items():
                schemas.setdefault(name, definition)
            schemas[model.__name__] = schema
    properties = schemas["ReviewRequest"].get("properties", {})
    if "draft" in properties:
        properties["draft"].update(minLength=1, maxLength=MAX_DRAFT_CHARS, pattern=_NOT_BLANK)
    for branch in properties.get("customer_message", {}).get("anyOf", []):
        if branch.get("type") == "string":
            branch["maxLength"] = MAX_CUSTOMER_CHARS
    return spec


def _warm_up(model: str | None) -> None:
    """Import the model path before serving, so the first request does not import litellm on the event loop."""
    if model is None:
        return
    for name in ("litellm", "reviewer.llm"):
        try:
            importlib.import_module(name)
        except ImportError:
            continue


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    service = Service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _warm_up(service.model)
        service.prompt_catalogue = load_prompt_catalogue(settings.prompt)
        restore_signals = on_shutdown_signal(service.begin_drain)
        if settings.cpu_processes and not await cpu.use_processes():
            log.warning("rules worker processes could not start; long drafts are checked on threads")
        log.info(
            "service ready",
            extra={
                "mode": "llm" if service.model else "rules",
                "model": service.model,
                "auth": bool(settings.api_keys),
                "max_concurrency": service.admission.max_concurrency,
                "queue_limit": settings.queue_limit,
            },
        )
        try:
            yield
        finally:
            restore_signals()
            cpu.shutdown()
            if service.store is not None:
                service.store.close()

    # /docs and /redoc from Swagger UI's and ReDoc's files inside the fastapi-offline wheel: no CDN, works offline.
    app = FastAPIOffline(
        title="reviewer",
        version="0.1.0",
        summary="Reviews a support agent's draft reply to an upset customer before it is sent.",
        lifespan=lifespan,
        redirect_slashes=False,
        # The service exports Prometheus metrics (/metrics) and JSON logs; FastAPI's built-in OpenTelemetry
        # hook would otherwise look up the global OTel providers on every request (~13 us of a 0.7 ms check).
        telemetry={"tracing": False, "metrics": False, "logs": False},
        swagger_ui_parameters={"validatorUrl": None},  # Swagger UI's default sends the spec's URL to a public validator
    )
    app.state.service = service
    install_error_handlers(app)

    v1_errors = error_responses(401) if settings.api_keys else {}

    def post_review(
        path: str, summary: str, response_model: type[BaseModel] = Review, body: dict[str, Any] = REVIEW_REQUEST_BODY
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        """A POST route that reviews: its errors (auth, body, 503 when full), its tag and its documented body."""
        return app.post(path, response_model=response_model, summary=summary, tags=["reviews"], openapi_extra=body,
                        responses={**v1_errors, **_BODY_ERRORS, **error_responses(503)})

    @post_review("/v1/reviews", "A full review: the LLM reviewer when a model is configured, else the rules engine.")
    async def create_review(request: Request) -> Response:
        review_request = await read_review_request(request)
        async with service.admission.admit(1 if service.model else 0) as ticket:
            review = await service.full_review(review_request, ticket)
        review = await feedback.remember(service.store, review_request, review)
        service.note(request, review_request, review)
        return _json(review)

    @post_review("/v1/check", "The rules engine alone: instant, deterministic, for as-you-type feedback.")
    async def check(request: Request) -> Response:
        review_request = await read_review_request(request)
        # as-you-type: the repair is /v1/reviews' job
        review = await engine.acheck(review_request, settings, rewrite=False)
        service.note(request, review_request, review)
        return _json(review)

    @post_review(
        "/v1/reviews/batch",
        "Up to 50 full reviews, run concurrently; results in request order, one failure never fails the rest.",
        BatchResponse,
        BATCH_REQUEST_BODY,
    )
    async def review_batch(request: Request) -> Response:
        batch = await read_body(request, BatchRequest)
        async with service.admission.admit(len(batch.requests) if service.model else 0) as ticket:
            results = await asyncio.gather(
                *(service.batch_item(i, r, ticket) for i, r in enumerate(batch.requests))
            )
        entry = request.scope.setdefault(LOG_SCOPE_KEY, {})
        entry["items"] = len(results)
        entry["verdicts"] = [item.review.verdict if item.review else None for item in results]
        entry["degraded"] = sum(1 for item in results if item.review and item.review.engine.degraded)
        entry["failed"] = sum(1 for item in results if item.error)
        if settings.log_content:
            entry["content"] = [{"draft": r.draft, "customer_message": r.customer_message} for r in batch.requests]
        return _json(BatchResponse(results=results))

    @app.get("/v1/criteria", response_model=CriteriaResponse, responses=v1_errors, tags=["rubric"])
    async def criteria() -> Response:
        """The rubric: the ten criteria, their weights and whether each gates the verdict."""
        items = [
            CriterionInfo(
                id=c.id, title=c.title, description=c.description, weight=c.weight, gating=rubric.is_gating(c.id)
            )
            for c in rubric.CRITERIA
        ]
        return _json(CriteriaResponse(criteria=items))

    @app.get("/v1/prompts", response_model=PromptsResponse, responses=v1_errors, tags=["rubric"])
    async def prompt_versions() -> Response:
        """The prompt versions this server ships, with their content hashes."""
        return _json(await service.prompts())

    @app.get("/healthz", response_model=Health, tags=["operations"])
    async def healthz() -> Response:
        """The process is up and answering."""
        return _json(Health())

    @app.get("/readyz", response_model=Ready, responses=error_responses(503), tags=["operations"])
    async def readyz() -> Response:
        """Ready in rules-only mode, or when the model's API base accepts connections (cached probe, never hangs)."""
        if service.admission.draining:
            raise ApiError(503, "The reviewer is shutting down.", code="shutting_down")
        if service.model is None:
            return _json(Ready(mode="rules", probe="rules-only mode: no model to reach"))
        if service.admission.full:
            raise ApiError(503, "The review queue is full.", code="overloaded",
                           headers={"Retry-After": str(service.admission.retry_after_s)})
        result = await service.probe.result()
        if not result.reachable:
            raise ApiError(503, f"The model is not reachable: {result.detail}.", code="model_unreachable")
        return _json(Ready(mode="llm", model=service.model, probe=result.detail))

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
        tags=["operations"],
    )
    async def metrics() -> Response:
        """Prometheus metrics: requests, latency, reviews, model attempts, re-asks, fallbacks, degraded reviews."""
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(feedback.router(service.store, (401,) if settings.api_keys else ()))
    app.include_router(pages.router())

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_spec(FastAPI.openapi(app), bool(settings.api_keys))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    known = [route.path for route in app.routes if hasattr(route, "path")]
    app.add_middleware(
        ServiceMiddleware,
        metrics=service.metrics,
        max_body_bytes=settings.max_body_bytes,
        known_paths=known,
        api_keys=settings.api_keys,
        insecure_no_auth=settings.insecure_no_auth,
    )
    if settings.cors_origins:  # outermost: answers a browser's preflight before the API key is asked for
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
            max_age=600,
        )
    return app


def app_from_env() -> FastAPI:
    """uvicorn factory (``reviewer.service.app:app_from_env``): settings from ``REVIEWER_*``, one app per worker.

    A bad setting is one line on stderr and exit code 2, as from the CLI; without API keys the app
    answers /v1/ on loopback addresses only (see ``ServiceMiddleware``), and says so.
    """
    try:
        settings = load_settings()
    except SettingsProblem as exc:
        print(f"reviewer: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if not settings.api_keys:
        log.warning(
            "authentication is off: no REVIEWER_API_KEYS configured; /v1/ answers on loopback only"
            if not settings.insecure_no_auth
            else "authentication is off: REVIEWER_INSECURE_NO_AUTH serves /v1/ open on every address"
        )
    return create_app(settings)
