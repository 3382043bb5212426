"""One validated settings object: defaults, TOML file, environment, and refusal of nonsense."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from kycguard.errors import ConfigError
from kycguard.settings import Settings


def test_environment_overrides_nested_threshold(env: pytest.MonkeyPatch) -> None:
    env.setenv("KYCGUARD_FACE_MATCH__TOLERANCE", "0.45")
    env.setenv("KYCGUARD_DECISION__APPROVE_AT", "90")
    s = Settings()
    assert s.face_match.tolerance == 0.45
    assert s.decision.approve_at == 90


def test_toml_file_then_environment_wins(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "kyc.toml"
    cfg.write_text("[quality]\nmin_blur_score = 55.0\n[decision]\nreview_at = 70\n")
    env.setenv("KYCGUARD_CONFIG", str(cfg))
    env.setenv("KYCGUARD_DECISION__REVIEW_AT", "72")
    s = Settings()
    assert s.quality.min_blur_score == 55.0
    assert s.decision.review_at == 72


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("KYCGUARD_DECISION__REVIEW_AT", "95"),  # above approve_at
        ("KYCGUARD_FACE_MATCH__CLEAR_MISMATCH_DISTANCE", "0.3"),  # below tolerance
        ("KYCGUARD_QUALITY__MAX_BRIGHTNESS", "400"),
        ("KYCGUARD_FACE_MATCH__TOLERANCE", "abc"),
    ],
)
def test_invalid_values_are_refused(env: pytest.MonkeyPatch, var: str, value: str) -> None:
    env.setenv(var, value)
    with pytest.raises(ValidationError):
        Settings()


def test_unknown_key_in_file_is_refused(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "kyc.toml"
    cfg.write_text("[decision]\napprove_att = 80\n")
    env.setenv("KYCGUARD_CONFIG", str(cfg))
    with pytest.raises(ValidationError):
        Settings()


def test_unreadable_file_is_a_config_error(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("KYCGUARD_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigError):
        Settings()


def test_public_dict_hides_database_password(env: pytest.MonkeyPatch) -> None:
    env.setenv("KYCGUARD_DATABASE_URL", "postgresql+psycopg://kyc:s3cret@db.internal/kyc")
    shown = Settings().public_dict()
    assert "s3cret" not in str(shown)
    assert shown["face_match"]["tolerance"] == Settings().face_match.tolerance
