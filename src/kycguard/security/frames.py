"""Encryption at rest for the video sessions' kept images: ``FrameStore`` with AES-256-GCM.

The session service reads and writes kept images only through ``FrameStore``; this subclass seals
``content`` with the data key ring (associated data ``kyc_session_blobs/<session_id>/<key>``) and
registers the column for data-key rotation. Wire it in place of ``FrameStore``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from kycguard.security.crypto import KeyRing, row_aad
from kycguard.security.rotation import EncryptedColumn, register_encrypted_column
from kycguard.sessions.frame_store import FrameStore
from kycguard.store.database import Database
from kycguard.store.session_models import KycSessionBlob

TABLE = "kyc_session_blobs"
register_encrypted_column(
    EncryptedColumn(KycSessionBlob.__table__, ("session_id", "key"), "content")  # type: ignore[arg-type]
)


class EncryptedFrameStore(FrameStore):
    def __init__(self, db: Database, keyring: KeyRing) -> None:
        super().__init__(db)
        self.keyring = keyring

    def put(
        self, tx: Session, session_id: str, key: str, data: bytes, media_type: str = "image/jpeg"
    ) -> None:
        sealed = self.keyring.encrypt(data, row_aad(TABLE, session_id, key))
        super().put(tx, session_id, key, sealed, media_type)

    def get(self, session_id: str, key: str) -> bytes | None:
        sealed = super().get(session_id, key)
        return (
            None
            if sealed is None
            else self.keyring.decrypt(sealed, row_aad(TABLE, session_id, key))
        )

    def get_all(self, session_id: str, prefix: str = "") -> dict[str, bytes]:
        return {
            key: self.keyring.decrypt(sealed, row_aad(TABLE, session_id, key))
            for key, sealed in super().get_all(session_id, prefix).items()
        }
