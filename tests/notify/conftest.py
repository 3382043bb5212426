"""Fixtures of the alert and webhook tests: a fresh migrated database per test (SQLite and
PostgreSQL), real local HTTP and SMTP receivers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from notify.receivers import HttpReceiver, SmtpReceiver


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
