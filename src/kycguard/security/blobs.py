"""The encrypted blob store: selfies, document portraits and face templates of verifications.

Blobs live in the database (table ``blobs``), not in files under ``data_dir``: every worker and every
host of a PostgreSQL deployment sees the same blobs; a verification's images commit in the same
transaction as its decision record (no orphan files after a crash); erasure and retention are one
transactional DELETE each; a database backup is a consistent backup. Content is AES-256-GCM with the
row id as associated data; ``key_id`` is a plain column so rotation finds the rows still to re-encrypt.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from kycguard.errors import NotFound
from kycguard.security.crypto import KeyRing, row_aad
from kycguard.store.database import Database
from kycguard.store.security_models import Blob

TEMPLATE_MEDIA_TYPE = "application/vnd.kycguard.embedding+float32"


@dataclass(frozen=True)
class BlobInfo:
    id: str
    kind: str
    media_type: str
    size: int
    created_at: datetime


@dataclass(frozen=True)
class NewBlob:
    """What a service hands over to be stored: a kind, a media type and the plaintext."""

    kind: str
    media_type: str
    data: bytes

    @staticmethod
    def template(kind: str, embedding: np.ndarray) -> NewBlob:
        return NewBlob(kind, TEMPLATE_MEDIA_TYPE, np.asarray(embedding, np.float32).tobytes())


class BlobStore:
    def __init__(self, db: Database, keyring: KeyRing) -> None:
        self.db = db
        self.keyring = keyring

    def put(
        self,
        session: Session,
        blob: NewBlob,
        *,
        verification_id: str | None = None,
        user_id: str | None = None,
        tenant: str | None = None,
    ) -> str:
        blob_id = str(uuid.uuid4())
        sealed = self.keyring.encrypt(blob.data, row_aad("blobs", blob_id))
        session.add(
            Blob(
                id=blob_id,
                created_at=datetime.now(UTC),
                kind=blob.kind,
                media_type=blob.media_type,
                verification_id=verification_id,
                user_id=user_id,
                tenant=tenant,
                key_id=self.keyring.active_id,
                size=len(blob.data),
                content=sealed,
            )
        )
        return blob_id

    def read(self, blob_id: str) -> tuple[BlobInfo, bytes]:
        with self.db.session() as session:
            row = session.get(Blob, blob_id)
            if row is None:
                raise NotFound(f"no blob with id {blob_id}", code="BLOB_NOT_FOUND")
            data = self.keyring.decrypt(row.content, row_aad("blobs", row.id))
            return _info(row), data

    def of_verification(self, verification_id: str) -> list[BlobInfo]:
        with self.db.session() as session:
            rows = session.scalars(
                select(Blob).where(Blob.verification_id == verification_id).order_by(Blob.kind)
            )
            return [_info(r) for r in rows]


def _info(row: Blob) -> BlobInfo:
    return BlobInfo(row.id, row.kind, row.media_type, row.size, row.created_at)


def verification_images(
    selfie: bytes, portrait_rgb: np.ndarray, selfie_template: np.ndarray | None
) -> list[NewBlob]:
    """What a verification keeps: the selfie as uploaded, the document portrait (JPEG) and the
    selfie's face template (float32)."""
    import io

    from PIL import Image

    from kycguard.vision.image_io import sniff_format

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(portrait_rgb)).save(buf, "JPEG", quality=90)
    fmt = (sniff_format(selfie) or "octet-stream").lower()
    kept = [
        NewBlob("selfie", f"image/{fmt}", selfie),
        NewBlob("document_portrait", "image/jpeg", buf.getvalue()),
    ]
    if selfie_template is not None:
        kept.append(NewBlob.template("selfie_template", selfie_template))
    return kept
