"""The agents' page at ``/``: static HTML, CSS and JavaScript shipped in the package.

No build step and nothing fetched from elsewhere: the Content-Security-Policy lets the page
load only its own files and talk only to this service. The page itself is open (no API key);
it asks for a key when ``/v1/`` answers 401, and keeps it for the tab (sessionStorage).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from reviewer.service.errors import ApiError

FILES = {"page.css": "text/css; charset=utf-8", "page.js": "text/javascript; charset=utf-8"}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def _read(name: str) -> bytes:
    return resources.files("reviewer.service").joinpath("page", name).read_bytes()


def router() -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get("/")
    async def page() -> Response:
        return Response(_read("index.html"), media_type="text/html; charset=utf-8", headers=HEADERS)

    @routes.get("/page/{name}")
    async def asset(name: str) -> Response:
        if name not in FILES:
            raise ApiError(404, f"No file {name!r}.", code="not_found")
        return Response(_read(name), media_type=FILES[name], headers=HEADERS)

    return routes
