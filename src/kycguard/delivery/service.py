"""The outbox: write in the event's transaction, claim with a lease, send, record, back off, dead-letter.

At-least-once: a runner that crashes after sending but before recording leaves the row claimed; when
the lease passes any runner sends it again, so receivers de-duplicate by the stable event id. Claiming
is one conditional ``UPDATE`` (rows still unclaimed, or whose lease expired), preceded on PostgreSQL by
``SELECT ... FOR UPDATE SKIP LOCKED`` so concurrent runners pick disjoint rows without waiting; on
SQLite the single writer makes the conditional update enough.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from kycguard.delivery.config import RetrySettings
from kycguard.delivery.models import Delivery, DeliveryAttempt
from kycguard.errors import Conflict, NotFound
from kycguard.store.database import Database

log = logging.getLogger(__name__)

DELIVERIES = Counter(
    "kycguard_deliveries",
    "Delivery attempts of alerts and integrator webhooks by outcome (delivered, failed, dead).",
    ["kind", "channel", "outcome"],
)


class DeliveryFailed(Exception):
    """One attempt failed. ``permanent``: retrying cannot help (endpoint deleted, address refused)."""

    def __init__(
        self, message: str, *, status_code: int | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.permanent = permanent


@dataclass(frozen=True)
class Outgoing:
    """What a sender gets: a claimed row, read-only."""

    id: str
    kind: str
    channel: str
    target: str | None
    tenant: str | None
    event_id: str | None
    event_type: str
    payload: dict[str, Any]
    attempt: int


# A sender delivers one message or raises DeliveryFailed; it returns the HTTP status if any.
Sender = Callable[[Outgoing], int | None]


def now_utc() -> datetime:
    return datetime.now(UTC)


def aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def enqueue(
    session: Session,
    *,
    kind: str,
    channel: str,
    event_type: str,
    payload: dict[str, Any],
    target: str | None = None,
    tenant: str | None = None,
    event_id: str | None = None,
    not_before: datetime | None = None,
) -> str:
    """Add one outbox row in the caller's transaction (it commits with the event or not at all)."""
    at = now_utc()
    delivery_id = "dlv_" + secrets.token_hex(12)
    session.add(
        Delivery(
            id=delivery_id,
            kind=kind,
            channel=channel,
            target=target,
            tenant=tenant,
            event_id=event_id,
            event_type=event_type,
            payload=payload,
            status="pending",
            attempts=0,
            created_at=at,
            retry_from=at,
            next_attempt_at=not_before or at,
        )
    )
    return delivery_id


def backoff_s(attempts: int, retry: RetrySettings, rng: random.Random | None = None) -> float:
    """Wait after the ``attempts``-th failure: first * 2^(n-1), capped, minus up to ``jitter``."""
    base = min(retry.first_interval_s * 2 ** max(attempts - 1, 0), retry.max_interval_s)
    return base * (1 - (rng or random).random() * retry.jitter)


