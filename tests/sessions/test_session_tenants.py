"""Video sessions belong to the tenant whose integrator created them; their decisions are audited and
a failed liveness outcome counts toward the liveness lockout, as for ``/verify``.

One real ``kycguard serve`` per database (SQLite and PostgreSQL). Its challenges are a single blink
with a short time limit, and one failed liveness attempt locks a user out, so a clip that never blinks
fails a session within seconds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sessions.helpers import Clip, jpeg
from support.servers import Server

TENANT_A, TENANT_B = "tenant-a", "tenant-b"
ENV = {
    "KYCGUARD_SESSIONS__CHALLENGE_POOL": "blink",
    "KYCGUARD_SESSIONS__MIN_CHALLENGES": "1",
    "KYCGUARD_SESSIONS__MAX_CHALLENGES": "1",
    "KYCGUARD_SESSIONS__CHALLENGE_TIMEOUT_S": "0.7",
    "KYCGUARD_SESSIONS__MAX_CHALLENGE_ATTEMPTS": "2",
    "KYCGUARD_SECURITY__LIVENESS_LOCKOUT__MAX_FAILURES": "1",
    "KYCGUARD_SECURITY__PURGE_INTERVAL_S": "0",
}
CLIENT_EPOCH_MS = 1_700_000_000_000.0


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server({"KYCGUARD_DATABASE_URL": database_url, **ENV}, tmp_path_factory.mktemp("t"))
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    """No credentials of its own: each request names the key (or session token) it uses."""
    with httpx.Client(base_url=server.base_url, timeout=120) as c:
        yield c


def assert_error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text


def create(
    client: httpx.Client, server: Server, tenant: str, device: str | None = None, **body: Any
) -> dict[str, Any]:
    headers = server.headers("integrator", tenant) | ({"X-Device-Id": device} if device else {})
    r = client.post("/api/v1/sessions", json=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def audit(client: httpx.Client, server: Server, action: str) -> list[dict[str, Any]]:
    r = client.get(
        "/api/v1/audit",
        params={"action": action, "limit": 1000},
        headers=server.headers("auditor", None),
    )
    assert r.status_code == 200, r.text
    return r.json()["entries"]  # type: ignore[no-any-return]


def test_another_tenants_key_finds_no_session(client: httpx.Client, server: Server) -> None:
    session = create(client, server, TENANT_A, user_id=f"owner-{uuid.uuid4().hex[:6]}")
    sid = session["session_id"]
    url = f"/api/v1/sessions/{sid}"
    owner = server.headers("integrator", TENANT_A)
    stranger = server.headers("integrator", TENANT_B)
    alias = "/api/v1/kyc/get-session-status"

    # another tenant's integrator (and reviewer) cannot tell the session from an unknown id
    for r in (
        client.get(url, headers=stranger),
        client.get(alias, params={"session_id": sid}, headers=stranger),
        client.delete(url, headers=stranger),
        client.get(url, headers=server.headers("reviewer", TENANT_B)),
        client.get("/api/v1/sessions/no-such-session", headers=owner),
    ):
        assert_error(r, 404, "SESSION_NOT_FOUND")

    # the owner, the owner's reviewer and a reviewer of every tenant still reach it, untouched
    for headers in (owner, server.headers("reviewer", TENANT_A), server.headers("reviewer", None)):
        r = client.get(url, headers=headers)
        assert r.status_code == 200 and r.json()["status"] == "active", r.text
    r = client.get(alias, params={"session_id": sid}, headers=owner)
    assert r.status_code == 200 and r.json()["session_id"] == sid, r.text
    # the browser's token still reaches its own session
    token = {"X-Session-Token": session["session_token"]}
    assert client.get(url, headers=token).json()["status"] == "active"

    deleted = client.delete(url, headers=owner)
    assert deleted.status_code == 200 and deleted.json()["status"] == "deleted", deleted.text
    assert_error(client.get(url, headers=stranger), 404, "SESSION_NOT_FOUND")


def test_a_session_links_only_its_own_tenants_verification(
    client: httpx.Client, server: Server
) -> None:
    """A verification id another tenant knows is VERIFICATION_NOT_FOUND, like an unknown one."""
    from datetime import UTC, datetime

    from kycguard.store.database import Database
    from kycguard.store.models import Verification

    # a verification record of tenant A (how it was decided is not what this checks)
    vid = str(uuid.uuid4())
    database = Database(server.env["KYCGUARD_DATABASE_URL"])
    try:
        with database.session() as tx:
            tx.add(
                Verification(
                    id=vid,
                    created_at=datetime.now(UTC),
                    status="approved",
                    overall_confidence=0.9,
                    reasons=[],
                    result={"verification_id": vid, "status": "approved"},
                    selfie_sha256="0" * 64,
                    document_sha256="0" * 64,
                    user_id="linker",
                    tenant=TENANT_A,
                )
            )
    finally:
        database.close()
    body = {"user_id": "linker", "verification_id": vid}
    foreign = client.post(
        "/api/v1/sessions", json=body, headers=server.headers("integrator", TENANT_B)
    )
    assert_error(foreign, 404, "VERIFICATION_NOT_FOUND")
    own = client.post("/api/v1/sessions", json=body, headers=server.headers("integrator", TENANT_A))
    assert own.status_code == 200 and own.json()["verification_id"] == vid, own.text


def test_completing_a_session_is_audited_once(client: httpx.Client, server: Server) -> None:
    session = create(client, server, TENANT_A, user_id=f"audited-{uuid.uuid4().hex[:6]}")
    sid = session["session_id"]
    token = {"X-Session-Token": session["session_token"]}
    done = client.post(f"/api/v1/sessions/{sid}/complete", headers=token)
    assert done.status_code == 200, done.text
    again = client.post(
        "/api/v1/kyc/complete-verification", json={"session_id": sid}, headers=token
    )
    # the same decision; the seed's alias adds its verdict fields (status PASSED/FAILED, verified)
    seeded, first = again.json(), done.json()
    overridden = {"status", "liveness_score", "deepfake_score"}
    assert seeded["decision"] == first["status"]
    assert seeded["verified"] is (first["status"] == "approved")
    assert seeded["status"] == ("PASSED" if seeded["verified"] else "FAILED")
    assert {k: v for k, v in seeded.items() if k in first and k not in overridden} == {
        k: v for k, v in first.items() if k not in overridden
    }

    entries = [e for e in audit(client, server, "session.decided") if e["target_id"] == sid]
    assert len(entries) == 1, entries  # decided once, audited once
    entry = entries[0]
    assert entry["target_type"] == "session" and entry["tenant"] == TENANT_A
    assert entry["actor"] == f"session:{sid}" and entry["actor_role"] is None
    assert entry["details"] == {"status": done.json()["status"], "reasons": done.json()["reasons"]}
    chain = client.get("/api/v1/audit/verify", headers=server.headers("auditor", None)).json()
    assert chain["ok"], chain


@pytest.mark.evaldata
def test_a_failed_session_counts_toward_the_liveness_lockout(
    client: httpx.Client, server: Server, clip: Callable[[str], Clip]
) -> None:
    """A face that never blinks fails its challenge; with one failure allowed, that user (in that
    tenant) starts no new session, nor does the device it came from (``X-Device-Id``) under any
    other user id, while other users and devices still can."""
    user, device = f"nonblinker-{uuid.uuid4().hex[:6]}", f"phone-{uuid.uuid4().hex[:6]}"
    session = create(client, server, TENANT_A, user_id=user, device=device)
    token = {"X-Session-Token": session["session_token"]}
    url = f"/api/v1/sessions/{session['session_id']}"
    orig = clip("orig")  # a steady face that never blinks
    started, sequence, phase = time.monotonic(), 0, "baseline"
    for i in range(0, len(orig.frames), 2):
        video_ms = 1000 * i / orig.fps
        time.sleep(max(0.0, video_ms / 1000 - (time.monotonic() - started)))
        r = client.post(
            url + "/frames",
            files={"frame": ("f.jpg", jpeg(orig.frames[i], 83), "image/jpeg")},
            data={"sequence": str(sequence), "timestamp": str(CLIENT_EPOCH_MS + video_ms)},
            headers=token,
        )
        assert r.status_code == 200, r.text
        sequence, phase = sequence + 1, r.json()["phase"]
        if phase in ("passed", "failed"):
            break
    assert phase == "failed"
    result = client.post(url + "/complete", headers=token).json()
    assert "CHALLENGE_FAILED" in result["reasons"]

    again = client.post(
        "/api/v1/sessions", json={"user_id": user}, headers=server.headers("integrator", TENANT_A)
    )
    assert_error(again, 429, "LIVENESS_LOCKED_OUT")
    create(client, server, TENANT_A, user_id=f"someone-else-{uuid.uuid4().hex[:6]}")
    create(client, server, TENANT_B, user_id=user)  # the same id in another tenant is another user
    # the device is locked too, whatever user id it now claims; not in another tenant
    integrator = server.headers("integrator", TENANT_A)
    fresh = {"user_id": f"new-identity-{uuid.uuid4().hex[:6]}"}
    from_device = client.post(
        "/api/v1/sessions", json=fresh, headers=integrator | {"X-Device-Id": device}
    )
    assert_error(from_device, 429, "LIVENESS_LOCKED_OUT")
    create(client, server, TENANT_A, user_id=fresh["user_id"])  # that user on another device
    create(client, server, TENANT_A, user_id=fresh["user_id"], device=f"other-{device}")
    create(client, server, TENANT_B, user_id=fresh["user_id"], device=device)
