"""What the store needs from the layers above it, as Protocols (``store/`` imports nothing from
``security/``): a cipher for personal data, a sink for a verification's images, an audit trail.

``kycguard.security`` provides all three (``KeyRing``, ``BlobStore``, ``AuditLog``) and
``services.runtime`` hands them over; tests may hand over anything of the same shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.orm import Session


class Cipher(Protocol):
    """Authenticated encryption bound to a row by ``aad`` (the AES-GCM key ring)."""

    def encrypt(self, plaintext: bytes, aad: bytes = b"") -> bytes: ...

    def decrypt(self, blob: bytes, aad: bytes = b"") -> bytes: ...


class StoredImage(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def kind(self) -> str: ...


class ImageStore(Protocol):
    """A verification's kept images: stored inside the caller's transaction, listed, read back."""

    def put(
        self,
        session: Session,
        blob: Any,
        *,
        verification_id: str | None = None,
        user_id: str | None = None,
        tenant: str | None = None,
    ) -> str: ...

    def of_verification(self, verification_id: str) -> Sequence[StoredImage]: ...

    def read(self, blob_id: str) -> tuple[Any, bytes]: ...


class AuditTrail(Protocol):
    """Appends an entry inside the caller's transaction (``actor`` None: the system)."""

    def append(
        self,
        session: Session,
        actor: Any,
        action: str,
        *,
        target_type: str | None = None,
        target_id: str | None = None,
        tenant: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> Any: ...


def row_aad(table: str, *primary_key: str) -> bytes:
    """The associated data that ties a ciphertext to its row: ``table/pk1/pk2`` (the format
    ``kycguard.security.crypto.row_aad`` re-exports, so key rotation re-encrypts these rows)."""
    return "/".join((table, *primary_key)).encode()
