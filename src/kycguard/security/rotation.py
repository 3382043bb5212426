"""Data-key rotation: a new active key, then every ciphertext re-encrypted with it.

Columns holding ciphertext are listed in :data:`ENCRYPTED_COLUMNS` (a feature that stores its own
encrypted column adds it with :func:`register_encrypted_column`). A row's associated data is
``row_aad(table, *primary key)``, which is how rotation can re-encrypt any of them. Old keys stay in
the key file (decrypt-only) unless ``retire_old``: then keys that no ciphertext uses any more are
removed, checked by a fresh scan after re-encryption.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Table, select, update

from kycguard.security.audit import Actor, AuditLog
from kycguard.security.config import SecuritySettings
from kycguard.security.crypto import (
    KeyRing,
    key_file_path,
    key_id_of,
    load_keyring,
    new_key_id,
    read_key_file,
    row_aad,
    write_key_file,
)
from kycguard.store.database import Database
from kycguard.store.models import Verification
from kycguard.store.security_models import ApiKey, Blob


@dataclass(frozen=True)
class EncryptedColumn:
    table: Table
    primary_key: tuple[str, ...]
    column: str
    key_id_column: str | None = None


ENCRYPTED_COLUMNS: list[EncryptedColumn] = [
    EncryptedColumn(Blob.__table__, ("id",), "content", "key_id"),  # type: ignore[arg-type]
    EncryptedColumn(ApiKey.__table__, ("id",), "signing_secret"),  # type: ignore[arg-type]
    EncryptedColumn(Verification.__table__, ("id",), "sealed"),  # type: ignore[arg-type]
]


def register_encrypted_column(column: EncryptedColumn) -> None:
    if column not in ENCRYPTED_COLUMNS:
        ENCRYPTED_COLUMNS.append(column)


def _register_optional_columns() -> None:
    """Features that keep their own encrypted columns register them on import: video sessions'
    kept images, known-face templates, webhook endpoints' secrets."""

    for module in (
        "kycguard.security.frames",
        "kycguard.reviews.known_faces",
        "kycguard.webhooks.models",
    ):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)


def _rows(db: Database, col: EncryptedColumn, batch: int) -> Iterator[list[Any]]:
    """Primary keys of every row holding a ciphertext, in batches (keys only, so memory stays low)."""
    t = col.table
    with db.session() as session:
        pks = list(
            session.execute(
                select(*(t.c[k] for k in col.primary_key)).where(t.c[col.column].is_not(None))
            )
        )
    for i in range(0, len(pks), batch):
        yield pks[i : i + batch]


def reencrypt_all(db: Database, keyring: KeyRing, batch: int = 100) -> dict[str, int]:
    """Re-encrypt every ciphertext not under the active key; one transaction per batch."""
    _register_optional_columns()
    done: dict[str, int] = {}
    for col in ENCRYPTED_COLUMNS:
        t, count = col.table, 0
        for pks in _rows(db, col, batch):
            with db.session() as session:
                for pk in pks:
                    where = [t.c[k] == v for k, v in zip(col.primary_key, pk, strict=True)]
                    blob = session.execute(select(t.c[col.column]).where(*where)).scalar()
                    if blob is None or key_id_of(blob) in (None, keyring.active_id):
                        continue
                    aad = row_aad(t.name, *(str(v) for v in pk))
                    values: dict[str, Any] = {
                        col.column: keyring.encrypt(keyring.decrypt(blob, aad), aad)
                    }
                    if col.key_id_column:
                        values[col.key_id_column] = keyring.active_id
                    session.execute(update(t).where(*where).values(**values))
                    count += 1
        done[t.name] = count
    return done


def key_ids_in_use(db: Database) -> set[str]:
    _register_optional_columns()
    used: set[str] = set()
    for col in ENCRYPTED_COLUMNS:
        t = col.table
        with db.session() as session:
            for (blob,) in session.execute(
                select(t.c[col.column]).where(t.c[col.column].is_not(None))
            ):
                kid = key_id_of(blob)
                if kid:
                    used.add(kid)
    return used


def rotate_data_key(
    security: SecuritySettings,
    data_dir: Any,
    db: Database,
    audit: AuditLog,
    actor: Actor,
    *,
    retire_old: bool = False,
) -> dict[str, Any]:
    """Make a new active key (key file) or use the first of KYCGUARD_DATA_KEYS, re-encrypt everything."""
    report: dict[str, Any] = {}
    if security.data_keys is not None:
        keyring = load_keyring(security, data_dir)
        report["note"] = (
            "keys come from KYCGUARD_DATA_KEYS: put the new key first there (keep the old ones) before "
            "running this; remove old keys only after it reports they are unused"
        )
        previous = None
    else:
        path = key_file_path(security, data_dir)
        keys, previous = read_key_file(path)
        kid = new_key_id()
        keys = {kid: AESGCM.generate_key(bit_length=256)} | keys
        write_key_file(path, keys, kid)
        keyring = KeyRing(keys, kid, path)
    report |= {"active_key_id": keyring.active_id, "previous_key_id": previous}
    report["reencrypted"] = reencrypt_all(db, keyring)
    used = key_ids_in_use(db)
    unused = [k for k in keyring.key_ids if k != keyring.active_id and k not in used]
    if retire_old and security.data_keys is None and keyring.path is not None:
        keys, active = read_key_file(keyring.path)
        write_key_file(keyring.path, {k: v for k, v in keys.items() if k not in unused}, active)
        report["retired_key_ids"] = unused
    else:
        report["unused_key_ids"] = unused
    audit.record(
        actor,
        "data_key.rotated",
        target_type="data_key",
        target_id=keyring.active_id,
        details=report,
    )
    return report
