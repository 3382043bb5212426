"""``/api/v1/webhooks``: an integrator's endpoints and deliveries (its tenant), or any tenant's (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from kycguard.api.deps import runtime
from kycguard.delivery.routes import add_delivery_routes
from kycguard.errors import InvalidRequest
from kycguard.security.auth import Principal, require
from kycguard.security.keys import Role
from kycguard.services.runtime import Runtime
from kycguard.webhooks.service import WebhookService

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])
owners = require(Role.INTEGRATOR, Role.ADMIN)


class NewEndpoint(BaseModel):
    model_config = {"extra": "forbid"}

    url: str = Field(max_length=2000, description="Where events are POSTed (public address).")
    events: list[str] | None = Field(
        None, description="Subset of verification.completed, session.completed, review.decided."
    )
    description: str = Field("", max_length=200)
    tenant: str | None = Field(None, description="Admins only: the tenant the endpoint serves.")


def webhooks(rt: Runtime = Depends(runtime)) -> WebhookService:
    return rt.webhooks


@router.post(
    "/endpoints",
    status_code=201,
    summary="Register an endpoint; the answer shows its signing secret once",
)
def register(
    body: NewEndpoint, service: WebhookService = Depends(webhooks), who: Principal = Depends(owners)
) -> dict[str, Any]:
    tenant = who.tenant_filter or body.tenant
    if who.tenant_filter is not None and body.tenant not in (None, who.tenant_filter):
        raise InvalidRequest("an integrator registers endpoints of its own tenant", field="tenant")
    if tenant is None:
        raise InvalidRequest("name the tenant this endpoint serves", field="tenant")
    return service.register(
        tenant=tenant,
        url=body.url,
        actor=who.actor,
        events=body.events,
        description=body.description,
    )


@router.get("/endpoints", summary="Registered endpoints (never their secrets)")
def list_endpoints(
    service: WebhookService = Depends(webhooks), who: Principal = Depends(owners)
) -> dict[str, Any]:
    return {"endpoints": service.endpoints(tenant=who.tenant_filter)}


@router.delete("/endpoints/{endpoint_id}", summary="Stop sending to an endpoint")
def delete_endpoint(
    endpoint_id: str, service: WebhookService = Depends(webhooks), who: Principal = Depends(owners)
) -> dict[str, Any]:
    return service.delete(endpoint_id, who.actor, tenant=who.tenant_filter)


add_delivery_routes(
    router, lambda rt: rt.webhooks.deliveries, read=owners, write=owners, what="webhooks"
)
