"""AES-256-GCM encryption at rest with a key ring, so data keys can rotate.

Every ciphertext is self-describing::

    b"KGE1" | len(key_id) (1 byte) | key_id (ascii) | nonce (12 bytes) | ciphertext+tag

The header is authenticated (it is part of the associated data), and callers bind each blob to its
row with ``aad`` (see :func:`row_aad`), so a ciphertext copied into another row does not decrypt.

Keys come from ``KYCGUARD_DATA_KEYS`` (``id:base64,id2:base64``, first encrypts) or a JSON key file
``{"active": id, "keys": {id: base64}}`` (mode 0600). A running process re-reads the file when it
changes, so ``kycguard keys rotate-data-key`` takes effect in every worker without a restart.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kycguard.errors import KycError
from kycguard.security.config import SecuritySettings

log = logging.getLogger("kycguard.security")

MAGIC = b"KGE1"
NONCE_BYTES = 12
KEY_BYTES = 32
DEFAULT_KEY_FILE = "data-keys.json"


class DataKeyError(KycError):
    """A data key is missing, malformed, or a ciphertext does not authenticate."""

    code = "DATA_KEY_UNAVAILABLE"
    status_code = 500


def row_aad(table: str, *primary_key: str) -> bytes:
    """The associated data that ties a ciphertext to its row: ``table/pk1/pk2``."""
    return "/".join((table, *primary_key)).encode()


def new_key_id() -> str:
    return "dk" + secrets.token_hex(4)


def key_id_of(blob: bytes) -> str | None:
    """The key id in a ciphertext's header, or None if ``blob`` is not one of ours."""
    if len(blob) < len(MAGIC) + 1 or not blob.startswith(MAGIC):
        return None
    n = blob[len(MAGIC)]
    return blob[len(MAGIC) + 1 : len(MAGIC) + 1 + n].decode("ascii", "replace")


class KeyRing:
    """Data keys by id; ``active_id`` encrypts, every id decrypts."""

    def __init__(self, keys: dict[str, bytes], active_id: str, path: Path | None = None) -> None:
        if active_id not in keys:
            raise DataKeyError(f"active data key {active_id!r} is not in the key ring")
        for kid, key in keys.items():
            if len(key) != KEY_BYTES or not kid.isascii() or not 0 < len(kid) <= 32:
                raise DataKeyError(
                    f"data key {kid!r} must be 32 bytes with an ascii id of 1-32 chars"
                )
        self._keys = dict(keys)
        self.active_id = active_id
        self.path = path
        self._mtime = path.stat().st_mtime_ns if path is not None else 0
        self._lock = threading.Lock()

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def key(self, key_id: str) -> bytes:
        return self._keys[key_id]

    def encrypt(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        self.refresh()
        kid = self.active_id.encode("ascii")
        header = MAGIC + bytes([len(kid)]) + kid
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._keys[self.active_id]).encrypt(nonce, plaintext, header + aad)
        return header + nonce + sealed

    def decrypt(self, blob: bytes, aad: bytes = b"") -> bytes:
        kid = key_id_of(blob)
        if kid is None:
            raise DataKeyError("not an encrypted kycguard blob")
        if kid not in self._keys:
            self.refresh(force=True)
        key = self._keys.get(kid)
        if key is None:
            raise DataKeyError(f"data key {kid!r} is not configured; cannot decrypt")
        start = len(MAGIC) + 1 + len(kid)
        nonce, sealed = blob[start : start + NONCE_BYTES], blob[start + NONCE_BYTES :]
        try:
            return AESGCM(key).decrypt(nonce, sealed, blob[:start] + aad)
        except InvalidTag as exc:
            raise DataKeyError("ciphertext does not authenticate (tampered or wrong row)") from exc

    def refresh(self, *, force: bool = False) -> None:
        """Re-read the key file if it changed on disk (rotation by another process)."""
        if self.path is None:
            return
        try:
            mtime = self.path.stat().st_mtime_ns
        except OSError:
            return
        if mtime == self._mtime and not force:
            return
        with self._lock:
            keys, active = read_key_file(self.path)
            self._keys, self.active_id, self._mtime = keys, active, mtime


