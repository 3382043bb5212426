"""``GET /api/v1/experiments/{name}/report`` and ``GET /api/v1/policies/tuning-reports``.

Readers only (reviewer, auditor, admin); a tenanted key sees its own tenant's cases in the
experiment report. The stored tuning reports are deployment-wide (a policy is), so they are for
untenanted keys. This router is included before the policy routes: ``/api/v1/policies/tuning-reports``
would otherwise be read as the policy named ``tuning-reports``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from kycguard.api.deps import runtime
from kycguard.errors import KycError
from kycguard.metrics.service import MetricsService
from kycguard.policies.models import Experiment
from kycguard.policies.report import experiment_report
from kycguard.security.auth import Principal, require
from kycguard.security.keys import Role
from kycguard.services.runtime import Runtime
from kycguard.store.database import Database

router = APIRouter(tags=["policies"])
readers = require(Role.REVIEWER, Role.AUDITOR, Role.ADMIN)


@dataclass(frozen=True)
class ExperimentWindow:
    variants: list[str]
    start: datetime
    end: datetime | None


def experiment_window(db: Database, name: str) -> ExperimentWindow:
    """The experiment's variants and lifetime (the report's default window)."""
    with db.session() as s:
        row = s.get(Experiment, name)
        if row is None:
            raise KycError(
                f"experiment {name!r} does not exist", code="EXPERIMENT_NOT_FOUND", status_code=404
            )
        start = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        end = row.stopped_at
        return ExperimentWindow(
            [str(v["name"]) for v in row.variants],
            start,
            None if end is None else (end if end.tzinfo else end.replace(tzinfo=UTC)),
        )


@router.get(
    "/api/v1/experiments/{name}/report",
    summary="Compare an experiment's variants: counts, rates, significance tests",
)
async def report(
    name: str,
    start: datetime | None = Query(None, alias="from", description="default: the start"),
    end: datetime | None = Query(None, alias="to", description="default: its stop, or now"),
    min_cases: int = Query(30, ge=1, le=100000, description="fewer per variant: too small"),
    rt: Runtime = Depends(runtime),
    who: Principal = Depends(readers),
) -> dict[str, Any]:
    def build() -> dict[str, Any]:
        w = experiment_window(rt.database, name)
        return experiment_report(
            MetricsService(rt.database),
            name,
            w.variants,
            start or w.start,
            end or w.end,
            tenant=who.tenant_filter,
            min_cases=min_cases,
        )

    return await run_in_threadpool(build)


@router.get("/api/v1/policies/tuning-reports", summary="The scheduled tuning reports, newest first")
async def tuning_reports(
    limit: int = Query(20, ge=1, le=200),
    rt: Runtime = Depends(runtime),
    who: Principal = Depends(readers),
) -> dict[str, Any]:
    if who.tenant_filter is not None:
        raise KycError(
            "tuning reports cover every tenant: use a key without a tenant",
            code="FORBIDDEN_FOR_TENANT",
            status_code=403,
        )
    service = rt.tuning
    assert service is not None
    return {"items": await run_in_threadpool(lambda: service.reports(limit))}
