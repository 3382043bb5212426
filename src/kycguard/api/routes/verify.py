"""``POST /api/v1/verify`` and reading stored verifications."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from kycguard.api.deps import runtime
from kycguard.api.forms import read_form
from kycguard.errors import InvalidRequest
from kycguard.security.auth import Principal, require
from kycguard.security.keys import Role
from kycguard.services.runtime import Runtime

router = APIRouter(prefix="/api/v1")

FILE_FIELDS = ("id_document", "selfie")
TEXT_FIELDS = ("structured_data", "user_id")

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
    "/verify", summary="Verify an ID document against a selfie", openapi_extra=VERIFY_OPENAPI
)
async def verify(
    request: Request,
    rt: Runtime = Depends(runtime),
    who: Principal = Depends(require(Role.INTEGRATOR)),
) -> dict[str, Any]:
    from starlette.concurrency import run_in_threadpool

    files, texts = await _read_form(request, rt.settings.limits.max_upload_bytes)
    user_id = texts.get("user_id") or None
    if user_id is not None and len(user_id) > 128:
        raise InvalidRequest(
            "user_id is longer than 128 characters", code="INVALID_REQUEST", field="user_id"
        )
    device = request.headers.get("X-Device-Id", "")[:128] or None
    lockout = rt.security.lockout
    subjects = lockout.subjects(
        who.tenant, user_id, device, request.client.host if request.client else None
    )
    await run_in_threadpool(lockout.check, subjects)  # 429 LIVENESS_LOCKED_OUT
    result = await run_in_threadpool(
        rt.verification.verify,
        files["id_document"],
        files["selfie"],
        texts.get("structured_data"),
        user_id=user_id,
        tenant=who.tenant,
        actor=who.actor,
    )
    await run_in_threadpool(lockout.observe, subjects, result)
    return result


@router.get("/verifications/{verification_id}", summary="A stored verification result")
def get_verification(
    verification_id: str,
    rt: Runtime = Depends(runtime),
    who: Principal = Depends(require(Role.INTEGRATOR, Role.REVIEWER)),
) -> dict[str, Any]:
    result = rt.verifications.get(verification_id, tenant=who.tenant_filter)
    return rt.reviews.overlay("verification", verification_id, result) if rt.reviews else result
