"""``LivenessSettings``: thresholds, fusion weights and the optional MiniFASNet model file.

Every number that turns a measurement into a verdict lives here, so ``GET /api/v1/config`` shows it.
The ramps that map one cue's raw value to a 0..1 suspicion are part of each cue's definition and are
printed in that cue's ``detail`` in every result.

Fusion (both families): ``score = 100 * exp(-sum(weight_i * suspicion_i))`` over active cues, i.e. each
cue multiplies the odds of "genuine" by at most ``exp(-weight)``. A weight of 0.7 (a weak cue) can at
most halve the score; 2.3 divides it by 10. Weak cues therefore have to agree before a verdict flips,
while a strong cue (a trained model, a flat-plane motion fit) can decide alone. The weights are a
judgement about how specific each cue is, checked on the shared sets, not fitted: with 3 PAD images
and 6 clips nothing can be fitted honestly.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, field_validator, model_validator

# SHA-256 of what `kycguard models import` writes from the two upstream weight files
# (2.7_80x80_MiniFASNetV2.pth + 4_0_0_80x80_MiniFASNetV1SE.pth); the conversion is deterministic.
MINIFASNET_ENSEMBLE_SHA256 = "a21fbdf9ddebe773c3fc1b081814f1ddf9645f483d5c0bd8f94e8dbda8c21521"

PASSIVE_WEIGHTS: dict[str, float] = {
    "blur_check": 0.5,
    "specular_reflection": 0.5,
    "micro_texture": 0.4,
    "print_attack": 1.0,
    "screen_moire": 1.0,
    # Measured on the shared sets: 3 framed sides on 4 of 87 bona fide photos (doors, windows) and on
    # neither attack (the tablet in image_F2 frames 2 sides). Reported for reviewers, not fused.
    "frame_edges": 0.0,
    "minifasnet": 2.5,
}
SEQUENCE_WEIGHTS: dict[str, float] = {
    # liveness family
    "planar_motion": 2.5,
    "passive_frames": 1.0,
    "pulse": 0.3,
    "static_scene": 2.5,
    # screen replay of a moving head (liveness/replay.py): each below 1.05, so two must agree for
    # "attack"; one alone holds the case for review
    "screen_flicker": 0.9,
    "screen_moire_persistent": 0.9,
    "screen_gamut": 0.6,
    "screen_bezel": 0.4,
    "challenge_timing": 0.6,
    # deepfake family
    "frequency_artifacts": 1.5,
    "blending_boundary": 0.6,
    "landmark_jitter": 0.5,
    "identity_drift": 0.5,
    "blink_pattern": 0.3,
    # injection family
    "frame_timing": 1.5,
    "duplicate_frames": 2.0,
    "sensor_noise": 0.7,
}


class LivenessSettings(BaseModel):
    """Presentation-attack (selfie, session) and deepfake/injection detection."""

    model_config = {"extra": "forbid", "frozen": True}

    live_threshold: float = Field(
        60.0,
        ge=0,
        le=100,
        description="Passive/sequence liveness score at or above which the verdict is live.",
    )
    attack_threshold: float = Field(
        35.0,
        ge=0,
        le=100,
        description="Liveness score below which the verdict is attack (between: uncertain).",
    )
    deepfake_threshold: float = Field(
        50.0,
        ge=0,
        le=100,
        description="Deepfake score at or above which a session is flagged as synthetic.",
    )
    injection_threshold: float = Field(
        50.0,
        ge=0,
        le=100,
        description="Injection score at or above which a session is flagged as injected.",
    )
    passive_weights: dict[str, float] = Field(
        default_factory=lambda: dict(PASSIVE_WEIGHTS),
        description="Fusion weight of each single-image cue.",
    )
    sequence_weights: dict[str, float] = Field(
        default_factory=lambda: dict(SEQUENCE_WEIGHTS),
        description="Fusion weight of each multi-frame cue.",
    )
    minifasnet_path: Path | None = Field(
        None,
        description="ONNX file written by `kycguard models import`; empty: MiniFASNet inactive.",
    )
    minifasnet_sha256: str | None = Field(
        MINIFASNET_ENSEMBLE_SHA256,
        pattern=r"^[0-9a-f]{64}$",
        description="Pinned hash of minifasnet_path (default: the conversion of the upstream 2.7 + 4.0 weights).",
    )
    pad_model_path: Path | None = Field(
        None,
        description="Learned single-image PAD model (`kycguard models train-pad`); when set, its "
        "calibrated P(attack) is the selfie's liveness score and the cues are its inputs.",
    )
    pad_model_sha256: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{64}$",
        description="Pinned SHA-256 of pad_model_path (printed by train-pad); required with the path.",
    )
    deepfake_model_path: Path | None = Field(
        None,
        description="Learned clip deepfake model (`kycguard models train-deepfake`); when set, its "
        "calibrated P(fake) is the session's deepfake score.",
    )
    deepfake_model_sha256: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{64}$",
        description="Pinned SHA-256 of deepfake_model_path (printed by train-deepfake); required with the path.",
    )
    min_texture_face_px: int = Field(
        120,
        ge=32,
        description="Face width below which texture cues (blur, micro texture, moire) abstain.",
    )
    sequence_max_side_px: int = Field(
        640, ge=160, description="Session frames are analysed at most this large."
    )
    min_sequence_frames: int = Field(
        8, ge=2, description="Fewer frames with a face: sequence cues are inactive."
    )
    min_motion_interocular: float = Field(
        0.02,
        gt=0,
        description="Head/camera motion (fraction of the eye distance) below which planar-motion cues abstain.",
    )
    embedding_frames: int = Field(
        12,
        ge=2,
        le=64,
        description="Frames embedded (dlib ResNet) for identity drift, evenly spaced.",
    )

    @field_validator("passive_weights")
    @classmethod
    def _known_passive(cls, v: dict[str, float]) -> dict[str, float]:
        return _checked(v, PASSIVE_WEIGHTS)

    @field_validator("sequence_weights")
    @classmethod
    def _known_sequence(cls, v: dict[str, float]) -> dict[str, float]:
        return _checked(v, SEQUENCE_WEIGHTS)

    @model_validator(mode="after")
    def _ordered(self) -> LivenessSettings:
        if self.attack_threshold > self.live_threshold:
            raise ValueError("attack_threshold must not exceed live_threshold")
        for name in ("pad_model", "deepfake_model"):
            if (
                getattr(self, f"{name}_path") is not None
                and getattr(self, f"{name}_sha256") is None
            ):
                raise ValueError(
                    f"{name}_path needs {name}_sha256 (the hash printed when the model was trained)"
                )
        return self


def _checked(given: dict[str, float], known: dict[str, float]) -> dict[str, float]:
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ValueError(f"unknown cue(s) {unknown}; known: {sorted(known)}")
    if any(w < 0 for w in given.values()):
        raise ValueError("weights must be >= 0")
    return {**known, **given}  # a partial override keeps the other defaults
