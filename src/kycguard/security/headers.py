"""Web hardening middleware: security headers on every response, a CORS allow-list, a JSON body cap.

API answers (JSON) get a ``default-src 'none'`` CSP and ``Cache-Control: no-store`` (they carry
personal data); HTML pages (the capture page) get a CSP that allows only their own origin and the
camera for that origin. A route that sets one of these headers itself keeps its own value. A crash
is answered here too (500 in the one error shape, no trace), so it carries the same headers.
"""

from __future__ import annotations

import logging

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kycguard.api.limits import BodySizeLimit
from kycguard.errors import KycError
from kycguard.security.errors import send_error

log = logging.getLogger("kycguard.api")

COMMON: dict[str, str] = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "cache-control": "no-store",
}
API: dict[str, str] = {
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
HTML: dict[str, str] = {
    "content-security-policy": "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "permissions-policy": "camera=(self), microphone=(), geolocation=()",
}
ALLOWED_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "X-Timestamp",
    "X-Signature",
    "X-Device-Id",
    "X-Session-Token",
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp, exempt_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.exempt = exempt_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exempt = scope.get("path", "") in self.exempt
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                present = Headers(raw=message.get("headers", []))
                html = present.get("content-type", "").startswith("text/html")
                wanted = COMMON if exempt else COMMON | (HTML if html else API)
                extra = [(k.encode(), v.encode()) for k, v in wanted.items() if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            # Starlette answers crashes outside every middleware; answer here so a 500 carries
            # the same headers (and the same body as kycguard.api.errors) as every other answer
            if started:
                raise
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            crash = KycError("internal error; the request was not processed", code="INTERNAL_ERROR")
            await send_error(
                send, crash, [(k.encode(), v.encode()) for k, v in (COMMON | API).items()]
            )


class StrictCORS(CORSMiddleware):
    """Starlette's CORS with exact origins only; a refused preflight answers in the one error shape."""

    def __init__(self, app: ASGIApp, origins: tuple[str, ...]) -> None:
        super().__init__(
            app,
            allow_origins=list(origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=ALLOWED_REQUEST_HEADERS,
            expose_headers=["Retry-After"],
            allow_credentials=False,
            max_age=600,
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        reason = bytes(response.body).decode(errors="replace")
        return JSONResponse(
            {"error": {"code": "CORS_NOT_ALLOWED", "message": f"CORS preflight refused: {reason}"}},
            status_code=403,
        )


class JsonBodyLimit(BodySizeLimit):
    """The general body limit is sized for two images; JSON bodies get a much smaller one, except
    the frame routes: a frame is limited by ``sessions.max_frame_bytes`` (its decoded bytes) whether
    it comes as multipart or as base64 JSON, so their JSON bodies may hold that frame encoded."""

    FRAME_PATHS = ("/frames", "/kyc/upload-video-frame")

    def __init__(self, app: ASGIApp, max_bytes: int, frame_bytes: int = 0) -> None:
        super().__init__(app, max_bytes)
        self.general = BodySizeLimit(app, max_bytes)
        self.frames = BodySizeLimit(app, max(max_bytes, frame_json_bytes(frame_bytes)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            ctype = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
            if ctype == "application/json" or ctype.endswith("+json"):
                path = str(scope.get("path", "")).rstrip("/")
                limit = self.frames if path.endswith(self.FRAME_PATHS) else self.general
                await limit(scope, receive, send)
                return
        await self.app(scope, receive, send)


def frame_json_bytes(frame_bytes: int) -> int:
    """The JSON body that carries a frame of ``frame_bytes`` as a base64 data URL, with room for
    the other fields: 4/3 of the frame plus 64 KiB."""
    return -(-frame_bytes * 4 // 3) + 64 * 1024
