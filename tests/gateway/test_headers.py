"""Response headers, CORS and the offline API docs, through real HTTP against a real uvicorn server."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess

import httpx
import pytest

from gateway.core.settings import Settings

ORIGIN = "https://studio.example.com"


def assert_api_headers(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert "server" not in response.headers  # no banner naming uvicorn and its version
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp


def test_json_responses_carry_the_security_headers(gateway):
    with gateway.client() as http:
        health = http.get("/healthz")
        listed = http.get("/v1/videos")
    for response in (health, listed):
        assert response.status_code == 200 and response.headers["content-type"] == "application/json"
        assert_api_headers(response)


def test_error_responses_carry_the_security_headers(gateway):
    with gateway.client() as http:
        missing = http.get("/v1/videos/video_doesnotexist")
        no_route = http.get("/v1/nothing-here")
        bad_value = http.post("/v1/videos", files={"prompt": (None, "a cat"), "seconds": (None, "many")})
    assert [missing.status_code, no_route.status_code, bad_value.status_code] == [404, 404, 400]
    for response in (missing, no_route, bad_value):
        assert "error" in response.json()
        assert_api_headers(response)


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", "Basic abc"])
def test_401_names_the_bearer_scheme(gateway, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.get(f"{gateway.base_url}/v1/videos", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["type"] == "authentication_error"
    assert_api_headers(response)


def test_405_says_which_methods_are_allowed(gateway):
    with gateway.client() as http:
        response = http.delete("/healthz")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert [m.strip() for m in response.headers["allow"].split(",")] == ["GET"]
    assert_api_headers(response)


def test_cors_is_off_by_default(gateway):
    preflight = httpx.options(f"{gateway.base_url}/v1/videos",
                              headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                       "Access-Control-Request-Headers": "authorization"})
    assert "access-control-allow-origin" not in preflight.headers
    simple = httpx.get(f"{gateway.base_url}/healthz", headers={"Origin": ORIGIN})
    assert simple.status_code == 200 and "access-control-allow-origin" not in simple.headers


def test_cors_allows_only_the_configured_origins(start_gateway, tmp_path):
    settings = Settings(data_dir=tmp_path / "data", api_keys="hm-cors-key:tenant-c",
                        cors_origins=f" {ORIGIN}/ , https://other.example.org")
    with start_gateway(settings) as base_url:
        preflight = httpx.options(f"{base_url}/v1/videos",
                                  headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                           "Access-Control-Request-Headers": "authorization, content-type"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ORIGIN
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in preflight.headers  # keys are headers, never cookies
        assert_api_headers(preflight)

        listed = httpx.get(f"{base_url}/v1/videos", headers={"Origin": ORIGIN, "Authorization": "Bearer hm-cors-key"})
        assert listed.status_code == 200
        assert listed.headers["access-control-allow-origin"] == ORIGIN
        assert "retry-after" in listed.headers["access-control-expose-headers"].lower()

        stranger = "https://evil.example.net"
        refused = httpx.options(f"{base_url}/v1/videos",
                                headers={"Origin": stranger, "Access-Control-Request-Method": "POST"})
        assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
        read = httpx.get(f"{base_url}/healthz", headers={"Origin": stranger})
        assert "access-control-allow-origin" not in read.headers


def _csp_directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def test_docs_are_served_from_local_assets_under_a_strict_csp(gateway):
    with httpx.Client(base_url=gateway.base_url) as http:
        page = http.get("/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        html = page.text
        assert "SwaggerUIBundle(" in html
        # Nothing is fetched from another host: the page names no absolute URL at all.
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.I), html

        csp = _csp_directives(page.headers["content-security-policy"])
        assert csp["default-src"] == ["'none'"]
        assert csp["style-src"] == ["'self'"] and csp["connect-src"] == ["'self'"]
        assert csp["img-src"] == ["'self'", "data:"]
        assert csp["frame-ancestors"] == ["'none'"]
        # Scripts: this origin, plus exactly the page's inline start-up script by its hash (no 'unsafe-inline').
        inline = re.findall(r"<script>(.*?)</script>", html, re.S)
        assert len(inline) == 1
        digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
        assert csp["script-src"] == ["'self'", f"'sha256-{digest}'"]
        assert page.headers["x-content-type-options"] == "nosniff" and "server" not in page.headers

        # Every asset the page references, fetched as the browser would, with a type nosniff accepts.
        expected = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css", "favicon.png": "image/png"}
        referenced = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sorted(url.rsplit("/", 1)[-1] for url in referenced) == sorted(expected)
        for url in referenced:
            assert url.startswith("/docs/assets/"), url
            asset = http.get(url)
            assert asset.status_code == 200, url
            assert asset.headers["content-type"].split(";")[0] == expected[url.rsplit("/", 1)[-1]]
            assert len(asset.content) > 1000
        assert b"SwaggerUIBundle" in http.get("/docs/assets/swagger-ui-bundle.js").content

        # The spec the page loads (same origin), and Swagger UI 5 reads OpenAPI 3.1.
        spec = http.get("/openapi.json")
        assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.1")
        assert "'/openapi.json'" in inline[0]
        assert "validatorUrl" in inline[0] and "null" in inline[0]

        # Only the named assets are served; ReDoc (CDN-bound in FastAPI) is not offered.
        assert http.get("/docs/assets/redoc.standalone.js").status_code == 404
        assert http.get("/docs/assets/..%2F__init__.py").status_code == 404
        assert http.get("/redoc").status_code == 404


def test_docs_render_in_a_real_browser_without_csp_violations(gateway):
    """Headless Chromium (Debian's chromium-headless-shell or chromium, when installed) renders the page: Swagger UI
    lists the API's operations and the console reports no Content-Security-Policy violation."""
    browser = shutil.which("chromium-headless-shell") or shutil.which("chromium")
    if browser is None:
        pytest.skip("no headless Chromium installed (apt-get install chromium-headless-shell)")
    run = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                          "--virtual-time-budget=15000", "--dump-dom", f"{gateway.base_url}/docs"],
                         capture_output=True, text=True, timeout=120)
    violations = [line for line in run.stderr.splitlines() if "Content Security Policy" in line]
    assert violations == []
    assert len(re.findall(r'class="opblock opblock-', run.stdout)) >= 10, run.stdout[:2000]
    assert "content_provenance_checks" in run.stdout
