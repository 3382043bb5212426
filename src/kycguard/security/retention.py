"""Retention and the right to erasure.

* ``purge``: images, frames, face templates and the sealed personal fields of decision records
  older than ``retention_days`` are deleted; the decision record (``verifications``: decision,
  scores, reason codes) stays, so a decision remains explainable without the personal data.
* ``purge`` also deletes the finished rows of the delivery outbox: delivered ones after
  ``delivery.keep_delivered_days``, dead letters after ``delivery.keep_dead_days`` (pending rows
  stay until they are delivered or dead).
* ``erase_subject``: the same for one ``user_id`` (within a tenant, or in all tenants for an admin),
  now; the user id itself is replaced by its pseudonym in the records that stay.

Both are recorded in the audit log in the same transaction as the deletion, with counts only; the
subject is named there by its keyed pseudonym (:class:`~kycguard.security.crypto.SubjectHasher`),
never by the raw user id, since audit entries can never be deleted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kycguard.delivery.config import DeliverySettings
from kycguard.delivery.service import purge_finished
from kycguard.security.audit import SYSTEM, Actor, AuditLog
from kycguard.security.crypto import SubjectHasher
from kycguard.store.database import Database
from kycguard.store.models import Verification
from kycguard.store.repository import erase_personal
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
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        retention_days: int,
        subjects: SubjectHasher,
        delivery: DeliverySettings | None = None,
    ) -> None:
        self.db = db
        self.audit = audit
        self.retention_days = retention_days
        self.subjects = subjects
        self.delivery = delivery or DeliverySettings()

    def purge(self, *, now: datetime | None = None, actor: Actor = SYSTEM) -> dict[str, int]:
        at = now or datetime.now(UTC)
        cutoff = at - timedelta(days=self.retention_days)
        keep = self.delivery
        with self.db.session() as session:
            counts = {
                "blobs": _count(session.execute(delete(Blob).where(Blob.created_at < cutoff))),
                "verification_personal_data": erase_personal(
                    session, "retention", older_than=cutoff
                ),
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
            counts |= purge_finished(
                session,
                delivered_before=at - timedelta(days=keep.keep_delivered_days),
                dead_before=at - timedelta(days=keep.keep_dead_days),
            )
            if any(counts.values()):
                self.audit.append(
                    session,
                    actor,
                    "retention.purged",
                    target_type="retention",
                    details={
                        "older_than": cutoff.isoformat(),
                        "retention_days": self.retention_days,
                        "keep_delivered_days": keep.keep_delivered_days,
                        "keep_dead_days": keep.keep_dead_days,
                    }
                    | {"deleted": counts},
                )
        return counts

    def erase_subject(self, user_id: str, tenant: str | None, actor: Actor) -> dict[str, Any]:
        """Delete every image, frame, template and sealed personal field of ``user_id``;
        ``tenant`` None: in every tenant."""
        with self.db.session() as session:
            query = delete(Blob).where(Blob.user_id == user_id)
            if tenant is not None:
                query = query.where(Blob.tenant == tenant)
            counts = {"blobs": _count(session.execute(query))}
            counts["verification_personal_data"] = erase_personal(
                session, "erasure", user_id=user_id, tenant=tenant
            )
            counts |= _erase_sessions(session, user_id, tenant, self.subjects)
            model = _known_face_model()
            if model is not None:
                owned = [model.user_id == user_id]
                counts |= _delete_known_faces(
                    session, *owned, *([model.tenant == tenant] if tenant is not None else [])
                )
            _pseudonymise_verifications(session, user_id, tenant, self.subjects)
            ref = self.subjects.ref(tenant, user_id)
            entry = self.audit.append(
                session,
                actor,
                "subject.erased",
                target_type="subject",
                target_id=ref,
                tenant=tenant,
                details={"deleted": counts},
            )
            return {
                "user_id": user_id,
                "subject_ref": ref,
                "tenant": tenant,
                "deleted": counts,
                "audit_seq": entry.seq,
            }


def _pseudonymise_verifications(
    session: Session, user_id: str, tenant: str | None, subjects: SubjectHasher
) -> None:
    """The records that stay no longer name the user: their user id becomes its pseudonym (per
    record tenant, so an admin's erasure across tenants gives each tenant's own pseudonym)."""
    for model in (Verification, *_review_models()):
        query = select(model).where(model.user_id == user_id)
        if tenant is not None:
            query = query.where(model.tenant == tenant)
        for row in session.scalars(query):
            row.user_id = subjects.ref(row.tenant, user_id)
            if model is Verification:
                row.device_ref = None  # the device the person used is theirs too


def _review_models() -> tuple[Any, ...]:
    """Review cases, labels and kept fraud faces name the user too, when that feature is installed."""
    try:
        from kycguard.reviews.models import CaseLabel, KnownFace, ReviewCase
    except ImportError:
        return ()
    return ReviewCase, CaseLabel, KnownFace


def _erase_sessions(
    session: Session, user_id: str, tenant: str | None, subjects: SubjectHasher
) -> dict[str, int]:
    models = _session_models()
    if models is None:
        return {}
    kyc_session, session_blob, session_frame = models
    query = select(kyc_session).where(kyc_session.user_id == user_id)
    if tenant is not None:
        # only this tenant's sessions: erasing others would let a tenant destroy another tenant's
        # data by guessing user ids. Sessions older than migration 0004 that no verification linked
        # to a tenant have none; an admin erasure (every tenant) covers them.
        query = query.where(kyc_session.tenant == tenant)
    rows = list(session.scalars(query))
    ids = [row.id for row in rows]
    for row in rows:  # the session's record stays, naming the user by pseudonym only
        ref = subjects.ref(row.tenant, user_id)
        row.user_id = ref
        row.device_ref = None
        if isinstance(row.result, dict) and "user_id" in row.result:
            row.result = row.result | {"user_id": ref}
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
