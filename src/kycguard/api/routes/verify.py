"""``POST /api/v1/verify`` and reading stored verifications."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from kycguard.api.deps import runtime
from kycguard.api.forms import read_form
from kycguard.errors import InvalidRequest
from kycguard.policies.apply import parse_risk
from kycguard.scale.executor import run_heavy
from kycguard.scale.idempotency import scope_of
from kycguard.security.auth import Principal, require
from kycguard.security.keys import Role
from kycguard.security.ratelimit import liveness_failed
from kycguard.services.runtime import Runtime

router = APIRouter(prefix="/api/v1")

FILE_FIELDS = ("id_document", "selfie")
TEXT_FIELDS = ("structured_data", "user_id", "risk_level", "risk_score", "document_type")
DOCUMENT_TYPES = ("passport", "identity_card", "visa", "driving_licence", "other")

VERIFY_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": list(FILE_FIELDS),
                    "properties": {
                        "id_document": {
                            "type": "string",
                            "format": "binary",
                            "description": "photo of the ID (JPEG/PNG/WebP)",
                        },
                        "selfie": {
                            "type": "string",
                            "format": "binary",
                            "description": "photo of the person (JPEG/PNG/WebP)",
                        },
                        "structured_data": {
                            "type": "string",
                            "description": 'JSON object, e.g. {"full_name": "...", "date_expiration": "20300101"}',
                        },
                        "user_id": {"type": "string", "maxLength": 128},
                        "risk_level": {
                            "type": "string",
                            "enum": ["low", "medium", "high"],
                            "description": "the case's risk tier (policies: which checks run, "
                            "which thresholds apply); or risk_score",
                        },
                        "risk_score": {
                            "type": "number",
                            "minimum": 0,
                            "maximum": 100,
                            "description": "0-100; the policy's score bands map it to a tier",
                        },
                        "document_type": {
                            "type": "string",
                            "enum": list(DOCUMENT_TYPES),
                            "description": "declared document type (policy document rules)",
                        },
                    },
                }
            }
        },
    }
}


async def _read_form(request: Request, max_bytes: int) -> tuple[dict[str, bytes], dict[str, str]]:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise InvalidRequest(
            "send multipart/form-data with files id_document and selfie",
            code="UNSUPPORTED_CONTENT_TYPE",
            status_code=415,
        )
    files, texts = await read_form(request, FILE_FIELDS, TEXT_FIELDS, max_bytes)
    absent = [f for f in FILE_FIELDS if f not in files]
    if absent:
        raise InvalidRequest(
            f"missing file field(s): {', '.join(absent)}",
            code="MISSING_FIELD",
            field=absent[0],
            details={"missing": absent},
        )
    return files, texts


@router.post(
    "/verify",
    summary="Verify an ID document against a selfie",
    openapi_extra=VERIFY_OPENAPI,
    response_model=dict[str, Any],
)
async def verify(
    request: Request,
    rt: Runtime = Depends(runtime),
    who: Principal = Depends(require(Role.INTEGRATOR)),
) -> Any:
    files, texts = await _read_form(request, rt.settings.limits.max_upload_bytes)
    # with an Idempotency-Key, a retry gets the first answer and creates no second case
    return await rt.scale.idempotency.run(
        request,
        scope_of(who.tenant, who.kind, who.id),
        "verify",
        {**files, **texts},
        lambda: _verify(request, rt, who, files, texts),
    )


async def _verify(
    request: Request, rt: Runtime, who: Principal, files: dict[str, bytes], texts: dict[str, str]
) -> dict[str, Any]:
    user_id = texts.get("user_id") or None
    if user_id is not None and len(user_id) > 128:
        raise InvalidRequest(
            "user_id is longer than 128 characters", code="INVALID_REQUEST", field="user_id"
        )
    risk = parse_risk(texts.get("risk_level"), texts.get("risk_score"))
    document_type = texts.get("document_type") or None
    if document_type is not None and document_type not in DOCUMENT_TYPES:
        raise InvalidRequest(
            f"document_type must be one of {', '.join(DOCUMENT_TYPES)}",
            code="INVALID_REQUEST",
            field="document_type",
        )
    device = request.headers.get("X-Device-Id", "")[:128] or None
    lockout = rt.security.lockout
    # counted before it runs (429 LIVENESS_LOCKED_OUT), so parallel attempts cannot slip past
    reserved = await run_in_threadpool(
        lockout.reserve, lockout.subjects(who.tenant, user_id, device)
    )
    device_ref = lockout.subjects(who.tenant, None, device)[0] if device else None
    failed = False
    try:
        result = await run_heavy(  # model work: its own bounded pool, not the one auth uses
            request,
            rt.verification.verify,
            files["id_document"],
            files["selfie"],
            texts.get("structured_data"),
            user_id=user_id,
            tenant=who.tenant,
            actor=who.actor,
            risk=risk,
            document_type=document_type,
            device_ref=device_ref,
        )
        failed = liveness_failed(result)
    finally:
        await run_in_threadpool(lockout.settle, reserved, failed)
    return result


@router.get("/verifications/{verification_id}", summary="A stored verification result")
def get_verification(
    verification_id: str,
    rt: Runtime = Depends(runtime),
    who: Principal = Depends(require(Role.INTEGRATOR, Role.REVIEWER)),
) -> dict[str, Any]:
    result = rt.verifications.get(verification_id, tenant=who.tenant_filter)
    if rt.reviews:
        result = rt.reviews.overlay("verification", verification_id, result)
    return rt.sessions.with_linked_session(verification_id, result)
