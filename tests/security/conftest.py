"""Fixtures of the security tests: a hardened server per deployment shape, keys of every role.

Two servers, the two ways kycguard is run: SQLite with in-memory counters (one machine, `make run`)
and PostgreSQL with Redis counters (scale-out). Each gets its own scratch database, so counts of
blobs and audit entries are this suite's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from security.helpers import CORS_ORIGIN, Deployment, redis_or_missing, scratch_database
from support.servers import Server


@pytest.fixture(scope="session", params=["sqlite+memory", "postgres+redis"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    kind = str(request.param)
    folder = tmp_path_factory.mktemp(kind.replace("+", "_"))
    env = {
        "KYCGUARD_SECURITY__CORS_ALLOW_ORIGINS": CORS_ORIGIN,
        "KYCGUARD_SECURITY__RATE_LIMITS__PER_KEY": "100000",
        "KYCGUARD_SECURITY__RATE_LIMITS__PER_ADDRESS": "100000",
        "KYCGUARD_SECURITY__PURGE_INTERVAL_S": "0",
    }
    if kind == "postgres+redis":
        env["KYCGUARD_REDIS_URL"] = redis_or_missing()
    with scratch_database(kind.split("+")[0], folder) as url:
        (folder / "data").mkdir(mode=0o700)
        server = Server(env | {"KYCGUARD_DATABASE_URL": url}, folder / "data")
        try:
            server.wait_ready()
            yield Deployment(kind, server, url)
        finally:
            server.stop()


@pytest.fixture(scope="session")
def photos(fr_test_images: Path) -> dict[str, bytes]:
    """Real photos: two of one person (document side, selfie) and one of another."""
    return {
        name: (fr_test_images / f"{name}.jpg").read_bytes() for name in ("obama", "obama2", "biden")
    }
