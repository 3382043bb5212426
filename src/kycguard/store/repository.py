"""Reads and writes of verification records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kycguard.errors import NotFound
from kycguard.events import CaseDecided, EventBus
from kycguard.store.database import Database
from kycguard.store.models import Verification

if TYPE_CHECKING:
    from kycguard.security.audit import Actor, AuditLog
    from kycguard.security.blobs import BlobStore, NewBlob


class VerificationRepository:
    def __init__(
        self,
        db: Database,
        *,
        blobs: BlobStore | None = None,
        audit: AuditLog | None = None,
        events: EventBus | None = None,
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.audit = audit
        self.events = events

    def add(
        self, record: Verification, images: Sequence[NewBlob] = (), actor: Actor | None = None
    ) -> None:
        """The record, its encrypted images and its audit entry commit together or not at all."""
        with self.db.session() as session:
            if self.audit is not None:
                from kycguard.security.audit import SYSTEM

                self.audit.append(
                    session,
                    actor or SYSTEM,
                    "verification.decided",
                    target_type="verification",
                    target_id=record.id,
                    tenant=record.tenant,
                    details={"status": record.status, "reasons": list(record.reasons)},
                )
            session.add(record)
            if self.blobs is not None:
                session.flush()
                for image in images:
                    self.blobs.put(
                        session,
                        image,
                        verification_id=record.id,
                        user_id=record.user_id,
                        tenant=record.tenant,
                    )
            if self.events is not None:
                self.events.publish(
                    session,
                    CaseDecided(
                        "verification",
                        record.id,
                        record.tenant,
                        record.user_id,
                        record.status,
                        record.result,
                        record.created_at,
                    ),
                )

    def get(self, verification_id: str, tenant: str | None = None) -> dict[str, Any]:
        """``tenant``: the caller's tenant; another tenant's record is NOT_FOUND (ids do not leak)."""
        with self.db.session() as session:
            row = session.get(Verification, verification_id)
            if row is None or (tenant is not None and row.tenant != tenant):
                raise NotFound(
                    f"no verification with id {verification_id}", code="VERIFICATION_NOT_FOUND"
                )
            return dict(row.result)

    def count(self) -> int:
        from sqlalchemy import func, select

        with self.db.session() as session:
            return int(session.scalar(select(func.count()).select_from(Verification)) or 0)
