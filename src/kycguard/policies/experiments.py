"""A/B experiments: each user is assigned to a variant (a policy) by a hash of the user id.

``sha256(f"{experiment}:{user_id}")`` read as a number in [0, 1) falls into the variants'
cumulative weights: the same user gets the same variant on every retry and on every worker, with no
state stored. One experiment is active at a time for the whole deployment (tenants included), so a
case's variant names one comparison; a case without ``user_id`` takes part in none (its answer says
so). Starting and stopping are audited admin actions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kycguard.errors import InvalidRequest, KycError
from kycguard.policies.document import NAME_PATTERN
from kycguard.policies.models import Experiment
from kycguard.policies.service import PolicyService
from kycguard.security.audit import Actor, AuditLog
from kycguard.store.database import Database


class Variant(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}

    name: str = Field(..., min_length=1, max_length=32, pattern=NAME_PATTERN)
    policy: str = Field(..., min_length=1, max_length=64, pattern=NAME_PATTERN)
    weight: float = Field(..., gt=0, le=1000)


class ExperimentSpec(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}

    name: str = Field(..., min_length=1, max_length=64, pattern=NAME_PATTERN)
    description: str = Field("", max_length=500)
    variants: list[Variant] = Field(..., min_length=2, max_length=10)

    @model_validator(mode="after")
    def _unique(self) -> ExperimentSpec:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("variant names must be unique")
        return self


def assign(experiment: str, user_id: str, variants: Sequence[Variant]) -> Variant:
    """The user's variant: deterministic, proportional to the weights."""
    digest = hashlib.sha256(f"{experiment}:{user_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * sum(v.weight for v in variants)
    cumulative = 0.0
    for v in variants:
        cumulative += v.weight
        if point < cumulative:
            return v
    return variants[-1]  # rounding at the very top


@dataclass(frozen=True)
class ExperimentView:
    name: str
    status: str
    description: str
    variants: list[Variant]
    created_at: datetime
    created_by: str
    stopped_at: datetime | None
    stopped_by: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "description": self.description,
            "variants": [v.model_dump() for v in self.variants],
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "stopped_at": self.stopped_at.isoformat() if self.stopped_at else None,
            "stopped_by": self.stopped_by,
        }


def _view(row: Experiment) -> ExperimentView:
    return ExperimentView(
        row.name,
        row.status,
        row.description,
        [Variant.model_validate(v) for v in row.variants],
        _aware(row.created_at),
        row.created_by,
        _aware(row.stopped_at) if row.stopped_at else None,
        row.stopped_by,
    )


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite returns naive times


class ExperimentService:
    def __init__(self, database: Database, audit: AuditLog, policies: PolicyService) -> None:
        self.db = database
        self.audit = audit
        self.policies = policies

    def active(self) -> ExperimentView | None:
        with self.db.session() as s:
            row = s.scalars(select(Experiment).where(Experiment.status == "active")).first()
            return _view(row) if row else None

    def list(self) -> list[ExperimentView]:
        with self.db.session() as s:
            rows = s.scalars(select(Experiment).order_by(Experiment.created_at.desc())).all()
            return [_view(r) for r in rows]

    def start(self, spec: ExperimentSpec | dict[str, Any], *, actor: Actor) -> ExperimentView:
        """Audited ``experiment.started``; 409 while another experiment is active."""
        try:
            spec = spec if isinstance(spec, ExperimentSpec) else ExperimentSpec.model_validate(spec)
        except ValidationError as exc:
            raise InvalidRequest(
                "the experiment is not valid",
                code="INVALID_EXPERIMENT",
                details={"errors": exc.errors(include_url=False, include_input=False)},
            ) from None
        for v in spec.variants:
            self.policies.active(v.policy)  # 404 POLICY_NOT_FOUND for a variant without one
        try:
            with self.db.session() as s:
                self.audit.append(  # first: the head lock makes "one active" hold across workers
                    s,
                    actor,
                    "experiment.started",
                    target_type="experiment",
                    target_id=spec.name,
                    details={"variants": [v.model_dump() for v in spec.variants]},
                )
                running = s.scalars(select(Experiment).where(Experiment.status == "active")).first()
                if running is not None:
                    raise KycError(
                        f"experiment {running.name!r} is active; stop it first",
                        code="EXPERIMENT_ACTIVE",
                        status_code=409,
                    )
                row = Experiment(
                    name=spec.name,
                    status="active",
                    variants=[v.model_dump() for v in spec.variants],
                    description=spec.description,
                    created_at=datetime.now(UTC),
                    created_by=actor.id[:128],
                )
                s.add(row)
                s.flush()
                return _view(row)
        except IntegrityError:
            raise KycError(
                f"an experiment named {spec.name!r} already exists; names are never reused",
                code="EXPERIMENT_EXISTS",
                status_code=409,
            ) from None

    def stop(self, name: str, *, actor: Actor) -> ExperimentView:
        """Audited ``experiment.stopped``; its cases keep their variants."""
        with self.db.session() as s:
            self.audit.append(
                s, actor, "experiment.stopped", target_type="experiment", target_id=name
            )
            row = s.get(Experiment, name)
            if row is None:
                raise KycError(
                    f"experiment {name!r} does not exist",
                    code="EXPERIMENT_NOT_FOUND",
                    status_code=404,
                )
            if row.status == "active":
                row.status, row.stopped_at, row.stopped_by = (
                    "stopped",
                    datetime.now(UTC),
                    actor.id[:128],
                )
            s.flush()
            return _view(row)
