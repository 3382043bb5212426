"""The seed's KPIs and FAR/FRR from labels, over a time window; the same numbers per bucket.

One function (:func:`summarise`) computes every figure from a list of cases; the summary applies it
to the whole window and the time series to each bucket, so the two always agree. Counts
(approved / manual_review / rejected) are the service's own decisions; ``final`` adds the reviewers'
outcomes. FAR and FRR come from labelled cases only (reviewer feedback), judged on the final
outcome: a case labelled fraud that ended ``approved`` is a false accept, a case labelled genuine
that ended ``rejected`` a false reject; cases still waiting for review count in neither.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select

from kycguard.errors import InvalidRequest
from kycguard.reviews.models import CaseLabel, ReviewCase
from kycguard.store.database import Database
from kycguard.store.models import Verification
from kycguard.store.session_models import KycSession

LIVENESS_CODES = {"LIVENESS_FAILED", "CHALLENGE_FAILED", "SEQUENCE_LIVENESS_FAILED"}
DEEPFAKE_CODES = {"DEEPFAKE_SUSPECTED", "INJECTION_SUSPECTED"}
FACE_MATCH_CODES = {"FACE_MISMATCH"}
MAX_BUCKETS = 2000


@dataclass(frozen=True)
class Case:
    kind: str
    id: str
    at: datetime
    status: str
    final_status: str
    review_decision: str | None
    confidence: float
    processing_ms: float | None
    reasons: frozenset[str]
    document_failed: bool
    was_fraud: bool | None
    experiment: str | None = None  # the A/B experiment whose variant decided it
    variant: str | None = None


def wilson(errors: int, total: int, z: float = 1.959964) -> list[float]:
    """95 % Wilson score interval of a proportion (sensible at 0 errors and small totals)."""
    if total == 0:
        return [0.0, 1.0]
    p = errors / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return [round(max(0.0, centre - half), 6), round(min(1.0, centre + half), 6)]


def rate(errors: int, total: int) -> dict[str, Any]:
    return {
        "rate": round(errors / total, 6) if total else None,
        "errors": errors,
        "total": total,
        "ci95": wilson(errors, total),
    }


def summarise(cases: list[Case]) -> dict[str, Any]:
    n = len(cases)
    by = {s: sum(c.status == s for c in cases) for s in ("approved", "manual_review", "rejected")}
    final = {
        s: sum(c.final_status == s for c in cases)
        for s in ("approved", "manual_review", "rejected")
    }
    times = np.array([c.processing_ms for c in cases if c.processing_ms is not None], float)
    fraud = [c for c in cases if c.was_fraud is True and c.final_status != "manual_review"]
    genuine = [c for c in cases if c.was_fraud is False and c.final_status != "manual_review"]
    return {
        "total": n,
        **by,
        "final": final,
        "reviewed": sum(c.review_decision is not None for c in cases),
        "review_decisions": {
            d: sum(c.review_decision == d for c in cases)
            for d in ("approve", "reject", "request_resubmission")
        },
        "average_confidence": round(float(np.mean([c.confidence for c in cases])), 2)
        if n
        else None,
        "average_processing_ms": round(float(times.mean()), 1) if times.size else None,
        "p95_processing_ms": round(float(np.percentile(times, 95)), 1) if times.size else None,
        "liveness_failures": sum(bool(c.reasons & LIVENESS_CODES) for c in cases),
        "deepfake_detections": sum(bool(c.reasons & DEEPFAKE_CODES) for c in cases),
        "face_match_failures": sum(bool(c.reasons & FACE_MATCH_CODES) for c in cases),
        "document_authenticity_failures": sum(c.document_failed for c in cases),
        "success_rate": round(by["approved"] / n, 6) if n else None,
        "review_rate": round(by["manual_review"] / n, 6) if n else None,
        "labelled": sum(c.was_fraud is not None for c in cases),
        "false_accept_rate": rate(sum(c.final_status == "approved" for c in fraud), len(fraud)),
        "false_reject_rate": rate(sum(c.final_status == "rejected" for c in genuine), len(genuine)),
    }


class MetricsService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def labelled_accepts(
        self, tenant: str | None, since: datetime, until: datetime
    ) -> tuple[int, int]:
        """For the alerts' false-accept health rule: (labelled fraud among the labelled cases
        that ended approved, labelled cases that ended approved) in the window."""
        cases = self.cases(since, until, variant=None, tenant=tenant)
        accepted = [c for c in cases if c.was_fraud is not None and c.final_status == "approved"]
        return sum(c.was_fraud is True for c in accepted), len(accepted)

    def summary(
        self,
        start: datetime | None,
        end: datetime | None,
        *,
        variant: str | None = None,
        tenant: str | None = None,
    ) -> dict[str, Any]:
        start, end = _window(start, end)
        cases = self.cases(start, end, variant=variant, tenant=tenant)
        return {"from": start.isoformat(), "to": end.isoformat(), "variant": variant} | summarise(
            cases
        )

    def timeseries(
        self,
        start: datetime | None,
        end: datetime | None,
        bucket: str,
        *,
        variant: str | None = None,
        tenant: str | None = None,
    ) -> dict[str, Any]:
        if bucket not in ("hour", "day"):
            raise InvalidRequest("bucket must be hour or day", field="bucket")
        start, end = _window(start, end)
        step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
        first = start.replace(minute=0, second=0, microsecond=0)
        if bucket == "day":
            first = first.replace(hour=0)
        if (end - first) / step > MAX_BUCKETS:
            raise InvalidRequest(
                f"the window holds more than {MAX_BUCKETS} {bucket} buckets", field="bucket"
            )
        cases = self.cases(start, end, variant=variant, tenant=tenant)
        buckets = []
        at = first
        while at < end:
            inside = [c for c in cases if at <= c.at < at + step]
            s = summarise(inside)
            buckets.append(
                {"start": at.isoformat(), "end": (at + step).isoformat()}
                | {
                    k: s[k]
                    for k in (
                        "total",
                        "approved",
                        "manual_review",
                        "rejected",
                        "final",
                        "p95_processing_ms",
                        "review_rate",
                        "false_accept_rate",
                        "false_reject_rate",
                    )
                }
            )
            at += step
        return {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "bucket": bucket,
            "buckets": buckets,
        }

    def cases(
        self,
        start: datetime,
        end: datetime,
        *,
        variant: str | None,
        tenant: str | None,
        experiment: str | None = None,
    ) -> list[Case]:
        """Every decided verification and session in [start, end), with its review outcome and
        label (only those of ``experiment``'s ``variant`` when given)."""
        with self.db.session() as s:
            # only the few fields the figures need, extracted in the database: a whole answer is
            # kilobytes, and a month of them would not fit in memory
            vq = select(
                Verification.id, Verification.created_at, *_slim(Verification.result)
            ).where(Verification.created_at >= start, Verification.created_at < end)
            sq = select(KycSession.id, KycSession.completed_at, *_slim(KycSession.result)).where(
                KycSession.completed_at >= start,
                KycSession.completed_at < end,
                KycSession.result.is_not(None),
            )
            if tenant is not None:
                vq = vq.where(Verification.tenant == tenant)
                sq = sq.where(KycSession.tenant == tenant)
            raw: list[tuple[str, str, datetime, dict[str, Any]]] = [
                ("verification", row[0], row[1], _unslim(row[2:])) for row in s.execute(vq)
            ]
            raw += [("session", row[0], row[1], _unslim(row[2:])) for row in s.execute(sq)]
            if variant is not None:
                raw = [x for x in raw if _variant(x[3]) == variant]
            if experiment is not None:
                raw = [x for x in raw if _experiment(x[3]) == experiment]
            ids = {(k, i) for k, i, _, _ in raw}
            finals = _by_case(
                s.execute(
                    select(ReviewCase.kind, ReviewCase.case_id, ReviewCase.decision).where(
                        ReviewCase.status == "decided",
                        ReviewCase.created_at >= start - timedelta(days=1),
                        ReviewCase.created_at < end + timedelta(days=1),
                    )
                ),
                ids,
            )
            labels = _by_case(
                s.execute(
                    select(CaseLabel.kind, CaseLabel.case_id, CaseLabel.was_fraud).where(
                        CaseLabel.case_created_at >= start - timedelta(days=1),
                        CaseLabel.case_created_at < end + timedelta(days=1),
                    )
                ),
                ids,
            )
        return [_case(k, i, at, r, finals.get((k, i)), labels.get((k, i))) for k, i, at, r in raw]


SLIM_FIELDS: tuple[tuple[str, ...], ...] = (
    ("status",),
    ("overall_confidence",),
    ("reasons",),
    ("processing_time_ms",),
    ("document_authenticity", "checks"),
    ("variant",),
    ("policy", "variant"),
    ("policy", "experiment"),
)


def _slim(column: Any, fields: Sequence[tuple[str, ...]] = SLIM_FIELDS) -> list[Any]:
    """JSON path extractions (SQLite json_extract, PostgreSQL #>) of ``fields`` of an answer."""
    return [column[path if len(path) > 1 else path[0]] for path in fields]


def _unslim(
    values: Sequence[Any], fields: Sequence[tuple[str, ...]] = SLIM_FIELDS
) -> dict[str, Any]:
    """The extracted values as a (small) answer-shaped dict."""
    out: dict[str, Any] = {}
    for path, value in zip(fields, values, strict=True):
        if value is None:
            continue
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return out


def _by_case(rows: Iterable[Any], ids: set[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    return {(k, i): v for k, i, v in rows if (k, i) in ids}


def _case(
    kind: str,
    case_id: str,
    at: datetime,
    result: dict[str, Any],
    review: dict[str, Any] | None,
    was_fraud: bool | None,
) -> Case:
    from kycguard.reviews.reasons import DECISIONS

    status = str(result.get("status"))
    decision = str(review["decision"]) if review else None
    ms = result.get("processing_time_ms")
    return Case(
        kind=kind,
        id=case_id,
        at=at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC),
        status=status,
        final_status=DECISIONS.get(decision or "", status),
        review_decision=decision,
        confidence=float(result.get("overall_confidence") or 0.0),
        processing_ms=float(ms) if isinstance(ms, int | float) else None,
        reasons=frozenset(str(r) for r in result.get("reasons") or []),
        document_failed=_document_failed(result),
        was_fraud=was_fraud,
        experiment=_experiment(result),
        variant=_variant(result),
    )


def _document_failed(result: dict[str, Any]) -> bool:
    """A document check failed (an unread MRZ is normal on a card's front and does not count)."""
    doc = result.get("document_authenticity") or {}
    checks = doc.get("checks") if isinstance(doc, dict) else None
    return any(
        isinstance(c, dict) and c.get("passed") is False and c.get("name") != "mrz_read"
        for c in checks or []
    )


def _variant(result: dict[str, Any]) -> str | None:
    """The A/B variant an answer was decided under, where the policy layer records one."""
    v = result.get("variant")
    if v is None and isinstance(result.get("policy"), dict):
        v = result["policy"].get("variant")
    return None if v is None else str(v)


def _experiment(result: dict[str, Any]) -> str | None:
    policy = result.get("policy")
    v = policy.get("experiment") if isinstance(policy, dict) else None
    return None if v is None else str(v)


def _window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end = _utc(end) if end is not None else datetime.now(UTC) + timedelta(seconds=1)
    start = _utc(start) if start is not None else end - timedelta(days=30)
    if start >= end:
        raise InvalidRequest("from must be before to", field="from")
    return start, end


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
