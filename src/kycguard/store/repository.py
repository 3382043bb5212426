"""Reads and writes of verification records.

The repository knows nothing of ``security/``: encryption, image storage and the audit trail come in
as the small Protocols of :mod:`kycguard.store.ports`, wired in ``services.runtime``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kycguard.errors import NotFound
from kycguard.events import CaseDecided, EventBus
from kycguard.store import personal
from kycguard.store.database import Database
from kycguard.store.models import Verification
from kycguard.store.ports import AuditTrail, Cipher, ImageStore, row_aad


def _aad(verification_id: str) -> bytes:
    return row_aad(Verification.__tablename__, verification_id)


class VerificationRepository:
    def __init__(
        self,
        db: Database,
        *,
        blobs: ImageStore | None = None,
        audit: AuditTrail | None = None,
        events: EventBus | None = None,
        cipher: Cipher | None = None,
    ) -> None:
        """``cipher`` None keeps whole answers in clear (only for tests of other layers)."""
        self.db = db
        self.blobs = blobs
        self.audit = audit
        self.events = events
        self.cipher = cipher

    def add(self, record: Verification, images: Sequence[Any] = (), actor: Any = None) -> None:
        """The record (personal fields sealed), its encrypted images and its audit entry commit
        together or not at all."""
        full = dict(record.result)
        with self.db.session() as session:
            if self.audit is not None:
                self.audit.append(
                    session,
                    actor,
                    "verification.decided",
                    target_type="verification",
                    target_id=record.id,
                    tenant=record.tenant,
                    details={"status": record.status, "reasons": list(record.reasons)},
                )
            self._seal(record, full)
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
                # subscribers get the whole answer in this transaction; what they store is theirs
                # to protect
                self.events.publish(
                    session,
                    CaseDecided(
                        "verification",
                        record.id,
                        record.tenant,
                        record.user_id,
                        record.status,
                        full,
                        record.created_at,
                        record.device_ref,
                    ),
                )

    def _seal(self, record: Verification, full: dict[str, Any]) -> None:
        if self.cipher is None:
            return
        record.sealed = self.cipher.encrypt(personal.seal_bytes(full), _aad(record.id))
        record.result = personal.public_view(full)

    def get(self, verification_id: str, tenant: str | None = None) -> dict[str, Any]:
        """``tenant``: the caller's tenant; another tenant's record is NOT_FOUND (ids do not leak).
        The whole answer while its personal data is kept, the public view once it was erased."""
        with self.db.session() as session:
            row = session.get(Verification, verification_id)
            if row is None or (tenant is not None and row.tenant != tenant):
                raise NotFound(
                    f"no verification with id {verification_id}", code="VERIFICATION_NOT_FOUND"
                )
            return self._answer(row)

    def _answer(self, row: Verification) -> dict[str, Any]:
        if row.sealed is not None and self.cipher is not None:
            return personal.unseal_bytes(self.cipher.decrypt(row.sealed, _aad(row.id)))
        if row.personal_erased_at is not None:
            return dict(row.result) | {
                "personal_data": personal.erased_marker(
                    row.personal_erased_at, row.personal_erased_reason
                )
            }
        return dict(row.result)

    def count(self) -> int:
        with self.db.session() as session:
            return int(session.scalar(select(func.count()).select_from(Verification)) or 0)

    def seal_legacy(self, batch: int = 200) -> int:
        """Seal records written before personal fields were sealed (migration 0006): their
        answer is still in clear in ``result``. Idempotent; returns how many were sealed."""
        if self.cipher is None:
            return 0
        done = 0
        while True:
            with self.db.session() as session:
                rows = list(
                    session.scalars(
                        select(Verification)
                        .where(
                            Verification.sealed.is_(None),
                            Verification.personal_erased_at.is_(None),
                        )
                        .limit(batch)
                    )
                )
                for row in rows:
                    self._seal(row, dict(row.result))
                done += len(rows)
            if len(rows) < batch:
                return done


def erase_personal(
    session: Session,
    reason: str,
    *,
    user_id: str | None = None,
    tenant: str | None = None,
    older_than: datetime | None = None,
) -> int:
    """Delete the sealed answers of one user (``tenant`` None: every tenant) or of every record
    created before ``older_than``, in the caller's transaction; the public view stays. Returns the
    number of records whose personal data was erased."""
    query = update(Verification).where(Verification.sealed.is_not(None))
    if user_id is not None:
        query = query.where(Verification.user_id == user_id)
        if tenant is not None:
            query = query.where(Verification.tenant == tenant)
    if older_than is not None:
        query = query.where(Verification.created_at < older_than)
    if user_id is None and older_than is None:
        raise ValueError("erase_personal needs a user_id or older_than")
    result = session.execute(
        query.values(
            sealed=None, personal_erased_at=datetime.now(UTC), personal_erased_reason=reason
        )
    )
    return max(0, int(getattr(result, "rowcount", 0) or 0))
