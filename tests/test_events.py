"""The in-transaction event bus and the periodic-job runner: the extension points of alerts,
webhooks, reviews and background delivery."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from kycguard.events import CaseDecided, CaseLabelled, EventBus
from kycguard.jobs import PeriodicJob, ThreadRunner
from kycguard.store.database import Database, upgrade
from kycguard.store.models import Verification
from kycguard.store.repository import VerificationRepository


def _record() -> Verification:
    return Verification(
        id=str(uuid.uuid4()),
        created_at=datetime.now(UTC),
        status="manual_review",
        overall_confidence=80.0,
        reasons=["FACE_MATCH_UNCERTAIN"],
        result={"status": "manual_review"},
        selfie_sha256="0" * 64,
        document_sha256="1" * 64,
        user_id="u-1",
        tenant="t-1",
    )


@pytest.fixture
def db(tmp_path: Path) -> Database:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    upgrade(url)
    return Database(url)


def test_subscriber_sees_the_decision_inside_its_transaction(db: Database) -> None:
    bus = EventBus()
    seen: list[tuple[CaseDecided, int]] = []

    def on_decided(session: Session, event: Any) -> None:
        # the record is already flushed in the same transaction: the subscriber can join on it
        n = session.execute(text("SELECT count(*) FROM verifications")).scalar_one()
        seen.append((event, int(n)))

    bus.subscribe(on_decided, CaseDecided)
    bus.subscribe(lambda s, e: pytest.fail("wrong type delivered"), CaseLabelled)
    record = _record()
    VerificationRepository(db, events=bus).add(record)
    assert len(seen) == 1
    event, rows = seen[0]
    assert (event.kind, event.case_id, event.tenant, event.status) == (
        "verification",
        record.id,
        "t-1",
        "manual_review",
    )
    assert rows == 1


def test_a_failing_subscriber_rolls_the_decision_back(db: Database) -> None:
    bus = EventBus()

    def broken(session: Session, event: Any) -> None:
        raise RuntimeError("outbox write failed")

    bus.subscribe(broken)
    repo = VerificationRepository(db, events=bus)
    with pytest.raises(RuntimeError):
        repo.add(_record())
    assert repo.count() == 0


def test_runner_runs_each_job_at_start_and_survives_a_failing_one() -> None:
    ran = threading.Event()
    calls: list[str] = []

    def failing() -> None:
        calls.append("failing")
        raise ValueError("boom")

    def ok() -> None:
        calls.append("ok")
        if calls.count("ok") >= 2:
            ran.set()

    runner = ThreadRunner(
        [PeriodicJob("failing", 0.05, failing), PeriodicJob("ok", 0.05, ok)], tick_s=0.01
    ).start()
    try:
        assert ran.wait(10), calls
    finally:
        runner.stop()
    assert calls.count("failing") >= 2  # retried after each failure, the other job kept running
