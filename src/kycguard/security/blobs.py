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
    """What a verification keeps: the selfie without its metadata, the document portrait (JPEG)
    and the selfie's face template (float32)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(portrait_rgb)).save(buf, "JPEG", quality=90)
    media_type, clean = strip_metadata(selfie)
    kept = [
        NewBlob("selfie", media_type, clean),
        NewBlob("document_portrait", "image/jpeg", buf.getvalue()),
    ]
    if selfie_template is not None:
        kept.append(NewBlob.template("selfie_template", selfie_template))
    return kept


# JPEG segments a reviewer needs to see the picture: JFIF (APP0), Adobe colour transform (APP14).
# Everything else before the image data goes: EXIF (APP1: camera, time, GPS position, thumbnail),
# XMP, ICC, IPTC (APP13), maker notes, comments (COM).
_JPEG_KEEP_APP = {0xE0, 0xEE}


def strip_metadata(image: bytes) -> tuple[str, bytes]:
    """``(media type, image)`` without EXIF, GPS, XMP, IPTC, ICC, comments or thumbnails.

    A JPEG upright as stored loses its metadata segments losslessly (the pixels are untouched); a
    JPEG that needs its EXIF orientation, and every other format, is re-encoded from its pixels
    (turned upright), which carries no metadata at all."""
    import io

    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(image)) as img:
        orientation = img.getexif().get(0x0112, 1)
        fmt = (img.format or "").upper()
        if fmt == "JPEG" and orientation == 1:
            stripped = _strip_jpeg_segments(image)
            if stripped is not None:
                return "image/jpeg", stripped
        upright = ImageOps.exif_transpose(img)
        out = io.BytesIO()
        if fmt == "JPEG":
            upright.convert("RGB").save(out, "JPEG", quality=95)
            return "image/jpeg", out.getvalue()
        upright.save(out, "PNG")
        return "image/png", out.getvalue()


def _strip_jpeg_segments(data: bytes) -> bytes | None:
    """The JPEG without its metadata segments; None if the marker structure is not understood."""
    if not data.startswith(b"\xff\xd8"):
        return None
    out, i = bytearray(b"\xff\xd8"), 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xDA:  # start of scan: the rest is image data
            out += data[i:]
            return bytes(out)
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2 or i + 2 + length > len(data):
            return None
        segment = data[i : i + 2 + length]
        metadata = (0xE0 <= marker <= 0xEF and marker not in _JPEG_KEEP_APP) or marker == 0xFE
        if not metadata:
            out += segment
        i += 2 + length
    return None
