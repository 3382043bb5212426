"""``/api/v1/admin/keys``: API keys by API (admin only). Keys are shown once, in the create answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from kycguard.api.deps import runtime
from kycguard.security.auth import Principal, require
from kycguard.security.keys import Role
from kycguard.services.runtime import Runtime

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])
admin = require(Role.ADMIN)


class CreateKey(BaseModel):
    model_config = {"extra": "forbid"}

    name: str = Field(min_length=1, max_length=100)
    role: Role
    tenant: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    expires_in_days: int | None = Field(None, ge=1, le=3650)
    never_expires: bool = False
    rate_limit: int | None = Field(None, ge=1, le=1_000_000)
    signed_requests: bool = False


@router.post("/keys", status_code=201, summary="Create an API key (the key is shown only here)")
async def create_key(
    body: CreateKey, rt: Runtime = Depends(runtime), who: Principal = Depends(admin)
) -> dict[str, Any]:
    created = await run_in_threadpool(
        lambda: rt.security.keys.create(
            name=body.name,
            role=body.role,
            tenant=body.tenant,
            expires_in_days=body.expires_in_days,
            never_expires=body.never_expires,
            rate_limit=body.rate_limit,
            signed=body.signed_requests,
            actor=who.actor,
        )
    )
    return created.to_dict()


@router.get("/keys", summary="Every API key's metadata (never the keys)")
def list_keys(rt: Runtime = Depends(runtime), _: Principal = Depends(admin)) -> dict[str, Any]:
    return {"keys": [k.to_dict() for k in rt.security.keys.list()]}


@router.delete("/keys/{key_id}", summary="Revoke an API key now")
def revoke_key(
    key_id: str, rt: Runtime = Depends(runtime), who: Principal = Depends(admin)
) -> dict[str, Any]:
    return rt.security.keys.revoke(key_id, who.actor).to_dict()
