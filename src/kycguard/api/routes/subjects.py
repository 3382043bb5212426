"""``DELETE /api/v1/subjects/{user_id}``: the right to erasure.

An integrator erases within its own tenant, an admin in every tenant. The answer is the same whether
or not anything was stored for that user, so the route does not reveal who is a customer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path

from kycguard.api.deps import runtime
from kycguard.security.auth import Principal, require
from kycguard.security.keys import Role
from kycguard.services.runtime import Runtime

router = APIRouter(prefix="/api/v1/subjects", tags=["privacy"])


@router.delete(
    "/{user_id}", summary="Erase every image, frame and face template of a user (audited)"
)
def erase_subject(
    user_id: str = Path(min_length=1, max_length=128),
    rt: Runtime = Depends(runtime),
    who: Principal = Depends(require(Role.INTEGRATOR, Role.ADMIN)),
) -> dict[str, Any]:
    return rt.security.retention.erase_subject(user_id, who.tenant_filter, who.actor)
