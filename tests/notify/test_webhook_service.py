"""Integrator webhooks in a real database (SQLite and PostgreSQL): SSRF refusals, secrets encrypted
at rest, events from the bus (``review.decided`` published as the reviews module does), stable ids,
signatures a receiver can check, deleted endpoints."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import pytest
from notify.receivers import HttpReceiver, authentic
from sqlalchemy import select

from kycguard.errors import InvalidRequest
from kycguard.events import CaseDecided, EventBus, ReviewDecided
from kycguard.security.audit import Actor, AuditLog
from kycguard.security.crypto import KeyRing
from kycguard.store.database import Database
from kycguard.store.models import Verification
from kycguard.store.repository import VerificationRepository
from kycguard.webhooks.config import WebhookSettings
from kycguard.webhooks.models import WebhookEndpoint
from kycguard.webhooks.service import WebhookService
from kycguard.webhooks.ssrf import refused_reason

ADMIN = Actor("key:key_admin", "admin")
LOCAL = WebhookSettings(allow_private_addresses=True)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:9/x", "loopback"),
        ("http://localhost/x", "loopback"),
        ("http://[::1]/x", "loopback"),
        ("http://10.1.2.3/x", "private"),
        ("http://192.168.0.10/x", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[::ffff:127.0.0.1]/x", "loopback"),
        ("http://0.0.0.0/x", "address"),
        ("ftp://93.184.216.34/x", "http"),
        ("https://user:pw@93.184.216.34/x", "user:password"),
    ],
)
def test_ssrf_refusals(url: str, why: str) -> None:
    reason = refused_reason(url, allow_private=False)
    assert reason is not None and why in reason, reason


def test_public_addresses_and_the_private_setting() -> None:
    assert refused_reason("https://93.184.216.34/hook", allow_private=False) is None
    assert refused_reason("http://127.0.0.1:8080/hook", allow_private=True) is None
    assert "https" in str(
        refused_reason("http://93.184.216.34/", allow_private=False, require_https=True)
    )


def service(db: Database, settings: WebhookSettings = LOCAL) -> WebhookService:
    return WebhookService(db, KeyRing({"k1": os.urandom(32)}, "k1"), AuditLog(db), settings)


def test_registration_refuses_private_addresses_by_default(db: Database) -> None:
    with pytest.raises(InvalidRequest) as err:
        service(db, WebhookSettings()).register(
            tenant="t1", url="http://127.0.0.1:5/h", actor=ADMIN
        )
    assert err.value.code == "WEBHOOK_URL_REFUSED" and err.value.field == "url"
    with pytest.raises(InvalidRequest) as err:
        service(db).register(tenant="t1", url="http://127.0.0.1:5/h", actor=ADMIN, events=["nope"])
    assert err.value.field == "events"


def test_secret_shown_once_and_stored_encrypted(db: Database) -> None:
    hooks = service(db)
    created = hooks.register(tenant="t1", url="http://127.0.0.1:5/h", actor=ADMIN)
    secret = created["signing_secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert "signing_secret" not in hooks.endpoints(tenant="t1")[0]
    with db.session() as session:
        stored = session.scalars(select(WebhookEndpoint.secret)).one()
    assert secret.encode() not in stored and stored.startswith(b"KG")
    assert hooks.endpoints(tenant="t2") == []


def _review(case_id: str, review_id: str) -> ReviewDecided:
    return ReviewDecided(
        "verification", case_id, review_id, "t1", "u1", "reject", "suspected_fraud", "rejected",
        "key:key_reviewer", datetime.now(UTC),
    )  # fmt: skip


def test_events_reach_subscribed_endpoints_signed_with_stable_ids(
    db: Database, receiver: HttpReceiver
) -> None:
    hooks = service(db)
    bus = EventBus()
    bus.subscribe(hooks.on_case_decided, CaseDecided)
    bus.subscribe(hooks.on_review_decided, ReviewDecided)
    everything = hooks.register(tenant="t1", url=receiver.url, actor=ADMIN)
    sessions_only = HttpReceiver()
    try:
        hooks.register(
            tenant="t1", url=sessions_only.url, actor=ADMIN, events=["session.completed"]
        )
        case_id = str(uuid.uuid4())
        VerificationRepository(db, events=bus).add(
            Verification(
                id=case_id,
                created_at=datetime.now(UTC),
                status="manual_review",
                overall_confidence=80.0,
                reasons=["FACE_MATCH_UNCERTAIN"],
                result={"verification_id": case_id, "status": "manual_review"},
                selfie_sha256="0" * 64,
                document_sha256="1" * 64,
                user_id="u1",
                tenant="t1",
            )
        )
        with db.session() as session:  # as the reviews module does, in its deciding transaction
            bus.publish(session, _review(case_id, "rev_1"))
        assert hooks.outbox.run() == 2
        first, second = receiver.received
        for got in (first, second):
            assert authentic(everything["signing_secret"], got.headers, got.body)
            assert got.headers["X-Kycguard-Event-Id"] == got.json()["id"]
        completed, reviewed = first.json(), second.json()
        assert set(completed) == {"id", "type", "created", "data"}
        assert completed["type"] == "verification.completed"
        assert completed["data"]["verification_id"] == case_id
        assert reviewed["type"] == "review.decided"
        assert reviewed["data"]["decision"] == "reject"
        assert reviewed["data"]["case"]["verification_id"] == case_id
        assert sessions_only.received == []
        # the same review published again carries the same event id: receivers de-duplicate
        with db.session() as session:
            bus.publish(session, _review(case_id, "rev_1"))
        hooks.outbox.run()
        assert receiver.received[2].json()["id"] == reviewed["id"]
        assert not authentic("whsec_wrong", first.headers, first.body)
    finally:
        sessions_only.close()


def test_a_completed_session_names_the_verification_it_was_created_for(
    db: Database, receiver: HttpReceiver
) -> None:
    """Integrators join ``session.completed`` to the verification that required it; a session
    created without one says ``verification_id: null``."""
    hooks = service(db)
    bus = EventBus()
    bus.subscribe(hooks.on_case_decided, CaseDecided)
    hooks.register(tenant="t1", url=receiver.url, actor=ADMIN, events=["session.completed"])
    vid, linked, alone = (str(uuid.uuid4()) for _ in range(3))
    for sid, link in ((linked, {"verification_id": vid, "status": "manual_review"}), (alone, None)):
        result = {"session_id": sid, "status": "approved", "linked_verification": link}
        with db.session() as session:  # as the session service does, in its completing transaction
            bus.publish(
                session,
                CaseDecided("session", sid, "t1", "u1", "approved", result, datetime.now(UTC)),
            )
    assert hooks.outbox.run() == 2
    got = {r.json()["data"]["session_id"]: r.json()["data"] for r in receiver.received}
    assert got[linked]["verification_id"] == vid and got[linked]["status"] == "approved"
    assert got[alone]["verification_id"] is None
    assert all(r.json()["type"] == "session.completed" for r in receiver.received)


def test_a_deleted_endpoints_deliveries_become_dead_letters(db: Database) -> None:
    hooks = service(db)
    bus = EventBus()
    bus.subscribe(hooks.on_review_decided, ReviewDecided)
    endpoint = hooks.register(tenant="t1", url="http://127.0.0.1:9/h", actor=ADMIN)
    with db.session() as session:
        bus.publish(session, _review(str(uuid.uuid4()), "rev_2"))
    hooks.delete(endpoint["id"], ADMIN, tenant="t1")
    hooks.outbox.run()
    (dead,) = hooks.deliveries.find(tenant="t1")
    assert dead["status"] == "dead" and dead["last_error"] == "the endpoint was deleted"
    assert hooks.deliveries.find(tenant="t2") == []


def test_endpoint_secrets_follow_a_data_key_rotation(db: Database, receiver: HttpReceiver) -> None:
    from kycguard.security.rotation import reencrypt_all

    old, new = os.urandom(32), os.urandom(32)
    hooks = WebhookService(db, KeyRing({"k1": old}, "k1"), AuditLog(db), LOCAL)
    created = hooks.register(tenant="t1", url=receiver.url, actor=ADMIN)
    rotated = KeyRing({"k1": old, "k2": new}, "k2")
    assert reencrypt_all(db, rotated)["webhook_endpoints"] == 1
    after = WebhookService(db, KeyRing({"k2": new}, "k2"), AuditLog(db), LOCAL)
    bus = EventBus()
    bus.subscribe(after.on_review_decided, ReviewDecided)
    with db.session() as session:
        bus.publish(session, _review(str(uuid.uuid4()), "rev_rot"))
    assert after.outbox.run() == 1
    assert authentic(
        created["signing_secret"], receiver.received[0].headers, receiver.received[0].body
    )
