"""Retention and the right to erasure.

* ``purge``: images, frames and face templates older than ``retention_days`` are deleted; the decision
  record (``verifications``) stays, so a decision remains explainable without the biometrics.
* ``erase_subject``: every image, frame and template of one ``user_id`` (within a tenant, or in all
  tenants for an admin) is deleted now.

Both are recorded in the audit log in the same transaction as the deletion, with counts only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kycguard.security.audit import SYSTEM, Actor, AuditLog
from kycguard.store.database import Database
from kycguard.store.security_models import Blob


def _session_models() -> tuple[Any, Any, Any] | None:
    """The video-session tables, when that feature is installed."""
    try:
        from kycguard.store.session_models import KycSession, KycSessionBlob, KycSessionFrame
    except ImportError:
        return None
    return KycSession, KycSessionBlob, KycSessionFrame


def _known_face_model() -> Any | None:
    """The known-faces table of the review workflow, when that feature is installed."""
    try:
        from kycguard.reviews.models import KnownFace
    except ImportError:
        return None
    return KnownFace


def _delete_known_faces(session: Session, *conditions: Any) -> dict[str, int]:
    """Known-face templates, except those of cases labelled fraud: a fraud face is kept (encrypted)
    so that it is recognised when it comes back; that is the one purpose it is kept for."""
    model = _known_face_model()
    if model is None:
        return {}
    query = delete(model).where(model.fraud.is_(False), *conditions)
    return {"known_faces": _count(session.execute(query))}


class Retention:
    def __init__(self, db: Database, audit: AuditLog, retention_days: int) -> None:
        self.db = db
        self.audit = audit
        self.retention_days = retention_days

    def purge(self, *, now: datetime | None = None, actor: Actor = SYSTEM) -> dict[str, int]:
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self.retention_days)
        with self.db.session() as session:
            counts = {
                "blobs": _count(session.execute(delete(Blob).where(Blob.created_at < cutoff)))
            }
            models = _session_models()
            if models is not None:
                _, session_blob, _ = models
                counts["session_blobs"] = _count(
                    session.execute(delete(session_blob).where(session_blob.created_at < cutoff))
                )
            model = _known_face_model()
            if model is not None:
                counts |= _delete_known_faces(session, model.created_at < cutoff)
            if any(counts.values()):
                self.audit.append(
                    session,
                    actor,
                    "retention.purged",
                    target_type="retention",
                    details={
                        "older_than": cutoff.isoformat(),
                        "retention_days": self.retention_days,
                    }
                    | {"deleted": counts},
                )
        return counts

    def erase_subject(self, user_id: str, tenant: str | None, actor: Actor) -> dict[str, Any]:
        """Delete every image, frame and template of ``user_id``; ``tenant`` None: in every tenant."""
        with self.db.session() as session:
            query = delete(Blob).where(Blob.user_id == user_id)
            if tenant is not None:
                query = query.where(Blob.tenant == tenant)
            counts = {"blobs": _count(session.execute(query))}
            counts |= _erase_sessions(session, user_id, tenant)
            model = _known_face_model()
            if model is not None:
                owned = [model.user_id == user_id]
                counts |= _delete_known_faces(
                    session, *owned, *([model.tenant == tenant] if tenant is not None else [])
                )
            entry = self.audit.append(
                session,
                actor,
                "subject.erased",
                target_type="subject",
                target_id=user_id,
                tenant=tenant,
                details={"deleted": counts},
            )
            return {"user_id": user_id, "tenant": tenant, "deleted": counts, "audit_seq": entry.seq}


def _erase_sessions(session: Session, user_id: str, tenant: str | None) -> dict[str, int]:
    models = _session_models()
    if models is None:
        return {}
    kyc_session, session_blob, session_frame = models
    query = select(kyc_session.id).where(kyc_session.user_id == user_id)
    if tenant is not None:
        # only this tenant's sessions: erasing others would let a tenant destroy another tenant's
        # data by guessing user ids. Sessions older than migration 0004 that no verification linked
        # to a tenant have none; an admin erasure (every tenant) covers them.
        query = query.where(kyc_session.tenant == tenant)
    ids = list(session.scalars(query))
    if not ids:
        return {"session_blobs": 0, "session_frames": 0}
    return {
        "session_blobs": _count(
            session.execute(delete(session_blob).where(session_blob.session_id.in_(ids)))
        ),
        "session_frames": _count(
            session.execute(delete(session_frame).where(session_frame.session_id.in_(ids)))
        ),
    }


def _count(result: Any) -> int:
    return max(0, int(getattr(result, "rowcount", 0) or 0))