class SubjectHasher:
    """Pseudonyms for data subjects where the raw ``user_id`` must not be kept (the immutable audit
    log, records after erasure): ``subj_`` + HMAC-SHA256(key, tenant + user_id), 128 bits.

    The key is ``security.subject_key`` when set, else derived (HKDF-SHA256) from the oldest data
    key -- the last listed, which rotation keeps until ``--retire-old``. Without the key a pseudonym
    cannot be reversed or recomputed from a guessed user id; with it, an auditor can find a
    subject's entries."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @staticmethod
    def from_keys(security: SecuritySettings, keyring: KeyRing) -> SubjectHasher:
        if security.subject_key is not None:
            return SubjectHasher(security.subject_key.get_secret_value().encode())
        oldest = keyring.key(keyring.key_ids[-1])
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"kycguard subject pseudonym v1"
        ).derive(oldest)
        return SubjectHasher(derived)

    def ref(self, tenant: str | None, user_id: str) -> str:
        message = f"{tenant or ''}\x00{user_id}".encode()
        return "subj_" + hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]


def parse_env_keys(text: str) -> tuple[dict[str, bytes], str]:
    """``id:base64,id2:base64`` -> (keys, first id)."""
    keys: dict[str, bytes] = {}
    for item in (p.strip() for p in text.split(",") if p.strip()):
        kid, sep, b64 = item.partition(":")
        if not sep:
            raise DataKeyError("KYCGUARD_DATA_KEYS must be 'id:base64key[,id2:base64key...]'")
        keys[kid.strip()] = _b64(b64.strip(), kid)
    if not keys:
        raise DataKeyError("KYCGUARD_DATA_KEYS is empty")
    return keys, next(iter(keys))


def read_key_file(path: Path) -> tuple[dict[str, bytes], str]:
    try:
        doc = json.loads(path.read_text())
        keys = {kid: _b64(b64, kid) for kid, b64 in doc["keys"].items()}
        return keys, str(doc["active"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataKeyError(f"cannot read data key file {path}: {exc}") from exc


def write_key_file(path: Path, keys: dict[str, bytes], active_id: str) -> None:
    """Write atomically with mode 0600 (never readable by group or others, not even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    doc = {"active": active_id, "keys": {k: base64.b64encode(v).decode() for k, v in keys.items()}}
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def key_file_path(security: SecuritySettings, data_dir: Path) -> Path:
    return security.data_key_file or data_dir / DEFAULT_KEY_FILE


def load_keyring(
    security: SecuritySettings, data_dir: Path, *, shared_database: bool = False
) -> KeyRing:
    """The configured key ring; the default key file is generated on first use (0600).

    ``shared_database`` (PostgreSQL): no key file is generated. Each host would generate its own and
    encrypt with a key the other hosts cannot read, so start-up stops and says how to provide the
    keys instead."""
    if security.data_keys is not None:
        keys, active = parse_env_keys(security.data_keys.get_secret_value())
        return KeyRing(keys, active)
    path = key_file_path(security, data_dir)
    if not path.exists():
        if security.data_key_file is not None:
            raise DataKeyError(f"data key file {path} does not exist")
        if shared_database:
            raise DataKeyError(
                "a shared database (PostgreSQL) needs the same data keys on every host, and no "
                f"key file exists at {path}: generating one per host would encrypt with keys the "
                "other hosts cannot read. Provide the keys: KYCGUARD_DATA_KEYS='id:base64key' "
                "(32 random bytes: `openssl rand -base64 32`) from your secret store, or "
                "security.data_key_file (KYCGUARD_SECURITY__DATA_KEY_FILE) naming a key file "
                "shared by every host"
            )
        kid = new_key_id()
        write_key_file(path, {kid: AESGCM.generate_key(bit_length=256)}, kid)
        log.warning(
            "generated a new data key file %s; production should provide keys from a secret store",
            path,
        )
    elif path.stat().st_mode & 0o077:
        log.warning("data key file %s is readable by group or others; chmod 600 it", path)
    keys, active = read_key_file(path)
    return KeyRing(keys, active, path)


def _b64(text: str, kid: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DataKeyError(f"data key {kid!r} is not valid base64") from exc
    if len(key) != KEY_BYTES:
        raise DataKeyError(f"data key {kid!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES}")
    return key
