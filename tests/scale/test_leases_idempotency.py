"""Job leases and idempotency records on both databases, without a server."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from kycguard.jobs import PeriodicJob, ThreadRunner
from kycguard.scale.config import ScaleSettings
from kycguard.scale.idempotency import Claim, IdempotencyStore, KeyReused, Replay
from kycguard.scale.leases import LeaseStore
from kycguard.store.database import Database


def test_four_runners_run_a_job_once_per_interval(db: Database) -> None:
    runs: list[float] = []
    lock = threading.Lock()

    def job() -> None:
        with lock:
            runs.append(time.monotonic())

    spec = PeriodicJob("counted", 1.0, job)
    runners = [
        ThreadRunner(
            [spec],
            tick_s=0.05,
            lease=lambda j, s=LeaseStore(db, f"p{i}"): s.acquire(j.name, j.interval_s),
        )
        for i in range(4)
    ]
    for r in runners:
        r.start()
    time.sleep(3.5)
    for r in runners:
        r.stop()
    # at t = 0, 1, 2, 3 s: four runs in all (sixteen without the lease)
    assert 3 <= len(runs) <= 5, runs
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    assert all(g >= 0.5 for g in gaps), gaps  # never two runs in one interval


def test_idempotency_claim_replay_reuse_and_takeover(db: Database) -> None:
    store = IdempotencyStore(db, ScaleSettings(idempotency_lock_s=10))
    first = store.begin("tenant:t", "k1", "verify", "a" * 64)
    assert isinstance(first, Claim)
    assert store.begin("tenant:t", "k1", "verify", "a" * 64) is None  # in progress: wait
    with pytest.raises(KeyReused):
        store.begin("tenant:t", "k1", "verify", "b" * 64)
    assert isinstance(store.begin("tenant:other", "k1", "verify", "a" * 64), Claim)  # own scope
    store.answer(first, 200, {"verification_id": "v1"})
    again = store.begin("tenant:t", "k1", "verify", "a" * 64)
    assert again == Replay(200, {"verification_id": "v1"})
    # a claim whose worker died (lock expired) is taken over by the retry, once
    stale = store.begin("tenant:t", "k2", "session", "c" * 64)
    assert isinstance(stale, Claim)
    from sqlalchemy import update

    from kycguard.scale.models import IdempotencyRecord

    with db.session() as s:
        s.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.id == stale.id)
            .values(locked_until=time.time() - 1)
        )
    taken = store.begin("tenant:t", "k2", "session", "c" * 64)
    assert isinstance(taken, Claim) and taken.id == stale.id
    assert store.begin("tenant:t", "k2", "session", "c" * 64) is None
    store.release(taken)  # a server error: the next retry runs again
    assert isinstance(store.begin("tenant:t", "k2", "session", "c" * 64), Claim)
