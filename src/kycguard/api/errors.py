"""Exception handlers: KycError, validation errors, HTTP errors and crashes all leave as
``{"error": {"code", "message", ...}}``; a crash never shows a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kycguard.errors import KycError

log = logging.getLogger("kycguard.api")

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}


def error_response(exc: KycError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=exc.status_code)


def install(app: FastAPI) -> None:
    @app.exception_handler(KycError)
    async def _kyc(_: Request, exc: KycError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": ".".join(
                    str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")
                ),
                "message": e.get("msg", ""),
            }
            for e in exc.errors()
        ]
        text = "; ".join(f"{p['field'] or 'request'}: {p['message']}" for p in problems)
        return error_response(
            KycError(
                f"invalid request: {text}",
                code="INVALID_REQUEST",
                status_code=422,
                details={"problems": problems},
            )
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        message = str(exc.detail)
        if exc.status_code in (404, 405) and message in ("Not Found", "Method Not Allowed"):
            # Starlette's routing answer: say what was asked for, so a typo is obvious
            message = f"{message.lower()}: {request.method} {request.url.path} (see /openapi.json)"
        response = error_response(KycError(message, code=code, status_code=exc.status_code))
        for k, v in (exc.headers or {}).items():
            response.headers[k] = v
        return response

    @app.exception_handler(RecursionError)
    async def _too_deep(_: Request, exc: RecursionError) -> JSONResponse:
        # a body nested deeper than the parser or validator can recurse (FastAPI-parsed bodies;
        # kycguard's own JSON goes through kycguard.strictjson, which refuses it earlier)
        return error_response(
            KycError("the request is nested too deeply", code="JSON_TOO_DEEP", status_code=422)
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(
            KycError("internal error; the request was not processed", code="INTERNAL_ERROR")
        )