class Outbox:
    """Delivery of one ``kind`` of rows with its senders (channel -> sender) and retry schedule."""

    def __init__(
        self, db: Database, kind: str, retry: RetrySettings, senders: Mapping[str, Sender]
    ) -> None:
        self.db = db
        self.kind = kind
        self.retry = retry
        self.senders = dict(senders)

    def claim(self) -> list[Outgoing]:
        """Due rows of this kind, leased to this runner for ``lease_s``."""
        at = now_utc()
        token = secrets.token_hex(16)
        due = (
            Delivery.kind == self.kind,
            Delivery.status == "pending",
            Delivery.next_attempt_at <= at,
            or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < at),
        )
        with self.db.session() as session:
            pick = select(Delivery.id).where(*due).order_by(Delivery.next_attempt_at)
            pick = pick.limit(self.retry.batch)
            if session.bind is not None and session.bind.dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            ids = list(session.scalars(pick))
            if not ids:
                return []
            session.execute(
                update(Delivery)
                .where(Delivery.id.in_(ids), *due)
                .values(claimed_until=at + timedelta(seconds=self.retry.lease_s), claim_token=token)
                .execution_options(synchronize_session=False)
            )
            rows = session.scalars(select(Delivery).where(Delivery.claim_token == token)).all()
            return [
                Outgoing(
                    r.id,
                    r.kind,
                    r.channel,
                    r.target,
                    r.tenant,
                    r.event_id,
                    r.event_type,
                    dict(r.payload),
                    r.attempts + 1,
                )
                for r in rows
            ]

    def run(self) -> int:
        """One pass: claim, send, record. Returns how many rows were attempted. The job function."""
        items = self.claim()
        # stop before the lease runs out: the rest are claimed again (by anyone) once it has,
        # and must not be sent by two runners at once
        deadline = time.monotonic() + 0.8 * self.retry.lease_s
        done = 0
        for item in items:
            if time.monotonic() > deadline:
                break
            self.attempt(item)
            done += 1
        return done

    def attempt(self, item: Outgoing) -> None:
        started = now_utc()
        t0 = time.perf_counter()
        sender = self.senders.get(item.channel)
        error: DeliveryFailed | None = None
        status_code: int | None = None
        try:
            if sender is None:
                raise DeliveryFailed(f"channel {item.channel} is not configured", permanent=True)
            status_code = sender(item)
        except DeliveryFailed as exc:
            error = exc
        except Exception as exc:  # a sender bug must not lose the row: record it, retry later
            error = DeliveryFailed(f"{type(exc).__name__}: {exc}")
        self._record(item, started, (time.perf_counter() - t0) * 1000, status_code, error)

    def _record(
        self,
        item: Outgoing,
        started: datetime,
        duration_ms: float,
        status_code: int | None,
        error: DeliveryFailed | None,
    ) -> None:
        with self.db.session() as session:
            row = session.get(Delivery, item.id)
            if row is None:  # erased meanwhile
                return
            session.add(
                DeliveryAttempt(
                    delivery_id=item.id,
                    number=item.attempt,
                    started_at=started,
                    duration_ms=round(duration_ms, 1),
                    outcome="delivered" if error is None else "failed",
                    status_code=error.status_code if error else status_code,
                    error=str(error)[:500] if error else None,
                )
            )
            row.attempts = max(row.attempts, item.attempt)
            row.claimed_until = None
            row.claim_token = None
            if error is None:
                row.status, row.delivered_at, row.last_error = "delivered", now_utc(), None
                DELIVERIES.labels(self.kind, item.channel, "delivered").inc()
                return
            row.last_error = str(error)[:500]
            DELIVERIES.labels(self.kind, item.channel, "failed").inc()
            wait = timedelta(seconds=backoff_s(row.attempts, self.retry))
            next_at = now_utc() + wait
            if error.permanent or next_at > aware(row.retry_from) + timedelta(
                seconds=self.retry.max_age_s
            ):
                row.status = "dead"
                DELIVERIES.labels(self.kind, item.channel, "dead").inc()
                log.warning(
                    "delivery %s (%s %s) dead after %d attempts: %s",
                    item.id,
                    self.kind,
                    item.channel,
                    row.attempts,
                    row.last_error,
                )
            else:
                row.next_attempt_at = next_at


def purge_finished(
    session: Session, *, delivered_before: datetime, dead_before: datetime
) -> dict[str, int]:
    """Delete, in the caller's transaction, the rows delivered before ``delivered_before`` and the
    dead letters whose retry window began before ``dead_before`` (a dead row dies at most
    ``max_age_s`` after that), with their attempt logs. Pending rows are never touched, nor is a
    row a runner holds (a redelivered row is pending again). Returns the counts deleted."""
    finished = or_(
        (Delivery.status == "delivered") & (Delivery.delivered_at < delivered_before),
        (Delivery.status == "dead") & (Delivery.retry_from < dead_before),
    )
    gone = select(Delivery.id).where(finished)
    attempts = session.execute(
        delete(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id.in_(gone))
        .execution_options(synchronize_session=False)
    )
    counts: dict[str, int] = {"delivery_attempts": _rowcount(attempts)}
    for status, key in (("delivered", "deliveries_delivered"), ("dead", "deliveries_dead")):
        result = session.execute(
            delete(Delivery)
            .where(finished, Delivery.status == status)
            .execution_options(synchronize_session=False)
        )
        counts[key] = _rowcount(result)
    return counts


