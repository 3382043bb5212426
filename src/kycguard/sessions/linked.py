"""A verification and the video session its policy required: the latest session created with its
``verification_id`` (same tenant only) and the decision that now stands for the verification.

Nothing here rewrites the verification: its stored answer and audit entries stay as they were; the
session block and ``final_decision`` are computed when the record is read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kycguard.store.models import Verification
from kycguard.store.session_models import KycSession

REQUIRED_REASON = "VIDEO_SESSION_REQUIRED"
DECIDING = ("approved", "rejected", "manual_review")


def latest_linked_session(
    session: Session, verification_id: str, tenant: str | None
) -> KycSession | None:
    """The latest session created with this verification id under the verification's own tenant
    (``tenant``), whoever reads: a session of another tenant never shows."""
    q = select(KycSession).where(KycSession.verification_id == verification_id)
    q = q.where(KycSession.tenant.is_(None) if tenant is None else KycSession.tenant == tenant)
    return session.scalars(q.order_by(KycSession.created_at.desc(), KycSession.id.desc())).first()


def session_block(row: KycSession) -> dict[str, Any]:
    """``{session_id, status, decision, completed_at}``: ``status`` active / expired / completed /
    deleted, ``decision`` the session's decision once completed (else null)."""
    status = row.status
    if status == "active" and _aware(row.expires_at) <= datetime.now(UTC):
        status = "expired"
    decision = row.result.get("status") if status == "completed" and row.result else None
    return {
        "session_id": row.id,
        "status": status,
        "decision": decision,
        "completed_at": _aware(row.completed_at).isoformat() if row.completed_at else None,
    }


def only_blocked_by_video_session(result: dict[str, Any]) -> bool:
    """The verification would have been approved but for the video session its risk tier required:
    ``manual_review``, ``VIDEO_SESSION_REQUIRED`` its only reason, its score before the rules at or
    above its ``approve_at``."""
    if result.get("status") != "manual_review" or list(result.get("reasons") or []) != [
        REQUIRED_REASON
    ]:
        return False
    try:
        score = float((result.get("scores") or {})["before_rules"])
        approve_at = float((result.get("thresholds") or {})["approve_at"])
    except (KeyError, TypeError, ValueError):
        return False
    return score >= approve_at


def final_decision(result: dict[str, Any], block: dict[str, Any] | None) -> str:
    """A reviewer's decision (the ``review`` overlay) first; else the completed session's decision
    when the session was the verification's only blocking reason; else the verification's own."""
    review = result.get("review")
    if isinstance(review, dict) and review.get("final_status"):
        return str(review["final_status"])
    if (
        block is not None
        and block["status"] == "completed"
        and block["decision"] in DECIDING
        and only_blocked_by_video_session(result)
    ):
        return str(block["decision"])
    return str(result.get("status"))


def with_video_session(
    session: Session, verification_id: str, result: dict[str, Any]
) -> dict[str, Any]:
    """The read view: ``video_session`` (null when none was created) and ``final_decision``."""
    owner = session.scalar(select(Verification.tenant).where(Verification.id == verification_id))
    row = latest_linked_session(session, verification_id, owner)
    block = session_block(row) if row is not None else None
    return result | {"video_session": block, "final_decision": final_decision(result, block)}


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
