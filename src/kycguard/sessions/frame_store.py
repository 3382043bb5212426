"""Every read and write of a session's kept images goes through ``FrameStore``.

Kept images are few and small: the sharpest frontal frames (face template, quality, passive
liveness), one face crop per passed challenge (same person throughout), the neutral reference of the
pixel check, the document portrait, and a bounded ring of recent frames for the sequence liveness
analysis (dropped at completion). They live in the database so every worker sees them. Encryption at
rest wraps this one class: ``put`` is the only writer and ``get``/``get_all`` the only readers.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kycguard.store.database import Database
from kycguard.store.session_models import KycSessionBlob


class FrameStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def put(
        self, tx: Session, session_id: str, key: str, data: bytes, media_type: str = "image/jpeg"
    ) -> None:
        """Write (or overwrite) ``key`` inside the caller's transaction, atomically with the state."""
        tx.merge(
            KycSessionBlob(
                session_id=session_id,
                key=key,
                media_type=media_type,
                content=data,
                created_at=datetime.now(UTC),
            )
        )

    def get(self, session_id: str, key: str) -> bytes | None:
        with self.db.session() as tx:
            row = tx.get(KycSessionBlob, (session_id, key))
            return None if row is None else bytes(row.content)

    def get_all(self, session_id: str, prefix: str = "") -> dict[str, bytes]:
        with self.db.session() as tx:
            rows = tx.scalars(
                select(KycSessionBlob).where(
                    KycSessionBlob.session_id == session_id, KycSessionBlob.key.startswith(prefix)
                )
            )
            return {r.key: bytes(r.content) for r in rows}

    def delete(self, tx: Session, session_id: str, prefix: str) -> None:
        tx.execute(
            delete(KycSessionBlob).where(
                KycSessionBlob.session_id == session_id, KycSessionBlob.key.startswith(prefix)
            )
        )

    def delete_session(self, tx: Session, session_id: str) -> int:
        """Erase every kept image of a session; returns how many there were."""
        result = tx.execute(delete(KycSessionBlob).where(KycSessionBlob.session_id == session_id))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
