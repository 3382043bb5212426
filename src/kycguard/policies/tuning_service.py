"""``TuningService``: the tuning report of a policy, applying it, and the scheduled report.

``kycguard tune`` and the scheduled job build the same report (:func:`kycguard.policies.tuning.tune`
over the labelled cases, today's values from the policy's active version). Applying it writes a new
policy version through ``PolicyService.new_version`` (audited there as ``policy.version_created``),
only if the policy is still at the version the report was made on. The scheduled job
(``TuningSettings``) counts the decisions stored since the last report and, every
``every_decisions``, stores a report (``tuning.report_created`` in the audit log) and applies it
when ``auto_apply`` is on and every change is inside its bounds (``tuning.report_applied``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from kycguard.errors import KycError
from kycguard.jobs import PeriodicJob
from kycguard.policies.document import merge
from kycguard.policies.service import PolicyService, PolicyVersionView
from kycguard.policies.tuning import current_thresholds, labelled_cases, tune
from kycguard.policies.tuning_config import TuningSettings
from kycguard.policies.tuning_models import TuningReport
from kycguard.security.audit import SYSTEM, Actor, AuditLog
from kycguard.settings import Settings
from kycguard.store.database import Database
from kycguard.store.models import Verification
from kycguard.store.session_models import KycSession

Progress = Callable[[Iterable[float]], Iterable[float]]


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class TuningService:
    def __init__(
        self, database: Database, audit: AuditLog, settings: Settings, policies: PolicyService
    ) -> None:
        self.db = database
        self.audit = audit
        self.settings = settings
        self.policies = policies

    @property
    def config(self) -> TuningSettings:
        return self.settings.policies.tuning

    def report(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        policy: str | None = None,
        target_far: float | None = None,
        max_frr: float | None = None,
        tenant: str | None = None,
        progress: Progress = lambda x: x,
    ) -> dict[str, Any]:
        """The tuning report of ``policy`` (default: the default policy) over the labelled cases
        decided under it in [start, end) (default: the last ``window_days``)."""
        active = self.policies.active(policy)
        end = end or datetime.now(UTC) + timedelta(seconds=1)
        start = start or end - timedelta(days=self.config.window_days)
        start, end, cases = labelled_cases(
            self.db,
            start,
            end,
            tenant=tenant,
            policy=active.name,
            default_policy=self.settings.policies.default_policy,
        )
        current = current_thresholds(self.settings, active.document.thresholds)
        body = tune(
            cases,
            current,
            self.config.target_far if target_far is None else target_far,
            self.config.max_frr if max_frr is None else max_frr,
            progress,
        )
        return {
            "generated_at": datetime.now(UTC).isoformat(),
            "from": start.isoformat(),
            "to": end.isoformat(),
            "tenant": tenant,
            "policy": {"name": active.name, "version": active.version},
        } | body

    def apply(self, report: dict[str, Any], *, actor: Actor, comment: str) -> PolicyVersionView:
        """A new version of the report's policy with the proposed thresholds laid over its own."""
        name, version = report["policy"]["name"], report["policy"]["version"]
        if not report["proposed"]:
            raise KycError(
                "the report proposes no change", code="NOTHING_TO_APPLY", status_code=409
            )
        active = self.policies.active(name)
        if active.version != version:
            raise KycError(
                f"policy {name!r} is at version {active.version}, the report was made on "
                f"version {version}: make a new report",
                code="POLICY_CHANGED",
                status_code=409,
            )
        doc = active.document.model_dump(mode="json")
        doc["thresholds"] = merge(doc.get("thresholds") or {}, report["proposed"])
        return self.policies.new_version(name, doc, actor=actor, comment=comment)

    # -- the scheduled report ----------------------------------------------------------------------

    def decisions_since(self, since: datetime | None) -> int:
        """Verifications and completed sessions stored after ``since`` (all when None)."""
        with self.db.session() as s:
            vq = select(func.count()).select_from(Verification)
            sq = select(func.count()).select_from(KycSession).where(KycSession.result.is_not(None))
            if since is not None:
                vq = vq.where(Verification.created_at > since)
                sq = sq.where(KycSession.completed_at > since)
            return int(s.scalar(vq) or 0) + int(s.scalar(sq) or 0)

    def last_report_at(self) -> datetime | None:
        with self.db.session() as s:
            at = s.scalar(select(func.max(TuningReport.created_at)))
        return None if at is None else _utc(at)

    def scheduled(self) -> dict[str, Any] | None:
        """The job's body: a report once ``every_decisions`` decisions were stored since the last
        one (None before that), applied when allowed."""
        decisions = self.decisions_since(self.last_report_at())
        if decisions < self.config.every_decisions:
            return None
        report = self.report()
        reasons = self.auto_apply_refusals(report)
        row_id = self._store(report, decisions)
        if reasons:
            return self._finish(row_id, "not_applied" if report["proposed"] else "proposed",
                                None, "; ".join(reasons))  # fmt: skip
        made = self.apply(report, actor=SYSTEM, comment=f"tuning report {row_id} (auto-applied)")
        return self._finish(row_id, "applied", made.version, "applied within bounds")

    def auto_apply_refusals(self, report: dict[str, Any]) -> list[str]:
        """Why the report may not be applied automatically (empty: it may)."""
        if not report["proposed"]:
            return ["no change proposed"]
        out = [] if self.config.auto_apply else ["auto_apply is off"]
        if report["labelled"]["total"] < self.config.min_labelled:
            out.append(
                f"{report['labelled']['total']} labelled cases, fewer than min_labelled "
                f"{self.config.min_labelled}"
            )
        for section, fields in report["proposed"].items():
            for field, value in fields.items():
                key = f"{section}.{field}"
                bound = self.config.bounds.get(key)
                change = report["thresholds"][key]["recommended"]["change"]
                if bound is None:
                    out.append(f"{key} has no bounds")
                elif not bound.min <= value <= bound.max:
                    out.append(f"{key} {value} is outside [{bound.min}, {bound.max}]")
                elif abs(change) > bound.max_step + 1e-9:
                    out.append(f"{key} would move {change:+g}, more than max_step {bound.max_step}")
        return out

    def _store(self, report: dict[str, Any], decisions: int) -> str:
        row_id = str(uuid.uuid4())
        with self.db.session() as s:
            self.audit.append(
                s,
                SYSTEM,
                "tuning.report_created",
                target_type="tuning_report",
                target_id=row_id,
                details={"policy": report["policy"], "decisions": decisions,
                         "proposed": report["proposed"], "labelled": report["labelled"]},
            )  # fmt: skip
            s.add(
                TuningReport(
                    id=row_id,
                    created_at=datetime.now(UTC),
                    policy_name=report["policy"]["name"],
                    policy_version=report["policy"]["version"],
                    decisions=decisions,
                    window_from=datetime.fromisoformat(report["from"]),
                    window_to=datetime.fromisoformat(report["to"]),
                    report=report,
                    proposed=report["proposed"],
                    status="proposed",
                    note="",
                )
            )
        return row_id

    def _finish(self, row_id: str, status: str, version: int | None, note: str) -> dict[str, Any]:
        with self.db.session() as s:
            row = s.get(TuningReport, row_id)
            assert row is not None
            if status == "applied":
                self.audit.append(
                    s,
                    SYSTEM,
                    "tuning.report_applied",
                    target_type="tuning_report",
                    target_id=row_id,
                    details={"policy": row.policy_name, "version": version,
                             "proposed": row.proposed},
                )  # fmt: skip
            row.status, row.applied_version, row.note = status, version, note
            return report_view(row)

    def reports(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.db.session() as s:
            rows = s.scalars(
                select(TuningReport).order_by(TuningReport.created_at.desc()).limit(limit)
            ).all()
            return [report_view(r) for r in rows]

    def jobs(self) -> list[PeriodicJob]:
        if not self.config.enabled:
            return []
        return [PeriodicJob("tuning_report", self.config.check_interval_s, self.scheduled)]


def report_view(row: TuningReport) -> dict[str, Any]:
    """A stored report as the route shows it (the sweep itself is in ``report``)."""
    return {
        "id": row.id,
        "created_at": _utc(row.created_at).isoformat(),
        "policy": {"name": row.policy_name, "version": row.policy_version},
        "decisions": row.decisions,
        "from": _utc(row.window_from).isoformat(),
        "to": _utc(row.window_to).isoformat(),
        "proposed": row.proposed,
        "status": row.status,
        "applied_version": row.applied_version,
        "note": row.note,
        "report": row.report,
    }
