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


def test_seed_names_map_onto_our_settings(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "kyc.toml"
    cfg.write_text("liveness_score_min = 0.65\nface_match_tolerance = 0.5\n")
    env.setenv("KYCGUARD_CONFIG", str(cfg))
    env.setenv("KYCGUARD_BLUR_THRESHOLD", "61")
    s = Settings()
    assert (s.liveness.live_threshold, s.face_match.tolerance) == (65.0, 0.5)
    assert s.quality.min_blur_score == 61.0
    seed = s.public_dict()["seed_names"]
    assert seed["liveness_score_min"]["value"] == 0.65
    assert seed["blur_threshold"] == {
        "value": 61.0,
        "setting": "quality.min_blur_score",
        "meaning": seed["blur_threshold"]["meaning"],
    }


@pytest.mark.parametrize(
    ("toml", "var", "value"),
    [
        ("face_match_tolerance = 0.5\n", "KYCGUARD_FACE_MATCH__TOLERANCE", "0.45"),  # same setting
        ("face_match_tolerance = 0.5\n", "KYCGUARD_FACE_MATCH_CONFIDENCE_MIN", "70"),  # two names
        ("", "KYCGUARD_LIVENESS_SCORE_MIN", "nan"),
        ("", "KYCGUARD_LIVENESS_SCORE_MIN", "abc"),
        ("", "KYCGUARD_FACE_MATCH_CONFIDENCE_MIN", "100"),
    ],
)
def test_seed_names_that_conflict_or_are_not_numbers_are_refused(
    env: pytest.MonkeyPatch, tmp_path: Path, toml: str, var: str, value: str
) -> None:
    cfg = tmp_path / "kyc.toml"
    cfg.write_text(toml)
    env.setenv("KYCGUARD_CONFIG", str(cfg))
    env.setenv(var, value)
    with pytest.raises(ConfigError):
        Settings()


def test_seed_liveness_minimum_out_of_range_is_refused(env: pytest.MonkeyPatch) -> None:
    env.setenv("KYCGUARD_LIVENESS_SCORE_MIN", "1.5")  # 150 on our 0-100 scale
    with pytest.raises(ValidationError):
        Settings()
