"""The start-up check that several workers never run on per-process state.

Rate limits, the signature replay cache, liveness lockouts (and alert throttles, which use the same
counters) live in :mod:`kycguard.security.backends`: process memory or Redis. In memory, N workers
mean N independent limits and a replayed request that passes on the other worker; that is a hole,
so a multi-worker configuration without Redis is refused instead of silently weakened.
Idempotency keys and job leases live in the database, which every worker already shares.
"""

from __future__ import annotations

import logging

from kycguard.errors import ConfigError
from kycguard.settings import Settings

log = logging.getLogger("kycguard.scale")


class UnsafeScaleOut(ConfigError):
    code = "UNSAFE_SCALE_OUT"


def check_shared_state(settings: Settings, workers: int | None = None) -> None:
    """Refuse ``workers`` > 1 (default: ``scale.workers``) on in-memory counters. (SQLite with
    several processes on one host stays correct, if slow: its write lock serialises them.)"""
    workers = workers or settings.scale.workers
    if workers <= 1:
        if settings.security.redis_url is None and not _is_sqlite(settings):
            log.warning(
                "counters are in process memory while the database is shared: run ONE process "
                "against this database, or set KYCGUARD_REDIS_URL"
            )
        return
    if settings.security.redis_url is None:
        raise UnsafeScaleOut(
            f"{workers} workers need shared counters: rate limits, the replay cache and lockouts "
            "would be per process. Set KYCGUARD_REDIS_URL=redis://host:6379/0, or run one worker."
        )


def _is_sqlite(settings: Settings) -> bool:
    return settings.effective_database_url.startswith("sqlite")
