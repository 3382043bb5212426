"""Several workers on one PostgreSQL and one Redis: nothing per process, nothing lost.

Host A runs two uvicorn workers, host B one more process (tests/scale/conftest.py); sending to A and
B in turn guarantees two different processes, with A's own two workers taking whatever the kernel
hands them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from scale.conftest import JOB_INTERVAL_S, Cluster
from sqlalchemy import create_engine, text

from kycguard.security.signatures import sign_request

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def cli(cluster: Cluster, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "kycguard.cli", *args],
        env=cluster.a.env,
        capture_output=True,
        timeout=timeout,
    )


def new_key(cluster: Cluster, role: str, tenant: str | None, *extra: str) -> dict[str, Any]:
    args = ["keys", "create", "--role", role, "--name", f"scale {role}", "--json", *extra]
    done = cli(cluster, *args, *(["--tenant", tenant] if tenant else []))
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return dict(json.loads(done.stdout))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def cases_of(cluster: Cluster, user: str, tenant: str) -> int:
    """Verifications stored for ``user`` in ``tenant``, read from the shared database."""
    return count(
        cluster,
        "SELECT count(*) FROM verifications WHERE user_id = :u AND tenant = :t",
        u=user,
        t=tenant,
    )


def count(cluster: Cluster, sql: str, **params: Any) -> int:
    engine = create_engine(cluster.database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql), params).scalar_one())
    finally:
        engine.dispose()


def verify_files(fr_test_images: Path) -> dict[str, tuple[str, bytes, str]]:
    return {
        "id_document": ("id.jpg", (fr_test_images / "obama.jpg").read_bytes(), "image/jpeg"),
        "selfie": ("selfie.jpg", (fr_test_images / "obama2.jpg").read_bytes(), "image/jpeg"),
    }


def test_one_sessions_frames_through_different_workers(
    cluster: Cluster, clip_frames: list[bytes]
) -> None:
    key = new_key(cluster, "integrator", cluster.tenant)["key"]
    with httpx.Client(timeout=120) as c:
        r = c.post(
            f"{cluster.a.base_url}/api/v1/sessions", json={"user_id": "u1"}, headers=bearer(key)
        )
        assert r.status_code == 200, r.text
        session = r.json()
        token = {"X-Session-Token": session["session_token"]}
        start = time.monotonic()
        for seq, jpeg in enumerate(clip_frames):
            host = (cluster.a, cluster.b)[seq % 2]
            r = c.post(
                f"{host.base_url}/api/v1/sessions/{session['session_id']}/frames",
                files={"frame": ("f.jpg", jpeg, "image/jpeg")},
                data={"sequence": str(seq), "timestamp": str((time.monotonic() - start) * 1000)},
                headers=token,
            )
            assert r.status_code == 200, (seq, r.text)
        # state written by one process is what the other reads: every frame counted, in order
        for host in (cluster.a, cluster.b):
            view = c.get(f"{host.base_url}/api/v1/sessions/{session['session_id']}", headers=token)
            assert view.status_code == 200, view.text
            assert view.json()["frames_received"] == len(clip_frames)
            assert view.json()["last_sequence"] == len(clip_frames) - 1
        # a frame replayed to the other host is out of order there too
        r = c.post(
            f"{cluster.b.base_url}/api/v1/sessions/{session['session_id']}/frames",
            files={"frame": ("f.jpg", clip_frames[0], "image/jpeg")},
            data={"sequence": "3", "timestamp": "99999999"},
            headers=token,
        )
        assert r.status_code == 409, r.text


def test_rate_limit_holds_across_workers(cluster: Cluster) -> None:
    key = new_key(cluster, "reviewer", None, "--rate-limit", "4")["key"]
    codes = []
    with httpx.Client(timeout=60) as c:
        for i in range(8):
            host = (cluster.a, cluster.b)[i % 2]
            r = c.get(f"{host.base_url}/api/v1/verifications/none", headers=bearer(key))
            codes.append(r.status_code)
    # 4 per window in total, not 4 per process (which would let all 8 through)
    assert codes == [404] * 4 + [429] * 4, codes


def test_signed_request_replayed_to_another_worker_is_refused(cluster: Cluster) -> None:
    made = new_key(cluster, "reviewer", None, "--signed")
    path = "/api/v1/verifications/none"
    signed = sign_request(made["signing_secret"], "GET", path) | bearer(made["key"])
    with httpx.Client(timeout=60) as c:
        first = c.get(cluster.a.base_url + path, headers=signed)
        assert first.status_code == 404, first.text  # accepted, then: no such verification
        for host in (cluster.b, cluster.a):
            again = c.get(host.base_url + path, headers=signed)
            assert again.status_code == 401, again.text
            assert again.json()["error"]["code"] == "SIGNATURE_REPLAYED"


def test_same_idempotency_key_creates_one_case(cluster: Cluster, fr_test_images: Path) -> None:
    tenant = cluster.tenant
    key = new_key(cluster, "integrator", tenant)["key"]
    user = f"idem-{uuid.uuid4().hex[:8]}"
    files = verify_files(fr_test_images)
    headers = bearer(key) | {"Idempotency-Key": f"k-{user}"}
    with httpx.Client(timeout=180) as c:
        first = c.post(
            f"{cluster.a.base_url}/api/v1/verify",
            files=files,
            data={"user_id": user},
            headers=headers,
        )
        assert first.status_code == 200, first.text
        retry = c.post(
            f"{cluster.b.base_url}/api/v1/verify",
            files=files,
            data={"user_id": user},
            headers=headers,
        )
        assert retry.status_code == 200, retry.text
        assert retry.json() == first.json()
        assert retry.headers.get("Idempotent-Replayed") == "true"
        other = verify_files(fr_test_images) | {
            "selfie": ("s.jpg", (fr_test_images / "biden.jpg").read_bytes(), "image/jpeg")
        }
        reused = c.post(
            f"{cluster.b.base_url}/api/v1/verify",
            files=other,
            data={"user_id": user},
            headers=headers,
        )
        assert reused.status_code == 422, reused.text
        assert reused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
        # another tenant's identical key is its own
        stranger = new_key(cluster, "integrator", cluster.tenant)["key"]
        theirs = c.post(
            f"{cluster.a.base_url}/api/v1/verify",
            files=files,
            data={"user_id": user},
            headers=bearer(stranger) | {"Idempotency-Key": f"k-{user}"},
        )
        assert (
            theirs.status_code == 200
            and theirs.json()["verification_id"] != first.json()["verification_id"]
        )
    n = cases_of(cluster, user, tenant)
    assert n == 1


def test_concurrent_duplicates_make_one_case(cluster: Cluster, fr_test_images: Path) -> None:
    tenant = cluster.tenant
    key = new_key(cluster, "integrator", tenant)["key"]
    user = f"race-{uuid.uuid4().hex[:8]}"
    headers = bearer(key) | {"Idempotency-Key": f"race-{user}"}
    answers: list[httpx.Response] = []

    def send(host_url: str) -> None:
        with httpx.Client(timeout=180) as c:
            answers.append(
                c.post(
                    f"{host_url}/api/v1/verify",
                    files=verify_files(fr_test_images),
                    data={"user_id": user},
                    headers=headers,
                )
            )

    threads = [
        threading.Thread(target=send, args=(h.base_url,)) for h in (cluster.a, cluster.b, cluster.a)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in answers) == [200, 200, 200], [
        r.text[:300] for r in answers
    ]
    assert len({r.json()["verification_id"] for r in answers}) == 1
    n = cases_of(cluster, user, tenant)
    assert n == 1


def test_worker_killed_mid_request_loses_nothing(cluster: Cluster, fr_test_images: Path) -> None:
    tenant = cluster.tenant
    key = new_key(cluster, "integrator", tenant)["key"]
    user = f"kill-{uuid.uuid4().hex[:8]}"
    headers = bearer(key) | {"Idempotency-Key": f"kill-{user}"}
    outcome: list[BaseException | httpx.Response] = []

    def send() -> None:
        try:
            with httpx.Client(timeout=180) as c:
                outcome.append(
                    c.post(
                        f"{cluster.a.base_url}/api/v1/verify",
                        files=verify_files(fr_test_images),
                        data={"user_id": user},
                        headers=headers,
                    )
                )
        except httpx.HTTPError as exc:
            outcome.append(exc)

    victims = cluster.a.worker_pids()
    assert len(victims) == 2, victims
    sender = threading.Thread(target=send)
    sender.start()
    time.sleep(0.4)  # the request is being analysed (a /verify takes well over a second here)
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    sender.join()
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.HTTPError), outcome
    # the retry (to the other host) either replays a case committed before the kill or makes it now
    with httpx.Client(timeout=180) as c:
        deadline = time.monotonic() + 60
        while True:
            retry = c.post(
                f"{cluster.b.base_url}/api/v1/verify",
                files=verify_files(fr_test_images),
                data={"user_id": user},
                headers=headers,
            )
            if retry.status_code != 409 or time.monotonic() > deadline:
                break
            time.sleep(1)
    # an in-progress key of a killed worker is taken over after scale.idempotency_lock_s
    assert retry.status_code in (200, 409), retry.text
    n = cases_of(cluster, user, tenant)
    assert n == (1 if retry.status_code == 200 else 0)
    done = cli(cluster, "audit", "verify")
    assert done.returncode == 0, done.stdout.decode()[-2000:] + done.stderr.decode()[-2000:]
    cluster.a.wait_ready(240)  # uvicorn replaced the killed workers
    assert len(cluster.a.worker_pids()) == 2


def test_a_job_runs_once_per_interval_across_workers(cluster: Cluster) -> None:
    sql = "SELECT coalesce(max(runs), 0) FROM job_leases WHERE name = 'retention_purge'"
    before = count(cluster, sql)
    time.sleep(4 * JOB_INTERVAL_S)
    ran = count(cluster, sql) - before
    # three serving processes: one run per interval in all (4 intervals), never one per process
    assert 3 <= ran <= 5, ran


def test_several_workers_on_memory_counters_are_refused(cluster: Cluster, tmp_path: Path) -> None:
    env = {k: v for k, v in cluster.env.items() if k != "KYCGUARD_REDIS_URL"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYCGUARD_")} | env
    env |= {"KYCGUARD_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "kycguard.cli", "serve", "--workers", "2"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert b"KYCGUARD_REDIS_URL" in done.stderr, done.stderr


def test_session_creation_with_an_idempotency_key(cluster: Cluster) -> None:
    key = new_key(cluster, "integrator", cluster.tenant)["key"]
    user = f"sess-{uuid.uuid4().hex[:8]}"
    headers = bearer(key) | {"Idempotency-Key": f"s-{user}"}
    with httpx.Client(timeout=120) as c:
        first = c.post(
            f"{cluster.a.base_url}/api/v1/sessions", json={"user_id": user}, headers=headers
        )
        assert first.status_code == 200, first.text
        # the seed's alias route is the same operation: the retry there replays the first answer
        retry = c.post(
            f"{cluster.b.base_url}/api/v1/kyc/start-session",
            json={"user_id": user},
            headers=headers,
        )
        assert retry.status_code == 200, retry.text
        assert retry.json()["session_id"] == first.json()["session_id"]
        other = c.post(
            f"{cluster.b.base_url}/api/v1/sessions", json={"user_id": user + "x"}, headers=headers
        )
        assert (
            other.status_code == 422 and other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
        )
        bad = c.post(
            f"{cluster.a.base_url}/api/v1/sessions",
            json={"user_id": user},
            headers=bearer(key) | {"Idempotency-Key": "has space"},
        )
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "INVALID_IDEMPOTENCY_KEY"
    n = count(cluster, "SELECT count(*) FROM kyc_sessions WHERE user_id = :u", u=user)
    assert n == 1
