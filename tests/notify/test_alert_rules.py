"""Alert rules, de-duplication, routing, digests and system health, in a real database (SQLite and
PostgreSQL): events published through the bus inside real transactions, deliveries sent to real local
HTTP and SMTP receivers."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from notify.receivers import HttpReceiver, SmtpReceiver, authentic
from sqlalchemy import create_engine, select, text
from support.databases import scratch_database

from kycguard.alerts.config import AlertSettings
from kycguard.alerts.models import Alert, dedup_key
from kycguard.alerts.service import AlertService
from kycguard.delivery.models import Delivery
from kycguard.events import CaseDecided, EventBus, KnownFaceMatched
from kycguard.security.audit import Actor, AuditLog
from kycguard.store.database import Database, upgrade
from kycguard.store.models import Verification
from kycguard.store.repository import VerificationRepository
from kycguard.store.session_models import KycSession

REVIEWER = Actor("key:key_reviewer", "reviewer")


def wired(
    db: Database, settings: AlertSettings | None = None, **kw: Any
) -> tuple[AlertService, EventBus]:
    service = AlertService(db, settings or AlertSettings(), AuditLog(db), **kw)
    bus = EventBus()
    bus.subscribe(service.on_case_decided, CaseDecided)
    bus.subscribe(service.on_known_face, KnownFaceMatched)
    return service, bus


def decide(
    db: Database,
    bus: EventBus,
    status: str,
    reasons: list[str],
    user_id: str | None = "user-1",
    tenant: str | None = "t1",
    processing_time_ms: float = 900.0,
    device_ref: str | None = None,
) -> str:
    """A verification stored through the real repository (which publishes CaseDecided)."""
    case_id = str(uuid.uuid4())
    result = {"verification_id": case_id, "status": status, "reasons": reasons}
    VerificationRepository(db, events=bus).add(
        Verification(
            id=case_id,
            created_at=datetime.now(UTC),
            status=status,
            overall_confidence=50.0,
            reasons=reasons,
            result=result | {"processing_time_ms": processing_time_ms},
            selfie_sha256="0" * 64,
            document_sha256="1" * 64,
            user_id=user_id,
            tenant=tenant,
            device_ref=device_ref,
        )
    )
    return case_id


def outbox(db: Database) -> list[Delivery]:
    with db.session() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.created_at)))


def test_reason_codes_map_to_types_and_severities(db: Database) -> None:
    service, bus = wired(db)
    decide(db, bus, "rejected", ["DEEPFAKE_SUSPECTED", "FACE_MISMATCH"], user_id="a")
    decide(db, bus, "manual_review", ["MRZ_VIZ_MISMATCH", "IMAGE_TOO_BLURRY"], user_id="b")
    decide(db, bus, "rejected", ["SELFIE_REUSED_FROM_DOCUMENT"], user_id="c")
    decide(db, bus, "rejected", ["NOT_AN_IDENTITY_DOCUMENT"], user_id="d")
    decide(db, bus, "approved", [], user_id="e")
    got = {(a["type"], a["severity"], a["subject"]) for a in service.find(tenant=None)}
    assert got == {
        ("deepfake_suspected", "critical", "a"),
        ("face_mismatch", "medium", "a"),
        ("document_data_mismatch", "medium", "b"),
        ("quality_problem", "low", "b"),
        ("presentation_attack", "high", "c"),
        ("tampering_signs", "medium", "d"),
    }
    # another tenant's reviewer sees none of them
    assert service.find(tenant="t2") == []


def test_one_incident_per_rule_and_subject_within_the_window(db: Database) -> None:
    service, bus = wired(db)
    cases = [decide(db, bus, "rejected", ["INJECTION_SUSPECTED"], user_id="u") for _ in range(4)]
    decide(db, bus, "rejected", ["INJECTION_SUSPECTED"], user_id="someone-else")
    (alert,) = service.find(tenant="t1", type_="injection_suspected", since=None)[:1]
    rows = service.find(tenant="t1", type_="injection_suspected")
    assert len(rows) == 2
    mine = next(a for a in rows if a["subject"] == "u")
    assert mine["count"] == 4 and [c["id"] for c in mine["cases"]] == cases
    # critical goes to every configured channel once per incident, not once per occurrence
    assert len([d for d in outbox(db) if d.target == mine["id"]]) == 1  # only the log is set up
    # resolved: the next occurrence opens a new incident
    service.resolve(mine["id"], REVIEWER, tenant="t1")
    decide(db, bus, "rejected", ["INJECTION_SUSPECTED"], user_id="u")
    assert len(service.find(tenant="t1", type_="injection_suspected")) == 3
    assert alert["severity"] == "critical"


def test_concurrent_transactions_open_one_incident(db: Database) -> None:
    """N transactions raise the same alert at once (each holds its transaction open a while after
    raising, so all of them run before any commits): one incident with count N, one outbox row
    per channel, and every transaction commits (the loser of the race counts, it does not fail)."""
    service, _ = wired(db)
    n = 6
    start = threading.Barrier(2 * n)
    errors: list[BaseException] = []

    def occurrence(i: int, tenant: str | None, subject: str, type_: str) -> None:
        try:
            start.wait(timeout=10)
            with db.session() as session:
                service.raise_alert(
                    session,
                    type_,
                    tenant=tenant,
                    subject=subject,
                    message="at once",
                    case={"kind": "verification", "id": f"case-{i}"},
                )
                time.sleep(0.15)  # the decision's transaction goes on; the others raise meanwhile
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [
        threading.Thread(target=occurrence, args=(i, "t1", "u", "injection_suspected"))
        for i in range(n)
    ] + [  # a system alert (no tenant) at the same time
        threading.Thread(target=occurrence, args=(i, None, "system", "deliveries_failing"))
        for i in range(n)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    (user_alert,) = service.find(tenant="t1", type_="injection_suspected")
    assert user_alert["count"] == n and user_alert["status"] == "active"
    assert sorted(c["id"] for c in user_alert["cases"]) == sorted(f"case-{i}" for i in range(n))
    (system_alert,) = service.find(tenant=None, type_="deliveries_failing")
    assert system_alert["count"] == n and system_alert["tenant"] is None
    targets = [d.target for d in outbox(db)]  # only the log channel is set up
    assert sorted(targets) == sorted([user_alert["id"], system_alert["id"]])


def test_an_incident_out_of_the_window_hands_over_to_a_new_one(db: Database) -> None:
    service, bus = wired(db)
    decide(db, bus, "rejected", ["INJECTION_SUSPECTED"], user_id="u")
    (old,) = service.find(tenant="t1", type_="injection_suspected")
    with db.session() as session:  # its last occurrence was 2 h ago (the window is 1 h)
        row = session.get(Alert, old["id"])
        assert row is not None
        row.last_seen = row.first_seen = datetime.now(UTC) - timedelta(hours=2)
    decide(db, bus, "rejected", ["INJECTION_SUSPECTED"], user_id="u")
    decide(db, bus, "rejected", ["INJECTION_SUSPECTED"], user_id="u")
    rows = {a["id"]: a for a in service.find(tenant="t1", type_="injection_suspected")}
    assert len(rows) == 2 and rows[old["id"]]["count"] == 1
    (new,) = [a for i, a in rows.items() if i != old["id"]]
    assert new["count"] == 2 and new["status"] == rows[old["id"]]["status"] == "active"
    with db.session() as session:
        keys = dict(session.execute(select(Alert.id, Alert.dedup_key)).all())
    assert keys[old["id"]] is None and keys[new["id"]] is not None
    service.resolve(new["id"], REVIEWER, tenant="t1")  # resolved: the key is free again
    decide(db, bus, "rejected", ["INJECTION_SUSPECTED"], user_id="u")
    assert len(service.find(tenant="t1", type_="injection_suspected")) == 3


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_migration_0012_keys_the_latest_open_incident(kind: str, tmp_path: Path) -> None:
    with scratch_database(kind, tmp_path) as url:
        upgrade(url, "0011")
        at = datetime.now(UTC)
        rows = [  # (id, status, minutes ago): two open incidents of one key (an old race), one resolved
            ("alr_older", "active", 10),
            ("alr_newer", "acknowledged", 5),
            ("alr_closed", "resolved", 1),
        ]
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                for alert_id, status, ago in rows:
                    conn.execute(
                        text(
                            "INSERT INTO alerts (id, type, severity, status, tenant, subject, "
                            "message, count, cases, details, first_seen, last_seen) VALUES (:id, "
                            "'injection_suspected', 'critical', :status, 't1', 'u', 'm', 1, "
                            "'[]', '{}', :at, :at)"
                        ),
                        {"id": alert_id, "status": status, "at": at - timedelta(minutes=ago)},
                    )
        finally:
            engine.dispose()
        upgrade(url)
        db = Database(url)
        try:
            with db.session() as session:
                keys = dict(session.execute(select(Alert.id, Alert.dedup_key)).all())
            assert keys == {
                "alr_older": None,
                "alr_newer": dedup_key("injection_suspected", "t1", "u"),
                "alr_closed": None,
            }
            service, bus = wired(db)
            decide(db, bus, "rejected", ["INJECTION_SUSPECTED"], user_id="u")
            counts = {a["id"]: a["count"] for a in service.find(tenant="t1")}
            assert counts == {"alr_older": 1, "alr_newer": 2, "alr_closed": 1}
        finally:
            db.close()


def test_repeated_failed_attempts_by_one_user(db: Database) -> None:
    service, bus = wired(db, AlertSettings(repeated_failures=3))
    decide(db, bus, "rejected", [], user_id="mallory")
    decide(db, bus, "rejected", [], user_id="mallory")
    decide(db, bus, "rejected", [], user_id="mallory", tenant="other-tenant")  # not the same user
    assert service.find(tenant=None, type_="repeated_failed_attempts") == []
    decide(db, bus, "rejected", [], user_id="mallory")
    (alert,) = service.find(tenant=None, type_="repeated_failed_attempts")
    assert (alert["severity"], alert["subject"], alert["tenant"]) == ("high", "mallory", "t1")
    assert alert["details"]["rejections"] == 3


def test_repeated_failed_attempts_from_one_device_under_many_user_ids(db: Database) -> None:
    """Rotating user ids does not hide an attacker who keeps the device (``X-Device-Id``, stored
    as the lockout's hash): 3 rejections from one device, a session among them, raise the alert
    for the device; each user id alone stays under the limit."""
    service, bus = wired(db, AlertSettings(repeated_failures=3))
    phone = "d" * 32
    decide(db, bus, "rejected", [], user_id="alias-1", device_ref=phone)
    decide(db, bus, "rejected", [], user_id="alias-2", device_ref=phone, tenant="other")
    decide(db, bus, "approved", [], user_id="alias-3", device_ref=phone)  # not a failure
    decide(db, bus, "rejected", [], user_id=None, device_ref="e" * 32)  # another device
    assert service.find(tenant=None, type_="repeated_failed_attempts") == []
    at = datetime.now(UTC)
    session_id = str(uuid.uuid4())
    with db.session() as session:  # a video session from that device, rejected, under alias-4
        session.add(
            KycSession(
                id=session_id,
                created_at=at,
                updated_at=at,
                expires_at=at + timedelta(minutes=15),
                completed_at=at,
                status="completed",
                user_id="alias-4",
                tenant="t1",
                token_sha256="2" * 64,
                challenges=["blink"],
                state={},
                result={"session_id": session_id, "status": "rejected", "reasons": []},
                device_ref=phone,
            )
        )
    decide(db, bus, "rejected", [], user_id=None, device_ref=phone)  # no user id at all
    (alert,) = service.find(tenant=None, type_="repeated_failed_attempts")
    assert (alert["subject"], alert["tenant"]) == (f"device:{phone}", "t1")
    assert alert["details"] == {"rejections": 3, "user_ids": 2}
    decide(db, bus, "rejected", [], user_id="alias-5", device_ref=phone)  # the same incident
    (again,) = service.find(tenant=None, type_="repeated_failed_attempts")
    assert again["id"] == alert["id"] and again["count"] == 2
    assert again["details"]["rejections"] == 4


def test_known_face_events_raise_critical_alerts_in_the_events_transaction(db: Database) -> None:
    service, bus = wired(db)
    at = datetime.now(UTC)
    with db.session() as session:
        bus.publish(
            session,
            KnownFaceMatched(
                "verification", "case-1", "t1", "u1", "labelled_fraud", "case-0", None, 0.31, at
            ),
        )
        bus.publish(
            session,
            KnownFaceMatched(
                "session", "case-2", "t1", "u2", "other_identity", "case-9", "u9", 0.4, at
            ),
        )
    got = {(a["type"], a["severity"]) for a in service.find(tenant="t1")}
    assert got == {("known_fraud_face", "critical"), ("face_under_several_identities", "critical")}
    # a transaction that rolls back leaves no alert and no outbox row
    before = len(outbox(db))
    try:
        with db.session() as session:
            bus.publish(
                session,
                KnownFaceMatched(
                    "verification", "case-3", "t1", "u3", "labelled_fraud", "c", None, 0.2, at
                ),
            )
            raise RuntimeError("the decision failed to store")
    except RuntimeError:
        pass
    assert len(service.find(tenant="t1")) == 2 and len(outbox(db)) == before


def test_critical_reaches_every_channel_for_real(db: Database, smtp: SmtpReceiver) -> None:
    hook, slack, sms = HttpReceiver(), HttpReceiver(), HttpReceiver()
    try:
        settings = AlertSettings.model_validate(
            {
                "webhook_url": hook.url,
                "webhook_secret": "alert-secret",
                "slack_webhook_url": slack.url,
                "smtp": {"host": "127.0.0.1", "port": smtp.port, "recipients": ["soc@bank.test"]},
                "sms": {"gateway_url": sms.url, "token": "gw-token", "recipients": ["+15550001"]},
            }
        )
        service, bus = wired(db, settings)
        decide(db, bus, "rejected", ["DEEPFAKE_SUSPECTED"], user_id="customer-7781")
        assert sorted(d.channel for d in outbox(db)) == ["email", "log", "slack", "sms", "webhook"]
        assert service.outbox.run() == 5
        assert {d.status for d in outbox(db)} == {"delivered"}
        (alert,) = service.find(tenant="t1")
        (got,) = hook.received
        assert authentic("alert-secret", got.headers, got.body)
        envelope = got.json()
        assert envelope["type"] == "alert.raised" and envelope["id"] == f"evt_{alert['id']}"
        assert envelope["data"]["alert"]["severity"] == "critical"
        assert "customer-7781" not in got.body.decode()  # no user id leaves the service
        assert "[CRITICAL] deepfake_suspected" in slack.received[0].json()["text"]
        assert sms.received[0].json()["to"] == "+15550001"
        assert sms.received[0].headers["Authorization"] == "Bearer gw-token"
        (mail,) = smtp.messages
        assert mail["To"] == "soc@bank.test" and "deepfake_suspected" in mail["Subject"]
    finally:
        for r in (hook, slack, sms):
            r.close()


def test_medium_alerts_go_out_in_one_digest(db: Database, smtp: SmtpReceiver) -> None:
    settings = AlertSettings.model_validate(
        {"smtp": {"host": "127.0.0.1", "port": smtp.port, "recipients": ["ops@bank.test"]}}
    )
    service, bus = wired(db, settings)
    for user in ("m1", "m2", "m3"):
        decide(db, bus, "rejected", ["FACE_MISMATCH"], user_id=user)
    assert [d.channel for d in outbox(db)] == ["log"] * 3  # medium: only the log at once
    assert service.run_digests() == {}  # the oldest is younger than 30 minutes
    assert service.run_digests(force=True) == {"medium": 3}
    assert service.run_digests(force=True) == {}  # each alert is digested once
    service.outbox.run()
    (mail,) = smtp.wait_for(1)
    assert "medium digest: 3 alert(s)" in mail["Subject"]
    assert mail.get_payload().count("face_mismatch") == 3


def test_system_health_far_p95_and_failing_deliveries(db: Database) -> None:
    labels = {"false_accepts": 1, "accepts": 100}
    service, bus = wired(
        db, far=lambda tenant, since, until: (labels["false_accepts"], labels["accepts"])
    )
    for ms in [800.0] * 18 + [7000.0, 9000.0]:
        decide(db, bus, "approved", [], processing_time_ms=ms)
    assert service.p95_processing_ms(datetime.now(UTC) - timedelta(hours=1)) == 7000.0
    raised = service.check_health()
    assert set(raised) == {"false_accept_rate_high", "processing_time_high"}
    (far,) = service.find(tenant=None, type_="false_accept_rate_high")
    assert far["details"]["rate"] == 0.01 and far["tenant"] is None
    labels["false_accepts"] = 0
    assert "false_accept_rate_high" not in service.check_health()
    with db.session() as session:  # a delivery that keeps failing
        from kycguard.delivery.service import enqueue

        enqueue(session, kind="alert", channel="nowhere", event_type="x", payload={}, target="t")
    service.outbox.run()  # unknown channel: dead at once
    assert "deliveries_failing" in service.check_health()


def test_acknowledge_and_resolve_are_audited(db: Database) -> None:
    service, bus = wired(db)
    decide(db, bus, "rejected", ["LIVENESS_FAILED"], user_id="x")
    (alert,) = service.find(tenant="t1")
    acked = service.acknowledge(alert["id"], REVIEWER, tenant="t1")
    assert acked["status"] == "acknowledged" and acked["acknowledged_by"] == "key:key_reviewer"
    assert [a["id"] for a in service.active(tenant="t1")] == [alert["id"]]
    service.resolve(alert["id"], REVIEWER, tenant="t1")
    assert service.active(tenant="t1") == []
    stats = service.statistics(tenant="t1", since=None, until=None)
    assert stats["by_status"] == {"resolved": 1} and stats["by_severity"] == {"high": 1}
    actions = [e["action"] for e in AuditLog(db).entries(action=None)]
    assert actions[-2:] == ["alert.acknowledged", "alert.resolved"]
    assert json.dumps(stats)  # JSON-serialisable as the route returns it
