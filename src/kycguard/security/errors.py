"""Security failures: the one error shape plus the HTTP headers the status needs.

``401`` carries ``WWW-Authenticate``, ``429`` carries ``Retry-After``. Codes are public API:
UNAUTHENTICATED, API_KEY_EXPIRED, API_KEY_REVOKED (401); FORBIDDEN, ROUTE_ACCESS_UNDECLARED (403);
RATE_LIMITED, LIVENESS_LOCKED_OUT (429); SIGNATURE_REQUIRED, SIGNATURE_INVALID, SIGNATURE_EXPIRED,
SIGNATURE_REPLAYED (401).
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import Send

from kycguard.errors import KycError


class SecurityError(KycError):
    """A KycError that also sets response headers."""

    def __init__(self, message: str, *, headers: dict[str, str] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.headers = headers or {}


class Unauthenticated(SecurityError):
    code = "UNAUTHENTICATED"
    status_code = 401

    def __init__(self, message: str = "a valid API key is required", **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kw)


class Forbidden(SecurityError):
    code = "FORBIDDEN"
    status_code = 403


class RateLimited(SecurityError):
    code = "RATE_LIMITED"
    status_code = 429

    def __init__(self, message: str, retry_after_s: float, **kw: Any) -> None:
        seconds = max(1, math.ceil(retry_after_s))
        details = {"retry_after_s": seconds} | kw.pop("details", {})
        super().__init__(message, headers={"Retry-After": str(seconds)}, details=details, **kw)


class SignatureError(Unauthenticated):
    code = "SIGNATURE_INVALID"


def install(app: FastAPI) -> None:
    """Render SecurityError with its headers (more specific than the generic KycError handler)."""

    @app.exception_handler(SecurityError)
    async def _security(_: Request, exc: SecurityError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=exc.headers)


async def send_error(send: Send, exc: KycError, extra_headers: list[tuple[bytes, bytes]]) -> None:
    """Answer from ASGI middleware, where FastAPI's exception handlers do not reach."""
    body = json.dumps(exc.to_dict()).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in getattr(exc, "headers", {}).items()),
        *extra_headers,
    ]
    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
