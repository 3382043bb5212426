"""The delivery routes alerts and webhooks both offer: list, one with its attempt log, redeliver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query

from kycguard.api.deps import runtime
from kycguard.delivery.service import DeliveryLog
from kycguard.security.auth import Principal
from kycguard.services.runtime import Runtime

Status = Literal["pending", "delivered", "dead"]


def add_delivery_routes(
    router: APIRouter,
    log_of: Callable[[Runtime], DeliveryLog],
    *,
    read: Callable[..., Any],
    write: Callable[..., Any],
    what: str,
) -> None:
    """``GET /deliveries``, ``GET /deliveries/{delivery_id}``, ``POST .../redeliver`` on ``router``."""

    @router.get("/deliveries", summary=f"Deliveries of {what}, newest first (dead letters too)")
    def list_deliveries(
        status: Status | None = Query(None),
        target: str | None = Query(None, max_length=64),
        limit: int = Query(100, ge=1, le=1000),
        rt: Runtime = Depends(runtime),
        who: Principal = Depends(read),
    ) -> dict[str, Any]:
        rows = log_of(rt).find(tenant=who.tenant_filter, status=status, target=target, limit=limit)
        return {"deliveries": rows, "count": len(rows)}

    @router.get("/deliveries/{delivery_id}", summary=f"One delivery of {what} with every attempt")
    def get_delivery(
        delivery_id: str, rt: Runtime = Depends(runtime), who: Principal = Depends(read)
    ) -> dict[str, Any]:
        return log_of(rt).get(delivery_id, tenant=who.tenant_filter)

    @router.post(
        "/deliveries/{delivery_id}/redeliver",
        summary=f"Send one delivery of {what} again now (dead letters included)",
    )
    def redeliver(
        delivery_id: str, rt: Runtime = Depends(runtime), who: Principal = Depends(write)
    ) -> dict[str, Any]:
        return log_of(rt).redeliver(delivery_id, tenant=who.tenant_filter)
