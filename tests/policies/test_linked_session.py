"""A high-risk verification and the video session it required: the verification's read view shows
the latest session created with its id (same tenant only) and the decision that now stands, and its
review case is closed by the system, audited, once the session decided. The stored answer is never
rewritten. End to end on the policy tests' PostgreSQL server with real photos; the read rules on
real SQLite and PostgreSQL databases."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from policies.helpers import Call, audit_entries

from kycguard.sessions.linked import with_video_session
from kycguard.store.database import Database
from kycguard.store.models import Verification
from kycguard.store.session_models import KycSession

# -- end to end -------------------------------------------------------------------------------------


def test_the_required_session_decides_the_verification_and_closes_its_review(
    api: Call, verify: Callable[..., dict[str, Any]]
) -> None:
    user = f"u-linked-{uuid.uuid4().hex[:6]}"
    case = verify(risk_level="high", user_id=user)
    vid = case["verification_id"]
    # a photo pair that approves at medium risk: the session is the only thing missing
    assert case["status"] == "manual_review" and case["reasons"] == ["VIDEO_SESSION_REQUIRED"]
    assert case["scores"]["before_rules"] >= case["thresholds"]["approve_at"], case["scores"]
    url = f"/api/v1/verifications/{vid}"
    before = api("GET", url, role="integrator").json()
    assert before["video_session"] is None and before["final_decision"] == "manual_review"

    created = _create(api, user, vid)
    sid = created["session_id"]
    pending = api("GET", url, role="integrator").json()["video_session"]
    assert pending == {
        "session_id": sid,
        "status": "active",
        "decision": None,
        "completed_at": None,
    }

    done = _complete(api, created)
    decided = done["status"]  # no frames streamed: no liveness, never an approval
    assert decided == "rejected", done["reasons"]

    after = api("GET", url, role="integrator").json()
    assert after["video_session"]["session_id"] == sid
    assert after["video_session"]["status"] == "completed"
    assert after["video_session"]["decision"] == decided
    assert after["video_session"]["completed_at"] is not None
    assert after["final_decision"] == decided
    # the review case the verification opened is closed by the system, naming the session
    assert after["review"]["reviewer"] == "system" and after["review"]["session_id"] == sid
    assert after["review"]["reason"] == "VIDEO_SESSION_DECIDED"
    assert after["review"]["original_status"] == "manual_review"
    # the verification's own decision is kept as it was decided
    assert after["reasons"] == ["VIDEO_SESSION_REQUIRED"]
    assert after["overall_confidence"] == case["overall_confidence"]

    (closed,) = _review_cases(api, vid)
    assert closed["status"] == "decided" and closed["final_status"] == decided
    assert closed["decision"]["reviewer"] == "system" and closed["decision"]["session_id"] == sid
    evidence = api("GET", f"/api/v1/reviews/{closed['id']}", role="reviewer").json()["evidence"]
    assert evidence["video_session"]["session_id"] == sid
    entries = audit_entries(api, "review.closed_by_session")
    named = [e for e in entries if e["details"]["verification_id"] == vid]
    assert len(named) == 1 and named[0]["details"]["session_id"] == sid, named
    assert named[0]["actor"] == "system"

    # another tenant neither sees the verification nor its session
    foreign = api("GET", url, role="integrator", tenant="someone-else")
    assert (
        foreign.status_code == 404 and foreign.json()["error"]["code"] == "VERIFICATION_NOT_FOUND"
    )


def _review_cases(api: Call, verification_id: str) -> list[dict[str, Any]]:
    queue = api(
        "GET", "/api/v1/reviews", role="reviewer", params={"kind": "verification", "limit": 200}
    )
    assert queue.status_code == 200, queue.text
    return [i for i in queue.json()["items"] if i["case_id"] == verification_id]


def _create(api: Call, user: str, vid: str) -> dict[str, Any]:
    """A video session for the verification ``vid`` (its creation answer)."""
    created = api(
        "POST",
        "/api/v1/sessions",
        role="integrator",
        json={"user_id": user, "verification_id": vid},
    )
    assert created.status_code == 200, created.text
    return dict(created.json())


def _complete(api: Call, created: dict[str, Any]) -> dict[str, Any]:
    """Complete the session as the capture page does (its token, no API key)."""
    done = api(
        "POST",
        f"/api/v1/sessions/{created['session_id']}/complete",
        role=None,
        headers={"X-Session-Token": created["session_token"]},
    )
    assert done.status_code == 200, done.text
    return dict(done.json())


def _create_and_complete(api: Call, user: str, vid: str) -> dict[str, Any]:
    return _complete(api, _create(api, user, vid))


def test_a_case_a_reviewer_holds_stays_theirs_and_shows_the_session(
    api: Call, verify: Callable[..., dict[str, Any]]
) -> None:
    user = f"u-held-{uuid.uuid4().hex[:6]}"
    case = verify(risk_level="high", user_id=user)
    vid = case["verification_id"]
    (open_case,) = _review_cases(api, vid)
    claim = api("POST", f"/api/v1/reviews/{open_case['id']}/claim", role="reviewer")
    assert claim.status_code == 200, claim.text

    session = _create_and_complete(api, user, vid)
    (held,) = _review_cases(api, vid)
    assert held["status"] == "claimed" and held["decision"] is None  # not closed under a reviewer
    evidence = api("GET", f"/api/v1/reviews/{held['id']}", role="reviewer").json()["evidence"]
    assert evidence["video_session"]["session_id"] == session["session_id"]
    assert evidence["video_session"]["decision"] == session["status"]
    shown = api("GET", f"/api/v1/verifications/{vid}", role="integrator").json()
    assert "review" not in shown and shown["status"] == "manual_review"
    assert shown["final_decision"] == session["status"]  # the session was its only blocker

    decided = api(
        "POST",
        f"/api/v1/reviews/{held['id']}/decision",
        role="reviewer",
        json={"decision": "approve", "notes": "checked by hand"},
    )
    assert decided.status_code == 200, decided.text
    final = api("GET", f"/api/v1/verifications/{vid}", role="integrator").json()
    assert final["final_decision"] == "approved" == final["status"]  # the reviewer's word wins


# -- the read rules, on both databases -----------------------------------------------------------


HIGH_RISK = {
    "status": "manual_review",
    "reasons": ["VIDEO_SESSION_REQUIRED"],
    "scores": {"before_rules": 91.0},
    "thresholds": {"approve_at": 75.0, "review_at": 40.0},
}


def _verification(db: Database, tenant: str, **result: Any) -> str:
    vid = str(uuid.uuid4())
    body = {"verification_id": vid, **HIGH_RISK, **result}
    with db.session() as tx:
        tx.add(
            Verification(
                id=vid,
                created_at=datetime.now(UTC),
                status=body["status"],
                overall_confidence=74.9,
                reasons=body["reasons"],
                result=body,
                selfie_sha256="0" * 64,
                document_sha256="0" * 64,
                user_id="u",
                tenant=tenant,
            )
        )
    return vid


def _session(db: Database, vid: str, tenant: str, decision: str | None, age_s: int) -> str:
    sid = str(uuid.uuid4())
    at = datetime.now(UTC) - timedelta(seconds=age_s)
    with db.session() as tx:
        tx.add(
            KycSession(
                id=sid,
                created_at=at,
                updated_at=at,
                expires_at=at + timedelta(hours=1),
                completed_at=at if decision else None,
                status="completed" if decision else "active",
                user_id="u",
                tenant=tenant,
                verification_id=vid,
                token_sha256=hashlib.sha256(sid.encode()).hexdigest(),
                challenges=["blink"],
                state={"results": []},
                result={"session_id": sid, "status": decision} if decision else None,
            )
        )
    return sid


def _view(db: Database, vid: str) -> dict[str, Any]:
    with db.session() as tx:
        stored = tx.get(Verification, vid)
        assert stored is not None
        return with_video_session(tx, vid, dict(stored.result))


def test_an_approved_session_approves_the_verification_it_alone_held_back(db: Database) -> None:
    vid = _verification(db, "a")
    older = _session(db, vid, "a", "rejected", age_s=600)
    latest = _session(db, vid, "a", "approved", age_s=60)
    _session(db, vid, "b", "rejected", age_s=1)  # another tenant's, newer: never shown
    view = _view(db, vid)
    assert view["video_session"]["session_id"] == latest != older
    assert view["video_session"]["decision"] == "approved"
    assert view["video_session"]["status"] == "completed"
    assert view["final_decision"] == "approved"
    assert view["status"] == "manual_review"  # the verification's own decision, unchanged


def test_another_blocking_reason_keeps_the_verifications_own_decision(db: Database) -> None:
    other = _verification(db, "a", reasons=["VIDEO_SESSION_REQUIRED", "FACE_MATCH_UNCERTAIN"])
    _session(db, other, "a", "approved", age_s=5)
    assert _view(db, other)["final_decision"] == "manual_review"
    low = _verification(db, "a", scores={"before_rules": 60.0})  # would not have approved anyway
    _session(db, low, "a", "approved", age_s=5)
    assert _view(db, low)["final_decision"] == "manual_review"


def test_a_session_still_running_decides_nothing(db: Database) -> None:
    vid = _verification(db, "a")
    sid = _session(db, vid, "a", None, age_s=5)
    view = _view(db, vid)
    assert view["video_session"] == {
        "session_id": sid,
        "status": "active",
        "decision": None,
        "completed_at": None,
    }
    assert view["final_decision"] == "manual_review"
    none = _verification(db, "a")
    assert _view(db, none)["video_session"] is None
