"""The page's routes (in-process): served open, only its own files, a strict Content-Security-Policy.

The page's behaviour in a real browser is tested in ``test_page_browser.py``.
"""

from __future__ import annotations

import httpx

from reviewer.config import Settings
from reviewer.service.app import create_app


async def test_the_page_is_served_open_with_a_strict_content_policy() -> None:
    app = create_app(Settings(api_keys=["k1"], rules_only=True))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        page = await client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert "connect-src 'self'" in page.headers["content-security-policy"]
        for name, kind in (("page.js", "text/javascript"), ("page.css", "text/css")):
            asset = await client.get(f"/page/{name}")
            assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
        assert (await client.get("/page/../app.py")).status_code == 404
        missing = await client.get("/page/index.py")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        text = page.text + (await client.get("/page/page.js")).text + (await client.get("/page/page.css")).text
    assert "http://" not in text and "https://" not in text  # nothing fetched from elsewhere


async def test_a_listed_origin_may_call_the_api_from_a_browser_and_others_may_not() -> None:
    """REVIEWER_CORS_ORIGINS (for the composer hook): the preflight is answered before the key is asked for."""
    app = create_app(Settings(api_keys=["k1"], rules_only=True, cors_origins=["https://desk.example"]))
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        allowed = await client.options("/v1/check", headers={"Origin": "https://desk.example", **preflight})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://desk.example"
        other = await client.options("/v1/check", headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in other.headers
        keyless = await client.post("/v1/check", json={"draft": "Hi"}, headers={"Origin": "https://desk.example"})
        assert keyless.status_code == 401  # CORS lets the browser ask; the key still decides


async def test_without_listed_origins_there_are_no_cors_headers() -> None:
    app = create_app(Settings(rules_only=True))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        answer = await client.post("/v1/check", json={"draft": "Hi"}, headers={"Origin": "https://desk.example"})
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers
