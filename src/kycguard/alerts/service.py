"""Alerts: rules over stored decisions and known-face matches, de-duplication, routing, digests,
system health, and the reviewer's acknowledge / resolve.

Raising happens inside the decision's transaction (an event subscriber): the alert row and its outbox
rows commit with the decision or not at all; nothing is sent from here. The outbox job delivers.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Insert, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kycguard.alerts.config import AlertSettings, AlertSeverity, Channel
from kycguard.alerts.models import Alert, dedup_key
from kycguard.delivery import channels
from kycguard.delivery.service import (
    DeliveryFailed,
    DeliveryLog,
    Outbox,
    Outgoing,
    Sender,
    aware,
    enqueue,
    now_utc,
)
from kycguard.errors import Conflict, NotFound
from kycguard.events import CaseDecided, KnownFaceMatched
from kycguard.jobs import PeriodicJob
from kycguard.security.audit import Actor, AuditLog
from kycguard.security.signatures import sign_webhook
from kycguard.store.database import Database
from kycguard.store.models import Verification
from kycguard.store.session_models import KycSession

log = logging.getLogger("kycguard.alerts")
KIND = "alert"
MAX_CASES = 50
_MAX_RACES = 5  # rounds of "count on the open one, else open one" before giving up
ALERTS_RAISED = Counter(
    "kycguard_alerts_raised", "New alert incidents by type and severity.", ["type", "severity"]
)

# (tenant or None for all, since, until) -> (false accepts, labelled accepts): the reviews module's
# labels. The lead connects it; without it the FAR rule does not run.
FarProvider = Callable[[str | None, datetime, datetime], tuple[int, int]]


def _insert_unless_open(session: Session, values: dict[str, Any]) -> Insert:
    """``INSERT ... ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING RETURNING id``."""
    bind = session.get_bind()
    dialect = postgresql if bind.dialect.name == "postgresql" else sqlite
    return (
        dialect.insert(Alert)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=[Alert.dedup_key], index_where=Alert.dedup_key.is_not(None)
        )
        .returning(Alert.id)
    )


def alert_dict(a: Alert) -> dict[str, Any]:
    iso = lambda at: aware(at).isoformat() if at else None  # noqa: E731
    return {
        "id": a.id,
        "type": a.type,
        "severity": a.severity,
        "status": a.status,
        "tenant": a.tenant,
        "subject": a.subject,
        "message": a.message,
        "count": a.count,
        "cases": list(a.cases),
        "details": dict(a.details),
        "first_seen": iso(a.first_seen),
        "last_seen": iso(a.last_seen),
        "acknowledged_at": iso(a.acknowledged_at),
        "acknowledged_by": a.acknowledged_by,
        "resolved_at": iso(a.resolved_at),
        "resolved_by": a.resolved_by,
    }


def notice(a: Alert) -> dict[str, Any]:
    """What leaves the service about an alert: no user id (the subject stays in the database)."""
    return {
        "id": a.id,
        "type": a.type,
        "severity": a.severity,
        "tenant": a.tenant,
        "message": a.message,
        "count": a.count,
        "cases": list(a.cases)[-5:],
        "first_seen": aware(a.first_seen).isoformat(),
    }


def one_line(n: dict[str, Any]) -> str:
    where = f" tenant {n['tenant']}" if n.get("tenant") else ""
    return f"[{n['severity'].upper()}] {n['type']}: {n['message']} (alert {n['id']}{where})"


class AlertService:
    def __init__(
        self,
        db: Database,
        settings: AlertSettings,
        audit: AuditLog | None = None,
        far: FarProvider | None = None,
        pseudonym: Callable[[str | None, str], str] | None = None,
    ) -> None:
        self.db = db
        # alerts outlive erasure: a user is named by the keyed pseudonym the audit log uses
        self.pseudonym = pseudonym or (lambda tenant, user_id: user_id)
        self.settings = settings
        self.audit = audit
        self.far = far
        self.deliveries = DeliveryLog(db, KIND)
        self.outbox = Outbox(db, KIND, settings.retry, self.senders())

    # -- raising (inside the event's transaction) ------------------------------------------------

    def on_case_decided(self, session: Session, event: CaseDecided) -> None:
        if not self.settings.enabled:
            return
        codes = set(event.result.get("reasons") or [])
        case = {"kind": event.kind, "id": event.case_id}
        subject = self._subject(event.tenant, event.user_id, event.kind, event.case_id)
        for name, rule in self.settings.rules.items():
            hit = sorted(codes & set(rule.reason_codes))
            if hit:
                message = f"{event.kind} {event.status}: {', '.join(hit)}"
                self.raise_alert(
                    session,
                    name,
                    tenant=event.tenant,
                    subject=subject,
                    message=message,
                    case=case,
                    details={"reason_codes": hit},
                )
        if event.status == "rejected" and event.user_id:
            self._repeated_failures(session, event, case)
        if event.status == "rejected" and event.device_ref:
            self._repeated_device_failures(session, event, event.device_ref, case)

    def on_known_face(self, session: Session, event: KnownFaceMatched) -> None:
        if not self.settings.enabled:
            return
        if event.match == "labelled_fraud":
            name, message = "known_fraud_face", "a face labelled fraud was seen again"
        else:
            name, message = "face_under_several_identities", "one face under several identities"
        self.raise_alert(
            session,
            name,
            tenant=event.tenant,
            subject=self._subject(event.tenant, event.user_id, event.kind, event.case_id),
            message=message,
            case={"kind": event.kind, "id": event.case_id},
            details={
                "other_case_id": event.other_case_id,
                "distance": round(event.distance, 4),
            },
        )

    def _subject(self, tenant: str | None, user_id: str | None, kind: str, case_id: str) -> str:
        return self.pseudonym(tenant, user_id) if user_id else f"{kind}:{case_id}"

    def _repeated_failures(
        self, session: Session, event: CaseDecided, case: dict[str, str]
    ) -> None:
        since = now_utc() - timedelta(seconds=self.settings.repeated_failures_window_s)
        v = session.scalar(
            select(func.count())
            .select_from(Verification)
            .where(
                Verification.user_id == event.user_id,
                Verification.tenant.is_(None)
                if event.tenant is None
                else Verification.tenant == event.tenant,
                Verification.status == "rejected",
                Verification.created_at >= since,
            )
        )
        s = session.scalar(
            select(func.count())
            .select_from(KycSession)
            .where(
                KycSession.user_id == event.user_id,
                KycSession.tenant.is_(None)
                if event.tenant is None
                else KycSession.tenant == event.tenant,
                KycSession.result["status"].as_string() == "rejected",
                KycSession.completed_at >= since,
            )
        )
        n = int(v or 0) + int(s or 0)
        if n >= self.settings.repeated_failures:
            self.raise_alert(
                session,
                "repeated_failed_attempts",
                tenant=event.tenant,
                subject=self._subject(event.tenant, event.user_id, event.kind, event.case_id),
                message=f"{n} rejected attempts by one user within "
                f"{self.settings.repeated_failures_window_s // 60} min",
                case=case,
                details={"rejections": n},
            )

    def _repeated_device_failures(
        self, session: Session, event: CaseDecided, device_ref: str, case: dict[str, str]
    ) -> None:
        """The same rule per device (``X-Device-Id``, as the lockout hashes it): rejections from
        one device under any user ids, so rotating user ids does not hide an attacker."""
        since = now_utc() - timedelta(seconds=self.settings.repeated_failures_window_s)
        owned = lambda model: (  # noqa: E731
            model.tenant.is_(None) if event.tenant is None else model.tenant == event.tenant
        )
        users = list(
            session.scalars(
                select(Verification.user_id).where(
                    Verification.device_ref == device_ref,
                    owned(Verification),
                    Verification.status == "rejected",
                    Verification.created_at >= since,
                )
            )
        ) + list(
            session.scalars(
                select(KycSession.user_id).where(
                    KycSession.device_ref == device_ref,
                    owned(KycSession),
                    KycSession.result["status"].as_string() == "rejected",
                    KycSession.completed_at >= since,
                )
            )
        )
        n = len(users)
        if n >= self.settings.repeated_failures:
            self.raise_alert(
                session,
                "repeated_failed_attempts",
                tenant=event.tenant,
                subject=f"device:{device_ref}",
                message=f"{n} rejected attempts from one device within "
                f"{self.settings.repeated_failures_window_s // 60} min",
                case=case,
                details={"rejections": n, "user_ids": len({u for u in users if u})},
            )

    def raise_alert(
        self,
        session: Session,
        type_: str,
        *,
        tenant: str | None,
        subject: str,
        message: str,
        case: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> Alert | None:
        """A new incident (routed to its channels), or one more occurrence of an open one.

        Atomic in the database: the open incident holds ``dedup_key`` under a partial unique index,
        an occurrence is one ``UPDATE ... count = count + 1`` of it (the row lock on PostgreSQL,
        the write lock on SQLite), and a new incident is ``INSERT ... ON CONFLICT DO NOTHING``:
        of two transactions opening the same incident at once, the second one's insert waits for
        the first and inserts nothing, and it counts an occurrence of the first one's instead. No
        error reaches the caller's transaction (the decision it belongs to commits either way)."""
        rule = self.settings.rules[type_]
        if not rule.enabled:
            return None
        subject = subject[:200]
        key = dedup_key(type_, tenant, subject)
        for _ in range(_MAX_RACES):
            at = now_utc()
            window = at - timedelta(seconds=self.settings.dedup_window_s)
            open_id = session.scalar(
                update(Alert)
                .where(Alert.dedup_key == key, Alert.last_seen >= window)
                .values(count=Alert.count + 1, last_seen=at)
                .returning(Alert.id)
                .execution_options(synchronize_session=False)
            )
            if open_id is not None:
                open_one = session.get(Alert, open_id, populate_existing=True)
                assert open_one is not None  # updated (and locked) by this transaction
                if case is not None and case not in open_one.cases:
                    open_one.cases = [*open_one.cases, case][-MAX_CASES:]
                open_one.details = dict(open_one.details) | (details or {})
                return open_one
            # none within the window: an older one, still open, hands the key to a new incident
            session.execute(
                update(Alert)
                .where(Alert.dedup_key == key, Alert.last_seen < window)
                .values(dedup_key=None)
                .execution_options(synchronize_session=False)
            )
            alert_id = "alr_" + secrets.token_hex(10)
            values: dict[str, Any] = {
                "id": alert_id,
                "type": type_,
                "severity": rule.severity.value,
                "status": "active",
                "tenant": tenant,
                "subject": subject,
                "message": message[:500],
                "count": 1,
                "cases": [case] if case else [],
                "details": details or {},
                "first_seen": at,
                "last_seen": at,
                "dedup_key": key,
            }
            if session.scalar(_insert_unless_open(session, values)) is not None:
                alert = session.get(Alert, alert_id)
                assert alert is not None
                break
            # another transaction opened it meanwhile (and committed): count on that one
        else:
            raise RuntimeError(
                f"alert {type_} could not be raised: the open incident kept changing"
            )
        ALERTS_RAISED.labels(type_, rule.severity.value).inc()
        for channel in self._channels(self.settings.routing.get(rule.severity, ())):
            enqueue(
                session,
                kind=KIND,
                channel=channel,
                event_type="alert.raised",
                payload={"alert": notice(alert)},
                target=alert.id,
                tenant=tenant,
                event_id=f"evt_{alert.id}",
            )
        return alert

    def _channels(self, wanted: tuple[Channel, ...]) -> list[str]:
        s = self.settings
        configured = {
            Channel.WEBHOOK: s.webhook_url is not None,
            Channel.SLACK: s.slack_webhook_url is not None,
            Channel.EMAIL: s.smtp.host is not None and bool(s.smtp.recipients),
            Channel.SMS: s.sms.gateway_url is not None and bool(s.sms.recipients),
            Channel.LOG: True,
        }
        return [c.value for c in wanted if configured[c]]

    # -- digests and system health (periodic jobs) -----------------------------------------------

    def run_digests(self, *, force: bool = False) -> dict[str, int]:
        """For each digest severity: once its oldest undigested alert is ``interval_s`` old (or
        ``force``), one digest of all of them per channel. Returns alerts digested by severity."""
        out: dict[str, int] = {}
        for severity, digest in self.settings.digests.items():
            cutoff = now_utc() - timedelta(seconds=digest.interval_s)
            with self.db.session() as session:
                pick = (
                    select(Alert)
                    .where(Alert.severity == severity.value, Alert.digested_at.is_(None))
                    .order_by(Alert.first_seen)
                    .limit(500)
                )
                if session.bind is not None and session.bind.dialect.name == "postgresql":
                    pick = pick.with_for_update(skip_locked=True)
                rows = list(session.scalars(pick))
                if not rows or (not force and aware(rows[0].first_seen) > cutoff):
                    continue
                at = now_utc()
                taken = session.execute(
                    update(Alert)
                    .where(Alert.id.in_([r.id for r in rows]), Alert.digested_at.is_(None))
                    .values(digested_at=at)
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount != len(rows):  # type: ignore[attr-defined]
                    session.rollback()  # another runner digests them
                    continue
                digest_id = f"dig_{secrets.token_hex(8)}"
                payload = {
                    "digest": {
                        "id": digest_id,
                        "severity": severity.value,
                        "until": at.isoformat(),
                        "alerts": [notice(r) for r in rows],
                    }
                }
                for channel in self._channels(digest.channels):
                    enqueue(
                        session,
                        kind=KIND,
                        channel=channel,
                        event_type="alert.digest",
                        payload=payload,
                        target=digest_id,
                        event_id=f"evt_{digest_id}",
                    )
                out[severity.value] = len(rows)
        return out

    def check_health(self) -> list[str]:
        """Raise the system-health alerts that hold now; returns their types."""
        h = self.settings.health
        until = now_utc()
        since = until - timedelta(seconds=h.window_s)
        raised: list[tuple[str, str, dict[str, Any]]] = []
        if self.far is not None:
            false_accepts, accepts = self.far(None, since, until)
            if (
                accepts >= h.min_labelled_accepts
                and false_accepts / accepts > h.max_false_accept_rate
            ):
                rate = false_accepts / accepts
                raised.append(
                    (
                        "false_accept_rate_high",
                        f"false accept rate {rate:.2%} over {accepts} labelled accepts "
                        f"(limit {h.max_false_accept_rate:.2%})",
                        {"false_accepts": false_accepts, "accepts": accepts, "rate": rate},
                    )
                )
        p95 = self.p95_processing_ms(since)
        if p95 is not None and p95 > h.max_p95_processing_ms:
            raised.append(
                (
                    "processing_time_high",
                    f"p95 processing time {p95:.0f} ms > {h.max_p95_processing_ms:.0f} ms",
                    {"p95_ms": round(p95, 1)},
                )
            )
        failing = self.failing_deliveries(since)
        if failing > h.max_failed_deliveries:
            raised.append(
                (
                    "deliveries_failing",
                    f"{failing} alert/webhook deliveries failing or dead",
                    {"failing": failing},
                )
            )
        with self.db.session() as session:
            for type_, message, details in raised:
                self.raise_alert(
                    session, type_, tenant=None, subject="system", message=message, details=details
                )
        return [r[0] for r in raised]

    def p95_processing_ms(self, since: datetime) -> float | None:
        """p95 of ``processing_time_ms`` of verifications and sessions decided since ``since``."""
        with self.db.session() as session:
            times = list(
                session.scalars(
                    select(Verification.result["processing_time_ms"].as_float()).where(
                        Verification.created_at >= since
                    )
                )
            ) + list(
                session.scalars(
                    select(KycSession.result["processing_time_ms"].as_float()).where(
                        KycSession.completed_at >= since
                    )
                )
            )
        values = sorted(float(t) for t in times if t is not None)
        if not values:
            return None
        return values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]

    def failing_deliveries(self, since: datetime) -> int:
        from kycguard.delivery.models import Delivery

        with self.db.session() as session:
            n = session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(
                    Delivery.created_at >= since,
                    (Delivery.status == "dead")
                    | ((Delivery.status == "pending") & (Delivery.attempts > 0)),
                )
            )
        return int(n or 0)

    def jobs(self) -> list[PeriodicJob]:
        return [
            PeriodicJob("alert_delivery", self.settings.retry.interval_s, self.outbox.run),
            PeriodicJob("alert_digests", 60.0, self.run_digests),
            PeriodicJob("system_health", float(self.settings.health.interval_s), self.check_health),
        ]

    # -- channels ---------------------------------------------------------------------------------

    def senders(self) -> dict[str, Sender]:
        return {
            Channel.WEBHOOK.value: self._send_webhook,
            Channel.SLACK.value: self._send_slack,
            Channel.EMAIL.value: self._send_email,
            Channel.SMS.value: self._send_sms,
            Channel.LOG.value: self._send_log,
        }

    @staticmethod
    def _summary(item: Outgoing) -> tuple[str, str]:
        """(subject line, text) of an alert or a digest."""
        if "alert" in item.payload:
            line = one_line(item.payload["alert"])
            return line, line
        d = item.payload["digest"]
        lines = [one_line(a) + f" x{a['count']}" for a in d["alerts"]]
        head = f"kycguard {d['severity']} digest: {len(lines)} alert(s)"
        return head, "\n".join([head, *lines])

    def _body(self, item: Outgoing) -> bytes:
        created = (item.payload.get("alert") or {}).get("first_seen") or item.payload.get(
            "digest", {}
        ).get("until")
        envelope = {
            "id": item.event_id,
            "type": item.event_type,
            "created": created,
            "data": item.payload,
        }
        return json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode()

    def _send_webhook(self, item: Outgoing) -> int | None:
        s = self.settings
        if s.webhook_url is None:
            raise DeliveryFailed("alerts.webhook_url is not set", permanent=True)
        body = self._body(item)
        headers = {"Content-Type": "application/json", "X-Kycguard-Event": item.event_type}
        if s.webhook_secret is not None:
            headers |= sign_webhook(s.webhook_secret.get_secret_value(), body)
        return channels.post(s.webhook_url, body, headers, s.retry.timeout_s)

    def _send_slack(self, item: Outgoing) -> int | None:
        url = self.settings.slack_webhook_url
        if url is None:
            raise DeliveryFailed("alerts.slack_webhook_url is not set", permanent=True)
        body = json.dumps({"text": self._summary(item)[1]}).encode()
        return channels.post(
            url.get_secret_value(),
            body,
            {"Content-Type": "application/json"},
            self.settings.retry.timeout_s,
        )

    def _send_email(self, item: Outgoing) -> int | None:
        smtp = self.settings.smtp
        if smtp.host is None or not smtp.recipients:
            raise DeliveryFailed("alerts.smtp is not configured", permanent=True)
        subject, text = self._summary(item)
        channels.send_mail(
            host=smtp.host,
            port=smtp.port,
            sender=smtp.sender,
            recipients=list(smtp.recipients),
            subject=subject,
            text=text,
            timeout_s=self.settings.retry.timeout_s,
            starttls=smtp.starttls,
            username=smtp.username,
            password=smtp.password.get_secret_value() if smtp.password else None,
        )
        return None

    def _send_sms(self, item: Outgoing) -> int | None:
        sms = self.settings.sms
        if sms.gateway_url is None:
            raise DeliveryFailed("alerts.sms.gateway_url is not set", permanent=True)
        headers = {"Content-Type": "application/json"}
        if sms.token is not None:
            headers["Authorization"] = f"Bearer {sms.token.get_secret_value()}"
        text = self._summary(item)[0][:160]
        status = None
        for to in sms.recipients:
            body = json.dumps({"to": to, "message": text}).encode()
            status = channels.post(sms.gateway_url, body, headers, self.settings.retry.timeout_s)
        return status

    def _send_log(self, item: Outgoing) -> int | None:
        log.warning(
            "%s", json.dumps({"event": item.event_type, "id": item.event_id} | item.payload)
        )
        return None

    # -- reads and the reviewer's actions ---------------------------------------------------------

    def find(
        self,
        *,
        tenant: str | None,
        severity: str | None = None,
        type_: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        q = self._scoped(tenant)
        if severity is not None:
            q = q.where(Alert.severity == severity)
        if type_ is not None:
            q = q.where(Alert.type == type_)
        if status is not None:
            q = q.where(Alert.status == status)
        if since is not None:
            q = q.where(Alert.last_seen >= since)
        if until is not None:
            q = q.where(Alert.first_seen < until)
        q = q.order_by(Alert.last_seen.desc(), Alert.id).limit(limit).offset(offset)
        with self.db.session() as session:
            return [alert_dict(a) for a in session.scalars(q)]

    def active(self, *, tenant: str | None) -> list[dict[str, Any]]:
        """Unresolved alerts, most severe first (the seed's ``/alerts/active``)."""
        rank = {s.value: i for i, s in enumerate(AlertSeverity)}
        rows = self.find(tenant=tenant, status="active", limit=1000)
        rows += self.find(tenant=tenant, status="acknowledged", limit=1000)
        return sorted(rows, key=lambda a: (rank[a["severity"]], a["last_seen"]), reverse=False)

    def get(self, alert_id: str, *, tenant: str | None) -> dict[str, Any]:
        with self.db.session() as session:
            return alert_dict(self._row(session, alert_id, tenant))

    def statistics(
        self, *, tenant: str | None, since: datetime | None, until: datetime | None
    ) -> dict[str, Any]:
        q = self._scoped(tenant)
        if since is not None:
            q = q.where(Alert.last_seen >= since)
        if until is not None:
            q = q.where(Alert.first_seen < until)
        with self.db.session() as session:
            rows = list(session.scalars(q))
        by = lambda attr: {  # noqa: E731
            k: sum(1 for r in rows if getattr(r, attr) == k)
            for k in sorted({getattr(r, attr) for r in rows})
        }
        acked = [
            (aware(r.acknowledged_at) - aware(r.first_seen)).total_seconds()
            for r in rows
            if r.acknowledged_at is not None
        ]
        return {
            "incidents": len(rows),
            "occurrences": sum(r.count for r in rows),
            "by_severity": by("severity"),
            "by_type": by("type"),
            "by_status": by("status"),
            "mean_time_to_acknowledge_s": round(sum(acked) / len(acked), 1) if acked else None,
            "deliveries": self.deliveries.counts(
                tenant=tenant, since=since or datetime.min.replace(tzinfo=now_utc().tzinfo)
            ),
        }

    def acknowledge(self, alert_id: str, actor: Actor, *, tenant: str | None) -> dict[str, Any]:
        return self._transition(alert_id, actor, tenant, "acknowledged")

    def resolve(self, alert_id: str, actor: Actor, *, tenant: str | None) -> dict[str, Any]:
        return self._transition(alert_id, actor, tenant, "resolved")

    def _transition(
        self, alert_id: str, actor: Actor, tenant: str | None, to: str
    ) -> dict[str, Any]:
        with self.db.session() as session:
            a = self._row(session, alert_id, tenant)
            if a.status == "resolved":
                raise Conflict("this alert is resolved already", code="ALERT_RESOLVED")
            if a.status == to:
                return alert_dict(a)
            if self.audit is not None:  # first: on SQLite the audit head takes the write lock
                self.audit.append(
                    session,
                    actor,
                    f"alert.{to}",
                    target_type="alert",
                    target_id=a.id,
                    tenant=a.tenant,
                    details={"type": a.type, "severity": a.severity},
                )
            at = now_utc()
            if to == "acknowledged":
                a.acknowledged_at, a.acknowledged_by = at, actor.id
            else:
                a.resolved_at, a.resolved_by = at, actor.id
                a.dedup_key = None  # the next occurrence opens a new incident
            a.status = to
            return alert_dict(a)

    @staticmethod
    def _scoped(tenant: str | None) -> Any:
        q = select(Alert)
        return q if tenant is None else q.where(Alert.tenant == tenant)

    @staticmethod
    def _row(session: Session, alert_id: str, tenant: str | None) -> Alert:
        a = session.get(Alert, alert_id)
        if a is None or (tenant is not None and a.tenant != tenant):
            raise NotFound(f"no alert with id {alert_id}", code="ALERT_NOT_FOUND")
        return a
