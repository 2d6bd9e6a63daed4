"""The public check page at /verify: files installed with the gateway (this folder), served under a policy that lets
the page load and call nothing but this origin. No inline script or style, so the policy needs no hash or nonce."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from ...core.errors import NotFound
from ...core.settings import Settings
from ..deps import get_settings, require_public

PAGE_PATH = "/verify"
ASSETS_PATH = f"{PAGE_PATH}/assets"

PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

_DIR = files(__name__)
_ASSETS = {"verify.js": "text/javascript; charset=utf-8", "verify.css": "text/css; charset=utf-8"}

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_public)])


@router.get(PAGE_PATH)
def verify_page(settings: Settings = Depends(get_settings)) -> HTMLResponse:
    html = (_DIR / "verify.html").read_text(encoding="utf-8")
    # The page says whether submitted files are kept; that is the operator's setting, so the server fills it in.
    html = html.replace("{{KEPT}}", "true" if settings.keep_check_uploads else "false")
    return HTMLResponse(html, headers={"Content-Security-Policy": PAGE_CSP, "Referrer-Policy": "no-referrer"})


@router.get(ASSETS_PATH + "/{name}")
def verify_asset(name: str) -> Response:
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise NotFound(f"No asset named {name!r}.")
    return Response((_DIR / name).read_bytes(), media_type=media_type)
