"""LivenessSettings: partial weight overrides, refusal of unknown cues, environment overrides."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kycguard.liveness.config import PASSIVE_WEIGHTS, LivenessSettings
from kycguard.settings import Settings


def test_partial_weight_override_keeps_the_other_defaults() -> None:
    s = LivenessSettings(passive_weights={"blur_check": 0.1})
    assert s.passive_weights["blur_check"] == 0.1
    assert s.passive_weights["print_attack"] == PASSIVE_WEIGHTS["print_attack"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"passive_weights": {"no_such_cue": 1.0}},
        {"sequence_weights": {"planar_motion": -1.0}},
        {"attack_threshold": 70.0, "live_threshold": 60.0},
        {"minifasnet_sha256": "not-a-hash"},
    ],
)
def test_nonsense_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        LivenessSettings(**kwargs)


def test_environment_reaches_the_liveness_section(env: pytest.MonkeyPatch) -> None:
    env.setenv("KYCGUARD_LIVENESS__LIVE_THRESHOLD", "70")
    env.setenv("KYCGUARD_LIVENESS__PASSIVE_WEIGHTS", '{"minifasnet": 3.0}')
    s = Settings()
    assert s.liveness.live_threshold == 70
    assert s.liveness.passive_weights["minifasnet"] == 3.0
    assert (
        s.public_dict()["liveness"]["passive_weights"]["print_attack"]
        == PASSIVE_WEIGHTS["print_attack"]
    )
