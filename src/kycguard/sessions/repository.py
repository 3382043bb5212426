"""Reads and writes of session rows and accepted-frame records.

Every change to a session is a compare-and-swap on its ``version``: a worker reads the row, works
without holding a lock (decoding and landmarks take tens of milliseconds), and writes back only if
nobody changed the row meanwhile; otherwise it re-reads and re-applies. No lock is ever held across
model inference, and SQLite and PostgreSQL behave the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kycguard.errors import NotFound
from kycguard.store.database import Database
from kycguard.store.session_models import KycSession, KycSessionFrame


class SessionRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.db.session() as tx:
            yield tx

    def load(self, session_id: str, tenant: str | None = None) -> KycSession:
        """A detached snapshot of the row; raises SESSION_NOT_FOUND. ``tenant``: the caller's
        tenant; another tenant's session is SESSION_NOT_FOUND too (ids do not leak)."""
        with self.db.session() as tx:
            return _detached(tx, session_id, tenant)

    def load_with_frame_owner(
        self, session_id: str, tenant: str | None, sha256: str
    ) -> tuple[KycSession, str | None]:
        """:meth:`load` and :meth:`frame_owner` in one transaction: a frame's reads cost one
        database round trip instead of two (a frame's own work is ~20 ms, so each one counts)."""
        with self.db.session() as tx:
            return _detached(tx, session_id, tenant), _frame_owner(tx, sha256)

    def started_since(self, user_id: str, since: datetime, tenant: str | None) -> int:
        """Sessions ``user_id`` of ``tenant`` started since ``since``: user ids are the tenant's own
        (tenant A's ``user-1`` is not tenant B's), so the count never crosses tenants."""
        owner = KycSession.tenant.is_(None) if tenant is None else KycSession.tenant == tenant
        with self.db.session() as tx:
            return int(
                tx.scalar(
                    select(func.count())
                    .select_from(KycSession)
                    .where(KycSession.user_id == user_id, owner, KycSession.created_at >= since)
                )
                or 0
            )

    def frame_owner(self, sha256: str) -> str | None:
        """The session that already received these exact frame bytes, if any."""
        with self.db.session() as tx:
            return _frame_owner(tx, sha256)

    def swap(self, tx: Session, session_id: str, version: int, values: dict[str, Any]) -> bool:
        """Write ``values`` if the row is still at ``version``; False if another worker got there first."""
        result = tx.execute(
            update(KycSession)
            .where(KycSession.id == session_id, KycSession.version == version)
            .values(version=version + 1, updated_at=datetime.now(UTC), **values)
        )
        return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


def _detached(tx: Session, session_id: str, tenant: str | None) -> KycSession:
    row = tx.get(KycSession, session_id)
    if row is None or (tenant is not None and row.tenant != tenant):
        raise NotFound(f"no session with id {session_id}", code="SESSION_NOT_FOUND")
    tx.expunge(row)
    return row


def _frame_owner(tx: Session, sha256: str) -> str | None:
    return tx.scalar(
        select(KycSessionFrame.session_id).where(KycSessionFrame.sha256 == sha256).limit(1)
    )
