"""The durable outbox on SQLite and PostgreSQL: back-off, every attempt recorded, dead letters,
redelivery, leases of crashed runners, and concurrent runners never sending a row twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from notify.receivers import HttpReceiver
from prometheus_client import REGISTRY
from sqlalchemy import select, update

from kycguard.delivery import channels
from kycguard.delivery.config import DeliverySettings, RetrySettings
from kycguard.delivery.models import Delivery, DeliveryAttempt
from kycguard.delivery.service import (
    DeliveryFailed,
    DeliveryLog,
    Outbox,
    Outgoing,
    backoff_s,
    enqueue,
    now_utc,
)
from kycguard.security.audit import AuditLog
from kycguard.security.crypto import SubjectHasher
from kycguard.security.retention import Retention
from kycguard.store.database import Database

FAST = RetrySettings(first_interval_s=0.05, max_interval_s=0.2, max_age_s=60, lease_s=30)


def http_outbox(db: Database, retry: RetrySettings = FAST) -> Outbox:
    def send(item: Outgoing) -> int | None:
        return channels.post(str(item.payload["url"]), str(item.payload["body"]).encode(), {}, 5)

    return Outbox(db, "test", retry, {"http": send})


def add(db: Database, url: str, n: int = 1) -> list[str]:
    with db.session() as session:
        return [
            enqueue(
                session,
                kind="test",
                channel="http",
                event_type="test.event",
                payload={"url": url, "body": f'{{"n": {i}}}'},
                event_id=f"evt_{i}",
            )
            for i in range(n)
        ]


def run_until(outbox: Outbox, done: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "outbox did not settle"
        outbox.run()
        time.sleep(0.05)


def test_backoff_doubles_with_jitter_and_the_window_is_three_days() -> None:
    retry = RetrySettings()
    assert retry.max_age_s == 3 * 86_400
    plain = RetrySettings(jitter=0)
    assert [backoff_s(n, plain) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff_s(30, plain) == 6 * 3600  # capped
    waits = [backoff_s(3, retry) for _ in range(200)]
    assert min(waits) >= 60 and max(waits) <= 120 and max(waits) - min(waits) > 20
    # how many attempts the default schedule makes before dead-lettering (no jitter: fewest)
    elapsed, attempts = 0.0, 1
    while elapsed + backoff_s(attempts, plain) <= retry.max_age_s:
        elapsed += backoff_s(attempts, plain)
        attempts += 1
    assert attempts == 21, attempts  # 30 s, 1 min, ... 4.3 h, then every 6 h until 3 days


def test_failing_receiver_recovers_and_every_attempt_is_recorded(db: Database) -> None:
    receiver = HttpReceiver(fail_first=2)
    try:
        (delivery_id,) = add(db, receiver.url)
        outbox, log = http_outbox(db), DeliveryLog(db, "test")
        before = (
            REGISTRY.get_sample_value(
                "kycguard_deliveries_total",
                {"kind": "test", "channel": "http", "outcome": "failed"},
            )
            or 0.0
        )
        run_until(outbox, lambda: log.get(delivery_id, tenant=None)["status"] == "delivered")
        row = log.get(delivery_id, tenant=None)
        assert [a["outcome"] for a in row["attempt_log"]] == ["failed", "failed", "delivered"]
        assert [a["status_code"] for a in row["attempt_log"]] == [503, 503, 200]
        assert [a["number"] for a in row["attempt_log"]] == [1, 2, 3]
        assert receiver.answered == [503, 503, 200]
        assert receiver.received[0].body == b'{"n": 0}'
        after = REGISTRY.get_sample_value(
            "kycguard_deliveries_total", {"kind": "test", "channel": "http", "outcome": "failed"}
        )
        assert after == before + 2
    finally:
        receiver.close()


def test_dead_letter_after_the_window_then_redelivered(db: Database) -> None:
    receiver = HttpReceiver(fail_first=10**6)
    try:
        (delivery_id,) = add(db, receiver.url)
        short = RetrySettings(first_interval_s=0.05, max_interval_s=0.1, max_age_s=0.5)
        outbox, log = http_outbox(db, short), DeliveryLog(db, "test")
        run_until(outbox, lambda: log.get(delivery_id, tenant=None)["status"] == "dead")
        dead = log.get(delivery_id, tenant=None)
        assert dead["attempts"] >= 2 and dead["last_error"] == "HTTP 503 answer"
        assert [d["id"] for d in log.find(tenant=None, status="dead")] == [delivery_id]
        outbox.run()
        assert log.get(delivery_id, tenant=None)["attempts"] == dead["attempts"]  # left alone
        receiver.fail_first = 0
        receiver.answered.clear()
        assert log.redeliver(delivery_id, tenant=None)["status"] == "pending"
        run_until(outbox, lambda: log.get(delivery_id, tenant=None)["status"] == "delivered")
        final = log.get(delivery_id, tenant=None)
        assert final["attempts"] == dead["attempts"] + 1
        assert final["attempt_log"][-1]["outcome"] == "delivered"
    finally:
        receiver.close()


def test_redirects_are_not_followed(db: Database) -> None:
    target = HttpReceiver()
    bouncer = HttpReceiver(redirect_to=target.url)
    try:
        (delivery_id,) = add(db, bouncer.url)
        http_outbox(db).run()
        row = DeliveryLog(db, "test").get(delivery_id, tenant=None)
        assert row["attempt_log"][0]["status_code"] == 302
        assert "redirect" in row["last_error"] and row["status"] == "pending"
        assert target.answered == []
    finally:
        target.close()
        bouncer.close()


def test_a_crashed_runners_lease_expires_and_another_runner_delivers(
    db: Database, receiver: HttpReceiver
) -> None:
    (delivery_id,) = add(db, receiver.url)
    crashed = http_outbox(db)
    claimed = crashed.claim()  # ... and the process dies before sending
    assert [c.id for c in claimed] == [delivery_id]
    other = http_outbox(db)
    assert other.run() == 0  # leased: not sent twice meanwhile
    with db.session() as session:  # the lease runs out
        session.execute(update(Delivery).values(claimed_until=now_utc() - timedelta(seconds=1)))
    assert other.run() == 1
    assert DeliveryLog(db, "test").get(delivery_id, tenant=None)["status"] == "delivered"
    assert len(receiver.received) == 1


def test_concurrent_runners_claim_disjoint_rows(db: Database) -> None:
    with db.session() as session:
        for i in range(60):
            enqueue(session, kind="test", channel="none", event_type="t", payload={"i": i})
    outboxes = [Outbox(db, "test", RetrySettings(batch=7), {}) for _ in range(3)]
    got: list[list[str]] = [[] for _ in outboxes]
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            while batch := outboxes[i].claim():
                got[i] += [b.id for b in batch]
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors and db.engine.dialect.name == "sqlite":
        pytest.fail(f"claim failed under concurrency: {errors[0]!r}")
    assert not errors, errors
    everything = [x for g in got for x in g]
    assert len(everything) == 60 and len(set(everything)) == 60
    with db.session() as session:
        assert session.scalars(select(Delivery.claim_token).distinct()).all()


def test_a_runner_stops_before_its_lease_runs_out(db: Database) -> None:
    sent: list[str] = []

    def slow_first(item: Outgoing) -> int | None:
        time.sleep(0.9 if not sent else 0)
        sent.append(item.id)
        return 200

    ids = add(db, "unused", n=5)
    outbox = Outbox(db, "test", RetrySettings(lease_s=1.0), {"http": slow_first})
    assert outbox.run() == 1  # the second would start after 80 % of the lease
    with db.session() as session:
        left = session.scalars(select(Delivery).where(Delivery.status == "pending")).all()
        assert len(left) == 4 and all(r.claim_token is not None for r in left)  # not sent
    time.sleep(1.0)
    assert outbox.run() == 4  # the lease ran out: claimed again and sent, once each
    assert sorted(sent) == sorted(ids) and len(sent) == 5


def test_the_retention_purge_deletes_finished_rows_after_their_retention(db: Database) -> None:
    """Delivered rows go ``keep_delivered_days`` after delivery, dead letters ``keep_dead_days``
    after their retry window began; pending rows stay whatever their age. Counted and audited by
    the retention purge."""

    def flaky(item: Outgoing) -> int | None:
        raise DeliveryFailed("HTTP 503 answer", status_code=503)

    ok: Callable[[Outgoing], int | None] = lambda item: 200  # noqa: E731
    with db.session() as session:
        ids = {
            name: enqueue(session, kind="test", channel=channel, event_type="t", payload={})
            for name, channel in [
                ("delivered_old", "ok"),
                ("delivered_recent", "ok"),
                ("delivered_late", "ok"),  # created long ago, delivered recently
                ("dead_old", "gone"),
                ("dead_recent", "gone"),
                ("pending_old", "flaky"),
            ]
        }
    Outbox(db, "test", FAST, {"ok": ok, "flaky": flaky}).run()
    now = now_utc()
    ages = {  # name -> (created/retry window start, delivered) in days before now
        "delivered_old": (9, 8),
        "delivered_recent": (9, 6),
        "delivered_late": (40, 1),
        "dead_old": (31, None),
        "dead_recent": (29, None),
        "pending_old": (40, None),
    }
    with db.session() as session:
        for name, (created, delivered) in ages.items():
            row = session.get(Delivery, ids[name])
            assert row is not None
            row.created_at = row.retry_from = now - timedelta(days=created)
            if delivered is not None:
                row.delivered_at = now - timedelta(days=delivered)
        status = {n: session.get(Delivery, i).status for n, i in ids.items()}  # type: ignore[union-attr]
    assert status == {
        "delivered_old": "delivered",
        "delivered_recent": "delivered",
        "delivered_late": "delivered",
        "dead_old": "dead",
        "dead_recent": "dead",
        "pending_old": "pending",
    }

    audit = AuditLog(db)
    retention = Retention(db, audit, 30, SubjectHasher(b"k" * 32), DeliverySettings())
    counts = retention.purge()
    assert {k: v for k, v in counts.items() if k.startswith("deliver")} == {
        "delivery_attempts": 2,  # one each (the dead one's permanent failure, the delivery)
        "deliveries_delivered": 1,
        "deliveries_dead": 1,
    }
    with db.session() as session:
        left = set(session.scalars(select(Delivery.id)))
        attempts_left = set(session.scalars(select(DeliveryAttempt.delivery_id)))
    gone = {ids["delivered_old"], ids["dead_old"]}
    assert left == set(ids.values()) - gone
    assert attempts_left == left  # every kept row keeps its attempt log, the purged ones' is gone
    (entry,) = audit.entries(action="retention.purged")
    assert entry["actor"] == "system" and entry["details"]["deleted"] == counts
    assert entry["details"]["keep_delivered_days"] == 7
    assert entry["details"]["keep_dead_days"] == 30

    # a shorter setting takes the recent ones too; pending rows stay however old they are
    shorter = DeliverySettings(keep_delivered_days=1, keep_dead_days=1)
    again = Retention(db, audit, 30, SubjectHasher(b"k" * 32), shorter).purge(
        now=now + timedelta(days=2)
    )
    assert (again["deliveries_delivered"], again["deliveries_dead"]) == (2, 1)
    with db.session() as session:
        assert set(session.scalars(select(Delivery.id))) == {ids["pending_old"]}
    assert len(audit.entries(action="retention.purged")) == 2
    assert Retention(db, audit, 30, SubjectHasher(b"k" * 32), shorter).purge() == {
        k: 0 for k in again
    }
    assert len(audit.entries(action="retention.purged")) == 2  # nothing deleted, nothing audited
