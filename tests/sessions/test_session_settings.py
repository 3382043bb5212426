"""Session settings: the environment can narrow the challenge pool (how the end-to-end tests get a
one-blink session from a real clip), and impossible combinations are refused at start-up."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kycguard.sessions.config import Challenge, SessionSettings
from kycguard.settings import Settings


def test_defaults_follow_the_issue() -> None:
    s = SessionSettings()
    assert s.expiry_s == 900 and (s.min_challenges, s.max_challenges) == (3, 5)
    assert set(s.challenge_pool) == set(Challenge) and len(Challenge) == 6


@pytest.mark.parametrize("value", ["blink,nod", '["blink", "nod"]', " blink , nod "])
def test_challenge_pool_from_the_environment(env: pytest.MonkeyPatch, value: str) -> None:
    env.setenv("KYCGUARD_SESSIONS__CHALLENGE_POOL", value)
    env.setenv("KYCGUARD_SESSIONS__MIN_CHALLENGES", "1")
    env.setenv("KYCGUARD_SESSIONS__MAX_CHALLENGES", "2")
    env.setenv("KYCGUARD_SESSIONS__DETECTORS__TURN_YAW_DEG", "18")
    s = Settings().sessions
    assert s.challenge_pool == (Challenge.BLINK, Challenge.NOD)
    assert s.detectors.turn_yaw_deg == 18


@pytest.mark.parametrize(
    "values",
    [
        {"challenge_pool": ["blink", "wink"]},
        {"challenge_pool": ["blink", "blink"]},
        {"challenge_pool": ["blink"]},  # max_challenges 5 > one challenge in the pool
        {"min_challenges": 4, "max_challenges": 3},
        {"detectors": {"blink_closed_ratio": 0.8, "blink_open_ratio": 0.7}},
        {"detectors": {"turn_yaw_deg": 5, "turn_return_deg": 7}},
        {"expiry_s": 0},
    ],
)
def test_impossible_settings_are_refused(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SessionSettings.model_validate(values)
