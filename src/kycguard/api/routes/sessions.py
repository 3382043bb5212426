"""Video KYC sessions (``/api/v1/sessions``) and the seed's ``/api/v1/kyc/...`` routes as aliases.

Routes only parse (JSON or multipart), hand the work to ``SessionService`` in the threadpool and
return its answer. The browser authenticates frame, status and complete calls with the session token
in the ``X-Session-Token`` header; creating and deleting sessions are server-side calls.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from kycguard.api.deps import runtime
from kycguard.errors import InvalidRequest, PayloadTooLarge
from kycguard.security.auth import Principal, require
from kycguard.security.keys import Role
from kycguard.services.runtime import Runtime
from kycguard.sessions.service import FrameUpload

router = APIRouter(prefix="/api/v1", tags=["sessions"])
TOKEN_HEADER = "X-Session-Token"

Body = TypeVar("Body", bound=BaseModel)

# access rules (kycguard.security.auth): server-side calls need an integrator key; the browser's
# session token reaches only its own session
integrator = require(Role.INTEGRATOR)
browser = require(session_token=True)
either = require(Role.INTEGRATOR, Role.REVIEWER, session_token=True)


class _Strict(BaseModel):
    model_config = {"extra": "forbid"}


class CreateSession(_Strict):
    user_id: str = Field(min_length=1, max_length=128)
    verification_id: str | None = Field(None, min_length=1, max_length=36)
    challenge_count: int | None = Field(None, ge=1, le=6)


class FrameFields(_Strict):
    sequence: int = Field(ge=0, lt=2**31, description="strictly increasing per session")
    timestamp: float = Field(ge=0, description="capture time in ms on the client's clock")


class FrameJson(FrameFields):
    frame: str = Field(description='"data:image/jpeg;base64,..." or plain base64 (JPEG, PNG, WebP)')


class AliasFrameJson(FrameJson):
    session_id: str


class AliasSession(_Strict):
    session_id: str


def _token(request: Request) -> str | None:
    return request.headers.get(TOKEN_HEADER) or None


async def _json(request: Request, model: type[Body]) -> Body:
    try:
        payload = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"the body is not valid JSON: {exc}", code="INVALID_JSON") from exc
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc


async def _form(
    request: Request, files: tuple[str, ...], texts: tuple[str, ...], max_bytes: int
) -> tuple[dict[str, bytes], dict[str, str]]:
    form = await request.form(max_files=len(files), max_fields=len(files) + len(texts))
    got_files: dict[str, bytes] = {}
    got_texts: dict[str, str] = {}
    try:
        for key, value in form.multi_items():
            if key not in files + texts:
                raise InvalidRequest(
                    f"unknown form field '{key}'; expected {', '.join(files + texts)}",
                    code="UNKNOWN_FIELD",
                    field=key,
                )
            if key in got_files or key in got_texts:
                raise InvalidRequest(
                    f"form field '{key}' was sent twice", code="DUPLICATE_FIELD", field=key
                )
            if (key in files) != isinstance(value, UploadFile):
                kind = "a file upload" if key in files else "a text field"
                raise InvalidRequest(
                    f"'{key}' must be {kind}", code="INVALID_FIELD_TYPE", field=key
                )
            if isinstance(value, UploadFile):
                got_files[key] = await value.read(max_bytes + 1)
            else:
                got_texts[key] = value
    finally:
        await form.close()
    return got_files, got_texts


def _kind(request: Request) -> str:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        return "json"
    if content_type.startswith("multipart/form-data"):
        return "multipart"
    raise InvalidRequest(
        "send application/json or multipart/form-data",
        code="UNSUPPORTED_CONTENT_TYPE",
        status_code=415,
    )


def _validated(model: type[Body], data: dict[str, Any]) -> Body:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc


def _frame_bytes(encoded: str, max_bytes: int) -> bytes:
    text = encoded.split(",", 1)[1] if encoded.startswith("data:") else encoded
    if len(text) > (max_bytes * 4) // 3 + 8:
        raise PayloadTooLarge(f"frame is larger than {max_bytes} bytes", field="frame")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(
            f"frame is not valid base64: {exc}", code="INVALID_FRAME_ENCODING", field="frame"
        ) from exc


async def _create(request: Request, rt: Runtime) -> dict[str, Any]:
    document = None
    if _kind(request) == "json":
        body = await _json(request, CreateSession)
    else:
        files, texts = await _form(
            request,
            ("id_document",),
            ("user_id", "verification_id", "challenge_count"),
            rt.settings.limits.max_upload_bytes,
        )
        body = _validated(CreateSession, dict(texts))
        document = files.get("id_document")
    return await run_in_threadpool(
        lambda: rt.sessions.create(
            body.user_id,
            verification_id=body.verification_id,
            challenge_count=body.challenge_count,
            id_document=document,
        )
    )


async def _frame(request: Request, rt: Runtime, path_session_id: str | None) -> dict[str, Any]:
    max_bytes = rt.settings.sessions.max_frame_bytes
    fields: FrameFields
    if _kind(request) == "json":
        if path_session_id is None:
            alias = await _json(request, AliasFrameJson)
            session_id, fields, encoded = alias.session_id, alias, alias.frame
        else:
            body = await _json(request, FrameJson)
            session_id, fields, encoded = path_session_id, body, body.frame
        data = _frame_bytes(encoded, max_bytes)
    else:
        extra = ("session_id",) if path_session_id is None else ()
        files, texts = await _form(
            request, ("frame",), ("sequence", "timestamp", *extra), max_bytes
        )
        if "frame" not in files:
            raise InvalidRequest("missing file field: frame", code="MISSING_FIELD", field="frame")
        found = path_session_id or texts.pop("session_id", None)
        if not found:
            raise InvalidRequest(
                "missing field: session_id", code="MISSING_FIELD", field="session_id"
            )
        session_id, fields, data = found, _validated(FrameFields, dict(texts)), files["frame"]
    upload = FrameUpload(data, fields.sequence, fields.timestamp)
    return await run_in_threadpool(rt.sessions.add_frame, session_id, _token(request), upload)


@router.post(
    "/sessions",
    summary="Start a video KYC session: random challenges and a session token for the browser",
)
async def create_session(
    request: Request, rt: Runtime = Depends(runtime), _: Principal = Depends(integrator)
) -> dict[str, Any]:
    return await _create(request, rt)


@router.post(
    "/sessions/{session_id}/frames",
    summary="One camera frame (JPEG multipart, or JSON with a base64 data URL)",
)
async def add_frame(
    session_id: str,
    request: Request,
    rt: Runtime = Depends(runtime),
    _: Principal = Depends(browser),
) -> dict[str, Any]:
    return await _frame(request, rt, session_id)


@router.post("/sessions/{session_id}/complete", summary="Finish the session: the final decision")
async def complete_session(
    session_id: str,
    request: Request,
    rt: Runtime = Depends(runtime),
    _: Principal = Depends(browser),
) -> dict[str, Any]:
    return await run_in_threadpool(rt.sessions.complete, session_id, _token(request))


@router.get(
    "/sessions/{session_id}", summary="Progress of a session, and its decision once complete"
)
def get_session(
    session_id: str,
    request: Request,
    rt: Runtime = Depends(runtime),
    _: Principal = Depends(either),
) -> dict[str, Any]:
    return rt.sessions.get(session_id, _token(request))


@router.delete("/sessions/{session_id}", summary="Erase a session's images (server-side call)")
def delete_session(
    session_id: str,
    request: Request,
    rt: Runtime = Depends(runtime),
    _: Principal = Depends(integrator),
) -> dict[str, Any]:
    return rt.sessions.delete(session_id, _token(request))


# -- the seed's routes, kept so existing clients keep working -------------------------------------


@router.post("/kyc/start-session", summary="Alias of POST /api/v1/sessions")
async def start_session(
    request: Request, rt: Runtime = Depends(runtime), _: Principal = Depends(integrator)
) -> dict[str, Any]:
    return await _create(request, rt)


@router.post(
    "/kyc/upload-video-frame",
    summary="Alias of POST /api/v1/sessions/{id}/frames with session_id in the body",
)
async def upload_video_frame(
    request: Request, rt: Runtime = Depends(runtime), _: Principal = Depends(browser)
) -> dict[str, Any]:
    return await _frame(request, rt, None)


@router.post("/kyc/complete-verification", summary="Alias of POST /api/v1/sessions/{id}/complete")
async def complete_verification(
    request: Request, rt: Runtime = Depends(runtime), _: Principal = Depends(browser)
) -> dict[str, Any]:
    body = await _json(request, AliasSession)
    return await run_in_threadpool(rt.sessions.complete, body.session_id, _token(request))


@router.get("/kyc/get-session-status", summary="Alias of GET /api/v1/sessions/{id}")
def get_session_status(
    request: Request,
    session_id: str = Query(...),
    rt: Runtime = Depends(runtime),
    _: Principal = Depends(either),
) -> dict[str, Any]:
    return rt.sessions.get(session_id, _token(request))
