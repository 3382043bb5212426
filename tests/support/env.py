"""The rule for absent dependencies: skip on a laptop, fail in CI."""

from __future__ import annotations

import os

import pytest


def require_services() -> bool:
    return os.environ.get("KYCGUARD_REQUIRE_SERVICES") == "1"


def missing(reason: str) -> None:
    """Skip on a laptop, fail in CI (``KYCGUARD_REQUIRE_SERVICES=1`` or ``KYCGUARD_EVAL_DATA`` set):
    the one way tests deal with an absent service, package or data set."""
    if require_services() or os.environ.get("KYCGUARD_EVAL_DATA"):
        pytest.fail(f"required but missing: {reason}")
    pytest.skip(reason)
