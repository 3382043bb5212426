"""Video KYC sessions (``/api/v1/sessions``) and the seed's ``/api/v1/kyc/...`` routes as aliases.

Routes only parse (JSON or multipart), hand the work to ``SessionService`` in the threadpool and
return its answer. The browser authenticates frame, status and complete calls with the session token
in the ``X-Session-Token`` header; creating and deleting sessions are server-side calls. An API key
reaches only its own tenant's sessions (``Principal.tenant_filter``): another tenant's session is
``404 SESSION_NOT_FOUND``, exactly like an unknown id.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from kycguard import strictjson
from kycguard.api.deps import runtime
from kycguard.api.forms import read_form
from kycguard.errors import InvalidRequest, PayloadTooLarge
from kycguard.policies.apply import parse_risk
from kycguard.scale.executor import run_heavy
from kycguard.scale.idempotency import scope_of
from kycguard.security.auth import Principal, require
from kycguard.security.keys import Role
from kycguard.services.runtime import Runtime
from kycguard.sessions import seed
from kycguard.sessions.service import FrameUpload

router = APIRouter(prefix="/api/v1", tags=["sessions"])
TOKEN_HEADER = "X-Session-Token"

Body = TypeVar("Body", bound=BaseModel)

# access rules (kycguard.security.auth): server-side calls need an integrator key; the browser's
# session token reaches only its own session
integrator = require(Role.INTEGRATOR)
browser = require(session_token=True)
either = require(Role.INTEGRATOR, Role.REVIEWER, session_token=True)
# the seed's alias routes: the page's session token, or its backend relaying with an integrator
# key of the session's tenant
relay = require(Role.INTEGRATOR, session_token=True)


class _Strict(BaseModel):
    model_config = {"extra": "forbid", "allow_inf_nan": False}


class CreateSession(_Strict):
    user_id: str = Field(min_length=1, max_length=128)
    verification_id: str | None = Field(None, min_length=1, max_length=36)
    challenge_count: int | None = Field(None, ge=1, le=6)
    risk_level: Literal["low", "medium", "high"] | None = Field(
        None, description="the case's risk tier (decision policies); or risk_score"
    )
    risk_score: float | None = Field(None, ge=0, le=100)


class FrameFields(_Strict):
    sequence: int = Field(ge=0, lt=2**31, description="strictly increasing per session")
    timestamp: float = Field(ge=0, description="capture time in ms on the client's clock")


class FrameJson(FrameFields):
    frame: str = Field(description='"data:image/jpeg;base64,..." or plain base64 (JPEG, PNG, WebP)')


class AliasFrameFields(_Strict):
    """The seed's client sends neither: the server's arrival order and clock stand in."""

    sequence: int | None = Field(None, ge=0, lt=2**31)
    timestamp: float | None = Field(None, ge=0)


class AliasFrameJson(AliasFrameFields):
    session_id: str = Field(min_length=1, max_length=64)
    frame: str


class AliasSession(_Strict):
    session_id: str = Field(min_length=1, max_length=64)


def _reviewed(rt: Runtime, view: dict[str, Any]) -> dict[str, Any]:
    """A reviewer's outcome laid over the stored decision (which stays as it was stored)."""
    if rt.reviews is not None and view.get("result") is not None:
        view["result"] = rt.reviews.overlay("session", view["session_id"], view["result"])
    return view


def _token(request: Request) -> str | None:
    return request.headers.get(TOKEN_HEADER) or None


async def _json(request: Request, model: type[Body]) -> Body:
    payload = strictjson.loads(await request.body())
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc


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


async def _create(request: Request, rt: Runtime, who: Principal) -> Any:
    document = None
    if _kind(request) == "json":
        body = await _json(request, CreateSession)
    else:
        files, texts = await read_form(
            request,
            ("id_document",),
            ("user_id", "verification_id", "challenge_count", "risk_level", "risk_score"),
            rt.settings.limits.max_upload_bytes,
        )
        body = _validated(CreateSession, dict(texts))
        document = files.get("id_document")
    risk = parse_risk(body.risk_level, body.risk_score)  # 422 INVALID_RISK when both
    # a user (or device) locked out after failed liveness attempts starts no session (as /verify)
    lockout = rt.security.lockout
    device = request.headers.get("X-Device-Id", "")[:128] or None
    subjects = lockout.subjects(
        who.tenant, body.user_id, device, request.client.host if request.client else None
    )
    await run_in_threadpool(lockout.check, subjects)  # 429 LIVENESS_LOCKED_OUT
    # with an Idempotency-Key, a retry gets the first session (and token), not a second one
    return await rt.scale.idempotency.run(
        request,
        scope_of(who.tenant, who.kind, who.id),
        "session",
        {"body": body.model_dump_json(), "id_document": document},
        lambda: run_heavy(
            request,
            lambda: rt.sessions.create(
                body.user_id,
                verification_id=body.verification_id,
                challenge_count=body.challenge_count,
                id_document=document,
                tenant=who.tenant,
                risk=risk,
                device_id=device,
            ),
        ),
    )


