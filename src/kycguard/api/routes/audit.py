"""``/api/v1/audit``: the audit log, read-only, for auditors."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from kycguard.api.deps import runtime
from kycguard.security.auth import Principal, require
from kycguard.security.keys import Role
from kycguard.services.runtime import Runtime

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
auditor = require(Role.AUDITOR)


@router.get("", summary="Audit entries in order, a page at a time")
def list_entries(
    after_seq: int = Query(0, ge=0, lt=2**31, description="return entries after this one"),
    limit: int = Query(100, ge=1, le=1000),
    action: str | None = Query(None, max_length=64, pattern=r"^[a-z_.]+$"),
    rt: Runtime = Depends(runtime),
    who: Principal = Depends(auditor),
) -> dict[str, Any]:
    entries = rt.security.audit.entries(
        after_seq=after_seq, limit=limit, action=action, tenant=who.tenant_filter
    )
    return {"entries": entries, "next_after_seq": entries[-1]["seq"] if entries else after_seq}


@router.get("/verify", summary="Check the hash chain: edited or deleted entries are listed")
def verify_chain(rt: Runtime = Depends(runtime), _: Principal = Depends(auditor)) -> dict[str, Any]:
    return rt.security.audit.verify().to_dict()