def _rowcount(result: Any) -> int:
    return max(0, int(getattr(result, "rowcount", 0) or 0))


# -- reading and redelivering (the routes of alerts and webhooks use these) ------------------------


def delivery_dict(row: Delivery, attempts: list[DeliveryAttempt] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "kind": row.kind,
        "channel": row.channel,
        "target": row.target,
        "tenant": row.tenant,
        "event_id": row.event_id,
        "event_type": row.event_type,
        "status": row.status,
        "attempts": row.attempts,
        "created_at": aware(row.created_at).isoformat(),
        "next_attempt_at": aware(row.next_attempt_at).isoformat()
        if row.status == "pending"
        else None,
        "delivered_at": aware(row.delivered_at).isoformat() if row.delivered_at else None,
        "last_error": row.last_error,
    }
    if attempts is not None:
        out["attempt_log"] = [
            {
                "number": a.number,
                "started_at": aware(a.started_at).isoformat(),
                "duration_ms": a.duration_ms,
                "outcome": a.outcome,
                "status_code": a.status_code,
                "error": a.error,
            }
            for a in attempts
        ]
    return out


class DeliveryLog:
    """Reads and redelivery of one kind's rows, confined to a tenant when one is given."""

    def __init__(self, db: Database, kind: str) -> None:
        self.db = db
        self.kind = kind

    def find(
        self,
        *,
        tenant: str | None,
        status: str | None = None,
        target: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        q = select(Delivery).where(Delivery.kind == self.kind)
        if tenant is not None:
            q = q.where(Delivery.tenant == tenant)
        if status is not None:
            q = q.where(Delivery.status == status)
        if target is not None:
            q = q.where(Delivery.target == target)
        q = q.order_by(Delivery.created_at.desc()).limit(limit)
        with self.db.session() as session:
            return [delivery_dict(r) for r in session.scalars(q)]

    def _row(self, session: Session, delivery_id: str, tenant: str | None) -> Delivery:
        row = session.get(Delivery, delivery_id)
        if row is None or row.kind != self.kind or (tenant is not None and row.tenant != tenant):
            raise NotFound(f"no delivery with id {delivery_id}", code="DELIVERY_NOT_FOUND")
        return row

    def get(self, delivery_id: str, *, tenant: str | None) -> dict[str, Any]:
        with self.db.session() as session:
            row = self._row(session, delivery_id, tenant)
            attempts = session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(DeliveryAttempt.number, DeliveryAttempt.id)
            ).all()
            return delivery_dict(row, list(attempts))

    def redeliver(self, delivery_id: str, *, tenant: str | None) -> dict[str, Any]:
        """Send again now (a dead letter, or a delivered one the receiver lost); the retry window
        starts again from now, the attempt count and log stay."""
        with self.db.session() as session:
            row = self._row(session, delivery_id, tenant)
            busy = row.claimed_until is not None and aware(row.claimed_until) > now_utc()
            if row.status == "pending" and busy:
                raise Conflict("this delivery is being attempted right now", code="DELIVERY_BUSY")
            at = now_utc()
            row.status, row.next_attempt_at, row.retry_from = "pending", at, at
            row.claimed_until, row.claim_token = None, None
            return delivery_dict(row)

    def counts(self, *, tenant: str | None, since: datetime) -> dict[str, int]:
        from sqlalchemy import func

        q = (
            select(Delivery.status, func.count())
            .where(Delivery.kind == self.kind, Delivery.created_at >= since)
            .group_by(Delivery.status)
        )
        if tenant is not None:
            q = q.where(Delivery.tenant == tenant)
        with self.db.session() as session:
            return {str(s): int(n) for s, n in session.execute(q)}
