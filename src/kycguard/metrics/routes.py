"""``/api/v1/metrics/*`` (KPIs for the dashboard) and ``/metrics`` (Prometheus exposition)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.concurrency import run_in_threadpool

from kycguard.api.deps import runtime
from kycguard.metrics.service import MetricsService
from kycguard.security.auth import Principal, require
from kycguard.security.keys import Role
from kycguard.services.runtime import Runtime

router = APIRouter(tags=["metrics"])
readers = require(Role.REVIEWER, Role.AUDITOR, Role.ADMIN)
FROM = Query(None, alias="from", description="ISO 8601 start (default: 30 days before `to`)")
TO = Query(None, description="ISO 8601 end, exclusive (default: now)")
VARIANT = Query(None, max_length=64, description="only cases decided under this A/B variant")


@router.get("/api/v1/metrics/summary", summary="KPIs over a window, FAR/FRR from labels")
async def summary(
    start: datetime | None = FROM,
    end: datetime | None = Query(None, alias="to"),
    variant: str | None = VARIANT,
    rt: Runtime = Depends(runtime),
    who: Principal = Depends(readers),
) -> dict[str, Any]:
    service = MetricsService(rt.database)
    return await run_in_threadpool(
        lambda: service.summary(start, end, variant=variant, tenant=who.tenant_filter)
    )


@router.get("/api/v1/metrics/timeseries", summary="The same KPIs per hour or day")
async def timeseries(
    start: datetime | None = FROM,
    end: datetime | None = Query(None, alias="to"),
    bucket: Literal["hour", "day"] = Query("hour"),
    variant: str | None = VARIANT,
    rt: Runtime = Depends(runtime),
    who: Principal = Depends(readers),
) -> dict[str, Any]:
    service = MetricsService(rt.database)
    return await run_in_threadpool(
        lambda: service.timeseries(start, end, bucket, variant=variant, tenant=who.tenant_filter)
    )


@router.get("/metrics", summary="Prometheus metrics (text exposition format)")
def prometheus(_: Principal = Depends(readers)) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
