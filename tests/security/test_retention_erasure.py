"""Retention keeps decisions and drops biometrics; erasure removes every image, frame and template
of one person, in one tenant only, and is recorded in the audit log."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from security.helpers import (
    Deployment,
    assert_error,
    bearer,
    run_verification,
    send_frame,
    start_session,
)
from sqlalchemy import create_engine, text


def _sql(dep: Deployment, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(dep.database_url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        engine.dispose()


def _audit(dep: Deployment, action: str) -> list[dict[str, Any]]:
    with dep.client(headers=dep.headers("auditor")) as c:
        entries = c.get("/api/v1/audit", params={"action": action, "limit": 1000}).json()
    return entries["entries"]


def test_purge_drops_old_images_and_templates_but_keeps_the_decision(
    deployment: Deployment, photos: dict[str, bytes]
) -> None:
    old_user, new_user = f"old-{uuid.uuid4().hex[:6]}", f"new-{uuid.uuid4().hex[:6]}"
    old = run_verification(deployment, photos, old_user)
    new = run_verification(deployment, photos, new_user)
    session = start_session(deployment, old_user, document=photos["card"])
    # 31 days pass for the old ones (retention is 30 days)
    month_ago = datetime.now(UTC) - timedelta(days=31)
    _sql(deployment, "UPDATE blobs SET created_at = :t WHERE user_id = :u", t=month_ago, u=old_user)
    _sql(
        deployment,
        "UPDATE verifications SET created_at = :t WHERE user_id = :u",
        t=month_ago,
        u=old_user,
    )
    _sql(
        deployment,
        "UPDATE kyc_session_blobs SET created_at = :t WHERE session_id = :s",
        t=month_ago,
        s=session["session_id"],
    )

    done = subprocess.run(
        [sys.executable, "-m", "kycguard.cli", "retention", "purge"],
        env=deployment.server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["retention_days"] == 30
    assert report["deleted"]["blobs"] >= 3 and report["deleted"]["session_blobs"] >= 1

    count = "SELECT count(*) FROM blobs WHERE user_id = :u"
    assert _sql(deployment, count, u=old_user)[0][0] == 0
    assert _sql(deployment, count, u=new_user)[0][0] == 3  # recent ones stay
    left = "SELECT count(*) FROM kyc_session_blobs WHERE session_id = :s"
    assert _sql(deployment, left, s=session["session_id"])[0][0] == 0
    assert report["deleted"]["verification_personal_data"] >= 1
    # the decision record stays and is still served, without its personal fields; the recent
    # one is served whole
    with deployment.client(headers=deployment.headers("integrator")) as c:
        kept = c.get(f"/api/v1/verifications/{old['verification_id']}")
        recent = c.get(f"/api/v1/verifications/{new['verification_id']}")
    read_view = {"video_session": None, "final_decision": new["status"]}  # no linked session
    assert kept.status_code == 200 and recent.json() == new | read_view
    answer = kept.json()
    assert answer["personal_data"]["status"] == "erased"
    assert answer["personal_data"]["reason"] == "retention"
    assert {k: answer[k] for k in ("status", "overall_confidence", "reasons")} == {
        k: old[k] for k in ("status", "overall_confidence", "reasons")
    }
    assert "mrz" not in answer["document_authenticity"] and "OBAMA" not in kept.text
    assert new["verification_id"] != old["verification_id"]
    purges = _audit(deployment, "retention.purged")
    assert purges and purges[-1]["actor"].startswith("cli:")
    assert purges[-1]["details"]["deleted"] == report["deleted"]


def test_erasure_removes_everything_of_one_person_and_is_audited(
    deployment: Deployment, photos: dict[str, bytes]
) -> None:
    user, bystander = f"erase-{uuid.uuid4().hex[:6]}", f"keep-{uuid.uuid4().hex[:6]}"
    phone = f"phone-{uuid.uuid4().hex[:6]}"  # X-Device-Id: stored as the lockout's hash only
    phone_ref = hashlib.sha256(f"device:{deployment.tenant_a}:{phone}".encode()).hexdigest()[:32]
    erased = run_verification(deployment, photos, user, device=phone)
    run_verification(deployment, photos, user)
    run_verification(deployment, photos, bystander, device=phone)
    linked = start_session(
        deployment, user, verification_id=erased["verification_id"], device=phone
    )
    devices = (
        "SELECT user_id, device_ref FROM verifications WHERE device_ref IS NOT NULL AND "
        "user_id IN (:u, :b) UNION ALL SELECT user_id, device_ref FROM kyc_sessions "
        "WHERE device_ref IS NOT NULL AND user_id IN (:u, :b)"
    )
    assert sorted(map(tuple, _sql(deployment, devices, u=user, b=bystander))) == sorted(
        [(user, phone_ref), (bystander, phone_ref), (user, phone_ref)]
    )
    send_frame(deployment, linked, photos["obama2"])
    unlinked = start_session(deployment, user, document=photos["card"])
    blobs_of = "SELECT count(*) FROM blobs WHERE user_id = :u"
    session_blobs = "SELECT count(*) FROM kyc_session_blobs WHERE session_id = :s"
    assert _sql(deployment, blobs_of, u=user)[0][0] == 6
    kept_frames = _sql(deployment, session_blobs, s=linked["session_id"])[0][0]
    assert kept_frames >= 1 and _sql(deployment, session_blobs, s=unlinked["session_id"])[0][0] == 1

    def erase(headers: dict[str, str]) -> dict[str, Any]:
        with deployment.client(headers=headers) as c:
            r = c.delete(f"/api/v1/subjects/{user}")
        assert r.status_code == 200, r.text
        return r.json()

    # another tenant's integrator erases "its" user of that id: nothing of tenant A is touched
    other = erase(deployment.headers("integrator", deployment.tenant_b))
    assert other["deleted"] == {
        "blobs": 0,
        "verification_personal_data": 0,
        "session_blobs": 0,
        "session_frames": 0,
        "known_faces": 0,
    }
    assert _sql(deployment, blobs_of, u=user)[0][0] == 6
    assert _sql(deployment, session_blobs, s=linked["session_id"])[0][0] == kept_frames

    # the tenant's own erasure: its verifications, and its sessions linked or not
    own = erase(deployment.headers("integrator"))
    assert own["tenant"] == deployment.tenant_a
    assert own["deleted"] == {
        "blobs": 6,
        "verification_personal_data": 2,
        "session_blobs": kept_frames + 1,
        "session_frames": 1,
        "known_faces": 2,  # the two verifications' templates kept for the known-faces search
    }
    assert _sql(deployment, blobs_of, u=user)[0][0] == 0
    assert _sql(deployment, blobs_of, u=bystander)[0][0] == 3
    # the erased person's device reference goes too (their rows now carry the pseudonym)
    assert [tuple(r) for r in _sql(deployment, devices, u=user, b=bystander)] == [
        (bystander, phone_ref)
    ]
    assert _sql(deployment, session_blobs, s=linked["session_id"])[0][0] == 0
    frames = "SELECT count(*) FROM kyc_session_frames WHERE session_id = :s"
    assert _sql(deployment, frames, s=linked["session_id"])[0][0] == 0
    assert _sql(deployment, session_blobs, s=unlinked["session_id"])[0][0] == 0
    # the decision stays (a legal record), the biometrics and personal fields are gone
    with deployment.client(headers=deployment.headers("integrator")) as c:
        kept = c.get(f"/api/v1/verifications/{erased['verification_id']}")
        assert kept.status_code == 200, kept.text
        assert kept.json()["personal_data"]["status"] == "erased"
        assert kept.json()["status"] == erased["status"]
        assert kept.json()["reasons"] == erased["reasons"]
        assert "OBAMA" not in kept.text and "D23145890" not in kept.text
        assert_error(c.delete("/api/v1/subjects/" + "x" * 129), 422)

    # an admin erasure covers every tenant (nothing of this user is left)
    everywhere = erase(bearer(deployment.admin_key))
    assert everywhere["tenant"] is None and everywhere["deleted"]["session_blobs"] == 0

    # the immutable audit log names the subject by its keyed pseudonym, never by the user id
    refs = {other["subject_ref"], own["subject_ref"], everywhere["subject_ref"]}
    assert len(refs) == 3  # one pseudonym per tenant scope (tenant B, tenant A, every tenant)
    assert all(r.startswith("subj_") and user not in r for r in refs)
    every = _audit(deployment, "subject.erased")
    assert not [e for e in every if user in json.dumps(e)]
    entries = [e for e in every if e["target_id"] in refs]
    assert [e["tenant"] for e in entries] == [deployment.tenant_b, deployment.tenant_a, None]
    assert [e["details"]["deleted"] for e in entries] == [
        other["deleted"],
        own["deleted"],
        everywhere["deleted"],
    ]
    assert entries[1]["seq"] == own["audit_seq"] and entries[1]["actor"].startswith("key:")
