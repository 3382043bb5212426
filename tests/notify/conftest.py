"""Fixtures of the alert and webhook tests: a fresh migrated database per test (SQLite and
PostgreSQL), real local HTTP and SMTP receivers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from notify.receivers import HttpReceiver, SmtpReceiver
from support.databases import scratch_database

from kycguard.store.database import Database, upgrade


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with scratch_database(str(request.param), tmp_path) as url:
        upgrade(url)
        database = Database(url)
        try:
            yield database
        finally:
            database.close()


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    r = HttpReceiver()
    yield r
    r.close()


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    s = SmtpReceiver()
    yield s
    s.close()


# the real photos of the security suite (an ID card rendered around one person, selfies)
from security.conftest import photos  # noqa: E402, F401
