"""The pages (``/capture/{token}``, ``/console``, ``/console/dashboard``), their static files and the
one call the capture page needs beyond the sessions API.

The HTML is static: it holds no data and no credential, so it is public; every piece of data comes
from API calls that carry the session token (capture) or the reviewer's key (console). The capture
URL holds the session token so a link can be sent to a phone; the page reads it from its own address
and sends it only in ``X-Session-Token`` (``Referrer-Policy: no-referrer`` keeps it out of other
sites' logs). Static files are served by a route, not a mount, so they too declare an access rule.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from kycguard.api.deps import runtime
from kycguard.errors import KycError
from kycguard.security.auth import SESSION_TOKEN_HEADER, Principal, public, require
from kycguard.services.runtime import Runtime
from kycguard.web.config import LANGUAGES

STATIC = Path(__file__).parent / "static"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}

router = APIRouter(tags=["web"], include_in_schema=True)
anyone = public()
session_page = require(session_token=True)


@cache
def _files() -> dict[str, Path]:
    """The files that may be served: exactly those shipped in ``static/`` (no path from the URL
    ever reaches the file system)."""
    return {p.name: p for p in STATIC.iterdir() if p.is_file() and p.suffix in MEDIA_TYPES}


def _page(name: str) -> FileResponse:
    return FileResponse(_files()[name], media_type=MEDIA_TYPES[".html"])


@router.get(
    "/capture/{session_token}",
    summary="The customer's capture page",
    dependencies=[Depends(anyone)],
)
def capture_page(session_token: str) -> FileResponse:
    return _page("capture.html")


@router.get("/console", summary="The reviewer console", dependencies=[Depends(anyone)])
def console_page() -> FileResponse:
    return _page("console.html")


@router.get("/console/dashboard", summary="The metrics dashboard", dependencies=[Depends(anyone)])
def dashboard_page() -> FileResponse:
    return _page("console.html")  # one application; it draws the dashboard for this address


@router.get(
    "/static/{name}", summary="The pages' scripts and styles", dependencies=[Depends(anyone)]
)
def static_file(name: str) -> FileResponse:
    path = _files().get(name)
    if path is None or path.suffix == ".html":
        raise KycError(f"no static file {name!r}", code="NOT_FOUND", status_code=404)
    # the capture module may be imported by an integrator's own page on another origin (CORS
    # still applies: only the origins in security.cors_origins may load it)
    headers = {"cross-origin-resource-policy": "cross-origin", "cache-control": "no-cache"}
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=headers)


@router.get(
    "/api/v1/capture/session",
    summary="The session of this token, as the capture page needs it",
    tags=["sessions"],
)
async def capture_session(
    request: Request, rt: Runtime = Depends(runtime), who: Principal = Depends(session_page)
) -> dict[str, Any]:
    token = request.headers.get(SESSION_TOKEN_HEADER)
    view = await run_in_threadpool(rt.sessions.get, who.id, token)
    return view | {
        "return_url": rt.settings.web.return_url,
        "languages": list(LANGUAGES),
        "default_language": rt.settings.web.default_language,
    }
