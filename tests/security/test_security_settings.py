"""The ``security`` settings section: short environment names, nested names win, secrets masked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kycguard.settings import Settings


def test_short_env_names_are_read_and_secrets_never_shown(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env.setenv("KYCGUARD_REDIS_URL", "redis://:hunter2@cache:6379/0")
    env.setenv("KYCGUARD_DATA_KEYS", "k1:" + "A" * 43 + "=")
    env.setenv("KYCGUARD_SECURITY__RATE_LIMITS__PER_KEY", "7")
    s = Settings(data_dir=tmp_path)
    assert s.security.redis_url is not None and "hunter2" in s.security.redis_url.get_secret_value()
    assert s.security.rate_limits.per_key == 7
    shown = json.dumps(s.public_dict())
    assert "hunter2" not in shown and "A" * 43 not in shown
    env.setenv("KYCGUARD_SECURITY__REDIS_URL", "redis://other:6379/1")
    nested = Settings(data_dir=tmp_path).security.redis_url
    assert nested is not None and nested.get_secret_value() == "redis://other:6379/1"


def test_secure_defaults(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path).security
    assert s.cors_allow_origins == () and s.public_docs is False and s.rate_limits.enabled
    assert s.default_key_ttl_days == 365 and s.signature_window_s == 300
    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path, security={"unknown_option": True})
