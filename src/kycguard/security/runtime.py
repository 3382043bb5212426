"""Everything security needs at run time, built once per process from the settings.

The API gets it as ``Runtime.security``; CLI commands that only manage keys, audit and retention open
it with :func:`open_security`, without loading any model.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import select

from kycguard.jobs import PeriodicJob
from kycguard.security.audit import AuditLog
from kycguard.security.backends import CounterBackend, open_backend
from kycguard.security.blobs import BlobStore
from kycguard.security.config import SecuritySettings
from kycguard.security.crypto import KeyRing, SubjectHasher, load_keyring
from kycguard.security.keys import ApiKeyStore
from kycguard.security.ratelimit import LivenessLockout, RateLimiter
from kycguard.security.retention import Retention
from kycguard.security.signatures import RequestVerifier
from kycguard.settings import Settings
from kycguard.store.database import Database, upgrade

log = logging.getLogger("kycguard.security")


@dataclass
class SecurityRuntime:
    settings: SecuritySettings
    database: Database
    keyring: KeyRing
    audit: AuditLog
    keys: ApiKeyStore
    blobs: BlobStore
    backend: CounterBackend
    limiter: RateLimiter
    signatures: RequestVerifier
    lockout: LivenessLockout
    retention: Retention
    subjects: SubjectHasher

    def session_of_token(self, token: str) -> str | None:
        """The id of the video session this token was issued with, or None.

        Looked up by the token's SHA-256 (indexed, migration 0003): a database leak holds no live
        token, and the comparison happens inside the index, not in Python."""
        try:
            from kycguard.store.session_models import KycSession
        except ImportError:
            return None
        digest = hashlib.sha256(token.encode()).hexdigest()
        with self.database.session() as session:
            found = session.scalar(select(KycSession.id).where(KycSession.token_sha256 == digest))
        return None if found is None else str(found)

    def status(self) -> str:
        return f"loaded (data key {self.keyring.active_id}, {self.backend.name} counters)"

    def jobs(self) -> list[PeriodicJob]:
        """The retention purge, every ``purge_interval_s`` (none when the interval is 0)."""
        interval = self.settings.purge_interval_s
        if interval <= 0:
            return []

        def purge() -> None:
            purged = self.retention.purge()
            if any(purged.values()):
                log.info("retention purge deleted %s", purged)

        return [PeriodicJob("retention_purge", interval, purge)]

    def close(self) -> None:
        self.backend.close()


def build_security(
    settings: Settings, database: Database, *, shared_counters: bool = True
) -> SecurityRuntime:
    """``shared_counters=False`` (CLI): counters in memory, so key management works without Redis."""
    s = settings.security
    keyring = load_keyring(s, settings.data_dir, shared_database=_shared(settings))
    subjects = SubjectHasher.from_keys(s, keyring)
    audit = AuditLog(database)
    redis_url = s.redis_url.get_secret_value() if s.redis_url and shared_counters else None
    backend = open_backend(redis_url)
    return SecurityRuntime(
        settings=s,
        database=database,
        keyring=keyring,
        audit=audit,
        keys=ApiKeyStore(database, keyring, audit, s.default_key_ttl_days),
        blobs=BlobStore(database, keyring),
        backend=backend,
        limiter=RateLimiter(backend, s.rate_limits),
        signatures=RequestVerifier(backend, s.signature_window_s),
        lockout=LivenessLockout(backend, s.liveness_lockout),
        retention=Retention(database, audit, s.retention_days, subjects, settings.delivery),
        subjects=subjects,
    )


def _shared(settings: Settings) -> bool:
    """A database other hosts may use too (anything but SQLite): every host needs the same keys."""
    return not settings.effective_database_url.startswith("sqlite")


def prepare_data_dir(settings: Settings) -> None:
    """The data directory holds the database and the key file: owner-only (0700) when we create it."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)


@contextmanager
def open_security(settings: Settings) -> Iterator[SecurityRuntime]:
    """Database (migrated) and security services, without models: for the CLI."""
    prepare_data_dir(settings)
    url = settings.effective_database_url
    upgrade(url)
    database = Database(url)
    try:
        security = build_security(settings, database, shared_counters=False)
        try:
            yield security
        finally:
            security.close()
    finally:
        database.close()
