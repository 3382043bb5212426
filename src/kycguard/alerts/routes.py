"""``/api/v1/alerts``: read by reviewers, admins and auditors; acknowledged and resolved by reviewers
and admins. A tenant-bound key sees its tenant's alerts only (system-health alerts have none)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query

from kycguard.alerts.config import AlertSeverity
from kycguard.alerts.service import AlertService
from kycguard.api.deps import runtime
from kycguard.delivery.routes import add_delivery_routes
from kycguard.security.auth import Principal, require
from kycguard.security.keys import Role
from kycguard.services.runtime import Runtime

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])
readers = require(Role.REVIEWER, Role.ADMIN, Role.AUDITOR)
deciders = require(Role.REVIEWER, Role.ADMIN)
TYPE = Query(None, alias="type", max_length=48, pattern=r"^[a-z_]+$")
SINCE = Query(None, alias="from", description="ISO 8601; alerts seen at or after")
UNTIL = Query(None, alias="to", description="ISO 8601; alerts first seen before")


def alerts(rt: Runtime = Depends(runtime)) -> AlertService:
    return rt.alerts


@router.get("/active", summary="Unresolved alerts, most severe first (the seed's route)")
def active(
    service: AlertService = Depends(alerts), who: Principal = Depends(readers)
) -> dict[str, Any]:
    rows = service.active(tenant=who.tenant_filter)
    return {"alerts": rows, "count": len(rows)}


@router.get("", summary="Alerts, newest first, filtered by severity, type, status and time")
def list_alerts(
    severity: AlertSeverity | None = Query(None),
    type_: str | None = TYPE,
    status: str | None = Query(None, pattern=r"^(active|acknowledged|resolved)$"),
    since: datetime | None = SINCE,
    until: datetime | None = UNTIL,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, lt=2**31),
    service: AlertService = Depends(alerts),
    who: Principal = Depends(readers),
) -> dict[str, Any]:
    rows = service.find(
        tenant=who.tenant_filter,
        severity=severity.value if severity else None,
        type_=type_,
        status=status,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return {"alerts": rows, "count": len(rows), "offset": offset}


@router.get("/statistics", summary="Incidents and occurrences by severity, type and status")
def statistics(
    since: datetime | None = SINCE,
    until: datetime | None = UNTIL,
    service: AlertService = Depends(alerts),
    who: Principal = Depends(readers),
) -> dict[str, Any]:
    return service.statistics(tenant=who.tenant_filter, since=since, until=until)


add_delivery_routes(
    router,
    lambda rt: rt.alerts.deliveries,
    read=readers,
    write=require(Role.ADMIN),
    what="alerts",
)


@router.get("/{alert_id}", summary="One alert")
def get_alert(
    alert_id: str, service: AlertService = Depends(alerts), who: Principal = Depends(readers)
) -> dict[str, Any]:
    return service.get(alert_id, tenant=who.tenant_filter)


@router.post("/{alert_id}/acknowledge", summary="Someone is on it (audited)")
def acknowledge(
    alert_id: str, service: AlertService = Depends(alerts), who: Principal = Depends(deciders)
) -> dict[str, Any]:
    return service.acknowledge(alert_id, who.actor, tenant=who.tenant_filter)


@router.post("/{alert_id}/resolve", summary="Closed; a new occurrence opens a new alert (audited)")
def resolve(
    alert_id: str, service: AlertService = Depends(alerts), who: Principal = Depends(deciders)
) -> dict[str, Any]:
    return service.resolve(alert_id, who.actor, tenant=who.tenant_filter)
