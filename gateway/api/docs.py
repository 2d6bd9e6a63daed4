"""The interactive API docs (Swagger UI) served from files installed with the gateway, so they work offline and
under a Content-Security-Policy that lets the page load nothing but this origin's own assets."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from ..core.errors import NotFound

DOCS_PATH = "/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"

# Swagger UI 5's dist build as the fastapi-offline wheel ships it; only what the page loads is served.
_ASSET_DIR = files("fastapi_offline") / "static"
_ASSETS = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8", "swagger-ui.css": "text/css; charset=utf-8",
           "favicon.png": "image/png"}

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)

router = APIRouter(include_in_schema=False)


def docs_csp(html: str) -> str:
    """The page's policy: scripts, styles and requests only from this origin, plus the page's own inline start-up
    script, allowed by its hash (so no other inline script can run). Images may also be ``data:``, the form in
    which Swagger UI's stylesheet carries its icons; nothing is fetched from anywhere else."""
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
                      for script in _INLINE_SCRIPT.findall(html))
    return (f"default-src 'none'; script-src 'self' {hashes}; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@router.get(DOCS_PATH)
def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    page = get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}", title=f"{request.app.title} - API docs",
        swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css", swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
        # Swagger UI would otherwise ask validator.swagger.io about the spec: a request leaving the machine.
        swagger_ui_parameters={"validatorUrl": None})
    html = page.body.decode()
    return HTMLResponse(html, headers={"Content-Security-Policy": docs_csp(html)})


@router.get(ASSETS_PATH + "/{name}")
def docs_asset(name: str) -> FileResponse:
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise NotFound(f"No docs asset named {name!r}.")
    return FileResponse(str(_ASSET_DIR / name), media_type=media_type)
