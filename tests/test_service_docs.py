"""`/docs` and `/redoc` work offline: their pages load only files this server serves (from fastapi-offline's wheel)."""

from __future__ import annotations

import re
from importlib import resources

import httpx
import pytest

from reviewer.config import Settings
from reviewer.service.app import create_app

# Anything that would make a browser reach another host: an absolute or protocol-relative URL anywhere in the page.
EXTERNAL = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}", re.IGNORECASE)
ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


@pytest.mark.parametrize(("page", "engine_js"), [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")])
async def test_docs_pages_reference_no_external_host(page: str, engine_js: str) -> None:
    app = create_app(Settings(api_keys=["k1"], rules_only=True))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        html = await client.get(page)  # open without a key, like /healthz
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert EXTERNAL.findall(html.text) == []
        assets = ASSET.findall(html.text)
        assert any(asset.endswith(engine_js) for asset in assets), assets
        for asset in assets:
            assert asset.startswith("/"), asset  # same origin
            served = await client.get(asset)
            assert served.status_code == 200, asset
            packaged = resources.files("fastapi_offline").joinpath("static", asset.rsplit("/", 1)[-1]).read_bytes()
            assert served.content == packaged  # the pinned package's file, byte for byte
        assert "/openapi.json" in html.text
        assert (await client.get("/openapi.json")).status_code == 200


async def test_swagger_ui_does_not_call_the_public_validator() -> None:
    app = create_app(Settings(rules_only=True))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        html = (await client.get("/docs")).text
    assert '"validatorUrl": null' in html
