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
from kycguard.delivery.config import RetrySettings
from kycguard.delivery.models import Delivery
from kycguard.delivery.service import DeliveryLog, Outbox, Outgoing, backoff_s, enqueue, now_utc
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