async def _frame(
    request: Request, rt: Runtime, path_session_id: str | None, who: Principal
) -> dict[str, Any]:
    """``path_session_id`` None: the seed's alias, session_id in the body, sequence and timestamp
    optional."""
    max_bytes = rt.settings.sessions.max_frame_bytes
    fields: FrameFields | AliasFrameFields
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
        files, texts = await read_form(
            request, ("frame",), ("sequence", "timestamp", *extra), max_bytes
        )
        if "frame" not in files:
            raise InvalidRequest("missing file field: frame", code="MISSING_FIELD", field="frame")
        if len(files["frame"]) > max_bytes:
            raise PayloadTooLarge(f"frame is larger than {max_bytes} bytes", field="frame")
        found = path_session_id or texts.pop("session_id", None)
        if not found:
            raise InvalidRequest(
                "missing field: session_id", code="MISSING_FIELD", field="session_id"
            )
        if path_session_id is not None:
            fields = _validated(FrameFields, dict(texts))
        else:
            fields = _validated(AliasFrameFields, dict(texts))
        session_id, data = found, files["frame"]
    upload = FrameUpload(data, fields.sequence, fields.timestamp)
    return await run_heavy(
        request,
        lambda: rt.sessions.add_frame(
            session_id,
            _token(request),
            upload,
            backend=who.kind == "key",
            tenant=who.tenant_filter,
        ),
    )


@router.post(
    "/sessions",
    summary="Start a video KYC session: random challenges and a session token for the browser",
    response_model=dict[str, Any],
)
async def create_session(
    request: Request, rt: Runtime = Depends(runtime), who: Principal = Depends(integrator)
) -> Any:
    return await _create(request, rt, who)


@router.post(
    "/sessions/{session_id}/frames",
    summary="One camera frame (JPEG multipart, or JSON with a base64 data URL)",
)
async def add_frame(
    session_id: str,
    request: Request,
    rt: Runtime = Depends(runtime),
    who: Principal = Depends(browser),
) -> dict[str, Any]:
    return await _frame(request, rt, session_id, who)


@router.post(
    "/sessions/{session_id}/document",
    summary="The ID document photographed in the browser (multipart id_document, id_document_back?)",
)
async def attach_document(
    session_id: str,
    request: Request,
    rt: Runtime = Depends(runtime),
    _: Principal = Depends(browser),
) -> dict[str, Any]:
    files, _texts = await read_form(
        request, ("id_document", "id_document_back"), (), rt.settings.limits.max_upload_bytes
    )
    if "id_document" not in files:
        raise InvalidRequest(
            "missing file field: id_document", code="MISSING_FIELD", field="id_document"
        )
    return await run_heavy(  # portrait search and document reading: the model pool
        request,
        rt.sessions.attach_document,
        session_id,
        _token(request),
        files["id_document"],
        files.get("id_document_back"),
    )


@router.post("/sessions/{session_id}/complete", summary="Finish the session: the final decision")
async def complete_session(
    session_id: str,
    request: Request,
    rt: Runtime = Depends(runtime),
    who: Principal = Depends(browser),
) -> dict[str, Any]:
    return await run_heavy(
        request,
        lambda: rt.sessions.complete(
            session_id, _token(request), tenant=who.tenant_filter, actor=who.actor
        ),
    )


@router.get(
    "/sessions/{session_id}", summary="Progress of a session, and its decision once complete"
)
def get_session(
    session_id: str,
    request: Request,
    rt: Runtime = Depends(runtime),
    who: Principal = Depends(either),
) -> dict[str, Any]:
    return _reviewed(rt, rt.sessions.get(session_id, _token(request), who.tenant_filter))


@router.delete("/sessions/{session_id}", summary="Erase a session's images (server-side call)")
def delete_session(
    session_id: str,
    request: Request,
    rt: Runtime = Depends(runtime),
    who: Principal = Depends(integrator),
) -> dict[str, Any]:
    return rt.sessions.delete(session_id, _token(request), who.tenant_filter)


# -- the seed's routes, kept so existing clients keep working -------------------------------------


@router.post(
    "/kyc/start-session", summary="Alias of POST /api/v1/sessions", response_model=dict[str, Any]
)
async def start_session(
    request: Request, rt: Runtime = Depends(runtime), who: Principal = Depends(integrator)
) -> Any:
    return await _create(request, rt, who)


@router.post(
    "/kyc/upload-video-frame",
    summary="Alias of POST /api/v1/sessions/{id}/frames: the seed's body "
    '{"session_id", "frame"} (sequence and timestamp optional)',
)
async def upload_video_frame(
    request: Request, rt: Runtime = Depends(runtime), who: Principal = Depends(relay)
) -> dict[str, Any]:
    return seed.frame_answer(await _frame(request, rt, None, who))


@router.post(
    "/kyc/complete-verification",
    summary='Alias of POST /api/v1/sessions/{id}/complete: the seed\'s body {"session_id"}',
)
async def complete_verification(
    request: Request, rt: Runtime = Depends(runtime), who: Principal = Depends(relay)
) -> dict[str, Any]:
    body = await _json(request, AliasSession)
    result = await run_heavy(
        request,
        lambda: rt.sessions.complete(
            body.session_id,
            _token(request),
            backend=who.kind == "key",
            tenant=who.tenant_filter,
            actor=who.actor,
        ),
    )
    return seed.completion_answer(result)


@router.get("/kyc/get-session-status", summary="Alias of GET /api/v1/sessions/{id}")
def get_session_status(
    request: Request,
    session_id: str = Query(...),
    rt: Runtime = Depends(runtime),
    who: Principal = Depends(either),
) -> dict[str, Any]:
    return seed.status_answer(
        _reviewed(rt, rt.sessions.get(session_id, _token(request), who.tenant_filter))
    )
