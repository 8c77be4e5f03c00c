"""One error shape for every failure: ``{"error": {"code", "message", "field"}}``.

Handlers here turn FastAPI's own errors (validation, 404, 405) into that shape,
so a client parses exactly one kind of error body whatever went wrong.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from reviewer.cpu import BudgetExceeded


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. 'invalid_request', 'unauthorized'.")
    message: str = Field(description="What is wrong, for a human.")
    field: str | None = Field(default=None, description="The offending field as a dotted path, when there is one.")


class ErrorResponse(BaseModel):
    error: ErrorBody


CODES_BY_STATUS: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    422: "invalid_request",
    429: "too_many_requests",
    431: "headers_too_large",
    500: "internal_error",
    503: "unavailable",
}


RULES_TIMEOUT = "rules_timeout"


class ApiError(Exception):
    """An error answered with the common shape; raise it from routes and dependencies."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or CODES_BY_STATUS.get(status, "error")
        self.message = message
        self.field = field
        self.headers = headers or {}


def error_payload(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def error_response(
    status: int, code: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_payload(code, message, field), status_code=status, headers=headers)


def field_path(loc: tuple[Any, ...] | list[Any]) -> str | None:
    """``("body", "requests", 3, "draft")`` -> ``"requests.3.draft"``; None for the body as a whole."""
    parts = [str(part) for part in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or None


def _validation_message(error: dict[str, Any], field: str | None) -> str:
    """A readable message that never echoes the submitted text (it may be customer data)."""
    kind = str(error.get("type", ""))
    if kind == "json_invalid":
        return "The body is not valid JSON."
    msg = str(error.get("msg", "invalid value"))
    if kind == "missing":
        return f"{field or 'body'}: field required"
    if kind == "extra_forbidden":
        return f"{field}: unknown field"
    return f"{field or 'body'}: {msg}" if field else msg


def install_error_handlers(app: FastAPI) -> None:
    """Route every framework error through the common shape."""

    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message, exc.field, exc.headers)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = list(exc.errors())
        first = errors[0] if errors else {}
        loc = first.get("loc", ())
        field = None if first.get("type") == "json_invalid" else field_path(loc)
        message = _validation_message(first, field)
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        return error_response(422, "invalid_request", message, field)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400:
            # FastAPI's only 400 here: a body it could not decode (e.g. not UTF-8). To a caller that is invalid JSON.
            return error_response(422, "invalid_request", "The body is not valid JSON (UTF-8).", None)
        code = CODES_BY_STATUS.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404:
            detail = f"No route {request.method} {request.url.path}."
        elif exc.status_code == 405:
            detail = f"Method {request.method} is not allowed on {request.url.path}."
        return error_response(exc.status_code, code, detail, None, dict(exc.headers or {}))

    async def on_rules_budget(request: Request, exc: Exception) -> JSONResponse:
        return error_response(503, RULES_TIMEOUT, f"{exc}; retry shortly.", None, {"Retry-After": "1"})

    app.add_exception_handler(BudgetExceeded, on_rules_budget)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting the common error shape for these statuses."""
    descriptions = {
        401: "Missing or invalid API key.",
        413: "Body larger than the configured limit.",
        422: "Invalid JSON or fields; `field` names the first offending one.",
        503: "Over capacity, shutting down or the rules over their time budget (see `Retry-After`), or not ready.",
    }
    return {
        status: {"model": ErrorResponse, "description": descriptions.get(status, CODES_BY_STATUS.get(status, ""))}
        for status in statuses
    }
