"""The audit log is append-only (the database refuses changes) and hash-chained (``audit verify``
finds an edited, a deleted, a truncated or a rewritten history); concurrent writers keep it linear."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from security.helpers import Deployment, scratch_database
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from kycguard.security.audit import Actor, AuditLog, entry_hash
from kycguard.security.runtime import SecurityRuntime, open_security
from kycguard.settings import Settings
from kycguard.store.security_models import AuditEntry


@pytest.fixture(params=["sqlite", "postgres"])
def sec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SecurityRuntime]:
    with scratch_database(str(request.param), tmp_path) as url:
        keys = {"data_keys": f"dk:{base64.b64encode(bytes(range(32))).decode()}"}
        settings = Settings(data_dir=tmp_path, database_url=url, security=keys)
        with open_security(settings) as security:
            for i in range(5):
                security.audit.record(
                    Actor("key:key_test", "admin"), "test.event", target_id=str(i), details={"i": i}
                )
            yield security


def _raw(sec: SecurityRuntime, sql: str, **params: object) -> None:
    with sec.database.engine.begin() as conn:
        conn.execute(text(sql), params)


def _unprotect(sec: SecurityRuntime) -> None:
    """What an attacker with DDL rights does first."""
    if sec.database.engine.dialect.name == "postgresql":
        _raw(sec, "DROP TRIGGER audit_log_append_only ON audit_log")
    else:
        _raw(sec, "DROP TRIGGER audit_log_no_update")
        _raw(sec, "DROP TRIGGER audit_log_no_delete")


def _cli_verify(sec: SecurityRuntime, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYCGUARD_")}
    env |= {
        "KYCGUARD_DATABASE_URL": sec.database.url,
        "KYCGUARD_DATA_DIR": str(sec.keyring.path.parent if sec.keyring.path else "."),
    }
    return subprocess.run(
        [sys.executable, "-m", "kycguard.cli", "audit", "verify", *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_intact_chain_verifies(sec: SecurityRuntime) -> None:
    report = sec.audit.verify()
    assert report.ok and report.entries == 5 and report.head_seq == 5
    done = _cli_verify(sec)
    assert done.returncode == 0 and json.loads(done.stdout)["ok"] is True


def test_database_refuses_update_and_delete(sec: SecurityRuntime) -> None:
    with pytest.raises(DBAPIError):
        _raw(sec, "UPDATE audit_log SET actor = 'someone' WHERE seq = 2")
    with pytest.raises(DBAPIError):
        _raw(sec, "DELETE FROM audit_log WHERE seq = 2")
    assert sec.audit.verify().ok


def test_edited_entry_is_detected(sec: SecurityRuntime) -> None:
    _unprotect(sec)
    _raw(sec, "UPDATE audit_log SET target_id = 'nothing-to-see' WHERE seq = 3")
    report = sec.audit.verify()
    assert not report.ok
    assert report.problems == [{"seq": 3, "problem": "entry was modified (hash mismatch)"}]
    done = _cli_verify(sec)
    assert done.returncode == 1 and json.loads(done.stdout)["problems"][0]["seq"] == 3


def test_deleted_entry_is_detected(sec: SecurityRuntime) -> None:
    _unprotect(sec)
    _raw(sec, "DELETE FROM audit_log WHERE seq = 2")
    problems = sec.audit.verify().problems
    assert {"seq": 2, "problem": "missing entries 2..2"} in problems
    assert any(p["seq"] == 3 and "prev_hash" in p["problem"] for p in problems)


def test_deleted_tail_is_detected(sec: SecurityRuntime) -> None:
    _unprotect(sec)
    _raw(sec, "DELETE FROM audit_log WHERE seq = 5")
    (problem,) = sec.audit.verify().problems
    assert "deleted at the end" in problem["problem"]


def test_rewritten_history_is_caught_by_an_external_anchor(sec: SecurityRuntime) -> None:
    anchor = sec.audit.verify().head_hash  # recorded outside the database, e.g. in a ticket
    _unprotect(sec)
    # rewrite entry 2 and recompute every later hash and the head: the chain alone looks intact
    with sec.database.session() as s:
        prev = None
        for e in s.query(AuditEntry).order_by(AuditEntry.seq):
            if prev is not None:
                e.prev_hash = prev
            if e.seq == 2:
                e.details = {"i": 99}
            if e.seq >= 2:
                e.hash = entry_hash(e.prev_hash, e)
                s.flush()
            prev = e.hash
        s.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
    assert sec.audit.verify().ok
    assert not sec.audit.verify({5: anchor}).ok
    assert _cli_verify(sec, "--anchor", f"5:{anchor}").returncode == 1


def test_concurrent_writers_keep_one_linear_chain(sec: SecurityRuntime) -> None:
    log = AuditLog(sec.database)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(15):
                log.record(Actor(f"worker:{worker}"), "test.concurrent", details={"i": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    report = sec.audit.verify()
    assert report.ok and report.entries == 5 + 60, report.problems


def test_audit_api_for_auditors(deployment: Deployment) -> None:
    with deployment.client(headers=deployment.headers("auditor")) as c:
        verified = c.get("/api/v1/audit/verify").json()
        page = c.get("/api/v1/audit", params={"limit": 2}).json()
        nxt = c.get(
            "/api/v1/audit", params={"after_seq": page["next_after_seq"], "limit": 2}
        ).json()
        config = c.get("/api/v1/audit", params={"action": "config.changed"}).json()["entries"]
    assert verified["ok"] is True and verified["head"]["seq"] >= 3
    assert [e["seq"] for e in page["entries"]] == [1, 2]
    assert (
        nxt["entries"][0]["seq"] == 3
        and nxt["entries"][0]["prev_hash"] == page["entries"][1]["hash"]
    )
    # the configuration the server started with is on record (secrets masked)
    assert config and config[0]["details"]["settings"]["security"]["retention_days"] == 30
    assert "redis://" not in json.dumps(config)
