"""`kycguard worker`: the periodic jobs of runtime.jobs on Celery (Redis broker), scheduled once per
interval per cluster, consumed from the queue; the API processes then run none."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from security.helpers import REDIS_URL, redis_or_missing
from sqlalchemy import create_engine, text
from support.databases import scratch_database

from kycguard.events import EventBus
from kycguard.jobs import PeriodicJob
from kycguard.scale.config import ScaleSettings
from kycguard.scale.runtime import ScaleRuntime
from kycguard.store.database import Database, upgrade

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def broker_url() -> str:
    redis_or_missing()
    return REDIS_URL.rsplit("/", 1)[0] + "/14"  # a database of its own for the queue


def lease(url: str) -> tuple[str, int] | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not conn.dialect.has_table(conn, "job_leases"):  # not migrated yet
                return None
            row = conn.execute(
                text("SELECT holder, runs FROM job_leases WHERE name = 'retention_purge'")
            ).first()
    finally:
        engine.dispose()
    return None if row is None else (str(row[0]), int(row[1]))


def test_worker_schedules_and_consumes_the_jobs(tmp_path: Path) -> None:
    with scratch_database("postgres", tmp_path) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KYCGUARD_")} | {
            "KYCGUARD_DATA_DIR": str(tmp_path / "data"),
            "KYCGUARD_DATABASE_URL": url,
            "KYCGUARD_SCALE__BROKER_URL": broker_url(),
            "KYCGUARD_SECURITY__PURGE_INTERVAL_S": "2",
            "KYCGUARD_DATA_KEYS": "k1:" + base64.b64encode(b"q" * 32).decode(),
        }
        log = tmp_path / "worker.log"
        worker = subprocess.Popen(
            [sys.executable, "-m", "kycguard.cli", "worker"],
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 240
            while (found := lease(url)) is None or found[1] < 3:
                assert worker.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(1)
            holder, _ = found
            assert holder.endswith(f":{worker.pid}")  # scheduled by the worker, not an API process
            deadline = time.monotonic() + 60
            while (
                log.read_text().count("kycguard.run_job") < 2 or "succeeded" not in log.read_text()
            ):
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(1)
        finally:
            worker.terminate()
            worker.wait(timeout=30)


def test_without_broker_refused_and_api_runs_none_with_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYCGUARD_")}
    env["KYCGUARD_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "kycguard.cli", "worker"], env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 2 and b"KYCGUARD_SCALE__BROKER_URL" in done.stderr, done.stderr
    url = f"sqlite:///{tmp_path / 'k.db'}"
    upgrade(url)
    db = Database(url)
    try:
        ran: list[int] = []
        job = PeriodicJob("x", 1, lambda: ran.append(1))
        queued = ScaleRuntime.build(ScaleSettings(broker_url="redis://h/1"), db, EventBus())
        queued.start_jobs([job]).stop()
        local = ScaleRuntime.build(ScaleSettings(), db, EventBus())
        runner = local.start_jobs([job])
        time.sleep(0.5)
        runner.stop()
        assert ran == [1]  # in-process in the embedded default, none with a queue
    finally:
        db.close()
