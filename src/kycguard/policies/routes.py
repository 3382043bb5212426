"""``/api/v1/policies`` and ``/api/v1/experiments``: read by reviewers and admins, changed by admins
(every change audited). Policies and experiments are deployment-wide: they have no tenant."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from kycguard.api.deps import runtime
from kycguard.policies.apply import RiskInput, apply_policy
from kycguard.policies.document import NAME_PATTERN
from kycguard.policies.experiments import ExperimentService
from kycguard.policies.service import PolicyService, PolicyVersionView
from kycguard.security.auth import Principal, require
from kycguard.security.keys import Role
from kycguard.services.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["policies"])
readers = require(Role.REVIEWER, Role.ADMIN)
admin = require(Role.ADMIN)
Name = Annotated[str, Path(min_length=1, max_length=64, pattern=NAME_PATTERN)]


class _Strict(BaseModel):
    model_config = {"extra": "forbid", "allow_inf_nan": False}


class NewPolicy(_Strict):
    name: str = Field(..., min_length=1, max_length=64)
    document: dict[str, Any] = Field(default_factory=dict)
    comment: str = Field(..., min_length=1, max_length=500, description="why (kept in history)")


class PolicyChange(_Strict):
    document: dict[str, Any]
    comment: str = Field(..., min_length=1, max_length=500)
    activate: bool = True


class Activation(_Strict):
    version: int = Field(..., ge=1, lt=2**31)
    comment: str = Field("rollback", min_length=1, max_length=500)


def policies(rt: Runtime = Depends(runtime)) -> PolicyService:
    assert rt.policies is not None
    return rt.policies


def experiments(rt: Runtime = Depends(runtime)) -> ExperimentService:
    assert rt.experiments is not None
    return rt.experiments


def effective(view: PolicyVersionView, rt: Runtime) -> dict[str, Any]:
    """The thresholds and checks a case of each tier is decided with (no document rule)."""
    tiers: list[str | None] = [*view.document.risk_tiers] or [None]
    out: dict[str, Any] = {}
    for tier in tiers:
        applied = apply_policy(view, rt.settings, RiskInput(level=tier) if tier else None)
        out[tier or "all"] = {
            "thresholds": {
                s: getattr(applied.settings, s).model_dump(mode="json")
                for s in ("face_match", "decision", "quality", "evidence")
            },
            "checks": applied.checks,
            "require_video_session": applied.require_video_session,
        }
    return out


@router.get("/policies", summary="Every policy's active version")
def list_policies(
    service: PolicyService = Depends(policies), _: Principal = Depends(readers)
) -> dict[str, Any]:
    rows = [v.to_dict() for v in service.names()]
    return {"policies": rows, "count": len(rows)}


@router.post("/policies", status_code=201, summary="A new policy, version 1 (audited)")
def create_policy(
    body: NewPolicy, service: PolicyService = Depends(policies), who: Principal = Depends(admin)
) -> dict[str, Any]:
    return service.create(body.name, body.document, actor=who.actor, comment=body.comment).to_dict()


@router.get("/policies/{name}", summary="The active version and its effective thresholds")
def get_policy(
    name: Name,
    rt: Runtime = Depends(runtime),
    service: PolicyService = Depends(policies),
    _: Principal = Depends(readers),
) -> dict[str, Any]:
    view = service.active(name)
    return view.to_dict() | {"effective": effective(view, rt)}


@router.get("/policies/{name}/versions", summary="Every version, newest first (history)")
def policy_versions(
    name: Name, service: PolicyService = Depends(policies), _: Principal = Depends(readers)
) -> dict[str, Any]:
    rows = [v.to_dict() for v in service.history(name)]
    return {"name": name, "versions": rows, "count": len(rows)}


@router.put("/policies/{name}", summary="A new version of the policy (audited)")
def change_policy(
    name: Name,
    body: PolicyChange,
    service: PolicyService = Depends(policies),
    who: Principal = Depends(admin),
) -> dict[str, Any]:
    service.history(name)  # 404 for a policy that does not exist: POST creates one
    return service.new_version(
        name, body.document, actor=who.actor, comment=body.comment, activate=body.activate
    ).to_dict()


@router.post("/policies/{name}/activate", summary="Make a version active again (rollback, audited)")
def activate_policy(
    name: Name,
    body: Activation,
    service: PolicyService = Depends(policies),
    who: Principal = Depends(admin),
) -> dict[str, Any]:
    return service.activate(name, body.version, actor=who.actor, comment=body.comment).to_dict()


@router.get("/experiments", summary="Experiments, newest first; at most one is active")
def list_experiments(
    service: ExperimentService = Depends(experiments), _: Principal = Depends(readers)
) -> dict[str, Any]:
    rows = [e.to_dict() for e in service.list()]
    return {"experiments": rows, "count": len(rows)}


@router.post("/experiments", status_code=201, summary="Start an A/B experiment (audited)")
def start_experiment(
    body: dict[str, Any],
    service: ExperimentService = Depends(experiments),
    who: Principal = Depends(admin),
) -> dict[str, Any]:
    return service.start(body, actor=who.actor).to_dict()


@router.post("/experiments/{name}/stop", summary="Stop the experiment (audited)")
def stop_experiment(
    name: Name, service: ExperimentService = Depends(experiments), who: Principal = Depends(admin)
) -> dict[str, Any]:
    return service.stop(name, actor=who.actor).to_dict()
