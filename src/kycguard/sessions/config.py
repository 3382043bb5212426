"""``SessionSettings``: expiry, limits, challenge choice and every detector threshold of video sessions.

Detector thresholds are *relative to the person's own neutral frames* (ratios of their eye opening,
differences from their resting smile, degrees away from their resting head pose), so glasses, beards
and narrow or wide eyes do not need different numbers. The defaults were chosen on the shared real
clips (``tests/sessions/test_detectors_real.py`` lists the frames) and on perspective-warped photos.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import NoDecode


class Challenge(StrEnum):
    BLINK = "blink"
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    NOD = "nod"
    SMILE = "smile"
    OPEN_MOUTH = "open_mouth"


class _Section(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}


class BaselineSettings(_Section):
    """The neutral frames every detector is relative to, collected before the first challenge."""

    frames: int = Field(
        5, ge=2, le=30, description="Consecutive steady frames that make the baseline."
    )
    pose_tolerance_deg: float = Field(
        6.0, gt=0, description="Yaw/pitch of every baseline frame within this of their median."
    )
    ear_tolerance: float = Field(
        0.25,
        gt=0,
        lt=1,
        description="Eye opening of every baseline frame within this fraction of the median.",
    )
    expression_tolerance: float = Field(
        0.2, gt=0, le=1, description="Smile and jaw blendshapes within this of their median."
    )
    max_abs_yaw_deg: float = Field(
        25.0, gt=0, le=90, description="Baseline frames must face the camera."
    )
    max_abs_pitch_deg: float = Field(25.0, gt=0, le=90)
    min_eye_aspect: float = Field(
        0.08, ge=0, description="Eyes must be open in the baseline (eye aspect ratio above this)."
    )


class DetectorSettings(_Section):
    """Per-challenge thresholds, relative to the neutral baseline."""

    blink_closed_ratio: float = Field(
        0.6,
        gt=0,
        lt=1,
        description="Both eyes closed: each eye's opening at most this fraction of neutral.",
    )
    blink_open_ratio: float = Field(
        0.75,
        gt=0,
        le=1.5,
        description="Both eyes open again: each eye at least this fraction of neutral.",
    )
    blink_min_drop: float = Field(
        0.05,
        ge=0,
        description="Closed eyes also lose at least this much eye aspect ratio (absolute).",
    )
    blink_blendshape_delta: float = Field(
        0.12,
        ge=0,
        le=1,
        description="eyeBlink blendshape of the less-closed eye above neutral by this.",
    )
    blink_min_ms: float = Field(50.0, ge=0, description="Shortest eye closure counted as a blink.")
    blink_max_ms: float = Field(1000.0, gt=0, description="Longest eye closure counted as a blink.")
    turn_yaw_deg: float = Field(
        15.0, gt=0, le=80, description="Head turn: yaw this far from neutral."
    )
    turn_return_deg: float = Field(7.0, gt=0, description="...and back within this of neutral.")
    turn_max_pitch_deg: float = Field(
        20.0, gt=0, description="A turn is not a nod: pitch stays within this."
    )
    nod_pitch_deg: float = Field(
        12.0, gt=0, le=80, description="Nod: chin down this far from neutral."
    )
    nod_return_deg: float = Field(6.0, gt=0, description="...and back within this of neutral.")
    nod_max_yaw_deg: float = Field(
        15.0, gt=0, description="A nod is not a turn: yaw stays within this."
    )
    smile_delta: float = Field(
        0.45, gt=0, le=1, description="mouthSmile blendshape above neutral by this..."
    )
    smile_width_ratio: float = Field(
        1.05, ge=1, description="...and mouth corners at least this much wider than neutral."
    )
    smile_hold_ms: float = Field(200.0, ge=0, description="Smile held at least this long.")
    mouth_jaw_delta: float = Field(
        0.3, gt=0, le=1, description="jawOpen blendshape above neutral by this..."
    )
    mouth_gap_delta: float = Field(
        0.12, gt=0, description="...and inner lips this much further apart (in eye distances)."
    )
    mouth_hold_ms: float = Field(100.0, ge=0, description="Mouth held open at least this long.")
    planar_max_ncc_eyes: float = Field(
        0.8,
        gt=-1,
        le=1,
        description="A closed-eye frame whose eye region a homography of the neutral frame explains "
        "this well (normalised cross-correlation) is a moved photo, not a blink.",
    )
    planar_max_ncc_mouth: float = Field(
        0.9, gt=-1, le=1, description="The same for smile/open mouth."
    )
    planar_max_ncc_face: float = Field(
        0.8, gt=-1, le=1, description="The same for head turns and nods."
    )
    planar_checks_per_attempt: int = Field(
        12,
        ge=1,
        description="Pixel checks per challenge attempt at most (bounds CPU under attack).",
    )

    @model_validator(mode="after")
    def _ordered(self) -> DetectorSettings:
        if self.blink_open_ratio <= self.blink_closed_ratio:
            raise ValueError("blink_open_ratio must exceed blink_closed_ratio")
        if self.blink_max_ms <= self.blink_min_ms:
            raise ValueError("blink_max_ms must exceed blink_min_ms")
        if self.turn_return_deg >= self.turn_yaw_deg or self.nod_return_deg >= self.nod_pitch_deg:
            raise ValueError("the return tolerance must be smaller than the turn/nod angle")
        return self


ALL_CHALLENGES: tuple[Challenge, ...] = tuple(Challenge)


class SessionSettings(_Section):
    """Video KYC sessions: lifetime, limits, challenges, detectors."""

    expiry_s: float = Field(
        900, gt=0, le=86_400, description="An active session expires this long after creation (s)."
    )
    challenge_pool: Annotated[tuple[Challenge, ...], NoDecode] = Field(
        ALL_CHALLENGES,
        min_length=1,
        description="Challenges drawn from (random order, no repeats). Env: comma list or JSON list.",
    )
    min_challenges: int = Field(3, ge=1, le=6, description="Fewest challenges per session.")
    max_challenges: int = Field(5, ge=1, le=6, description="Most challenges per session.")
    challenge_timeout_s: float = Field(
        10.0, gt=0, le=600, description="Time limit of each challenge."
    )
    max_challenge_attempts: int = Field(
        3, ge=1, le=20, description="Timed-out attempts per session before the session fails."
    )
    max_frames: int = Field(1800, ge=10, description="Frames accepted per session.")
    max_frame_bytes: int = Field(2 * 1024 * 1024, gt=0, description="Largest accepted frame.")
    max_sessions_per_user_per_hour: int = Field(
        10, ge=1, description="Sessions one user_id may start per hour."
    )
    analysis_max_side_px: int = Field(
        640,
        ge=240,
        le=1920,
        description="Frames are downscaled to this longest side before analysis.",
    )
    min_face_px: int = Field(
        64,
        gt=0,
        description="Smallest face (width) analysed; below quality.min_selfie_face_px the guidance says 'move closer'.",
    )
    frames_mirrored: bool = Field(
        False,
        description="True if clients send mirrored (selfie-preview) frames; decides which way is 'left'.",
    )
    timestamp_lead_ms: float = Field(
        1500.0,
        ge=0,
        description="Client time since the first frame may run ahead of server time by at most this.",
    )
    max_frame_lag_ms: float = Field(
        15_000.0,
        gt=0,
        description="...and fall behind it by at most this (old frames are replays).",
    )
    face_lost_reset_ms: float = Field(
        1000.0,
        gt=0,
        description="No single face this long resets the current challenge's progress.",
    )
    best_frames: int = Field(
        3,
        ge=1,
        le=10,
        description="Sharpest frontal frames kept (JPEG) for the face template, quality and review.",
    )
    sequence_frames: int = Field(
        48,
        ge=0,
        le=300,
        description="Most recent frames kept (JPEG, ring buffer) for the passive liveness, deepfake "
        "and injection cues at completion, then erased; 0: none.",
    )
    baseline: BaselineSettings = BaselineSettings()
    detectors: DetectorSettings = DetectorSettings()

    @field_validator("challenge_pool", mode="before")
    @classmethod
    def _pool(cls, value: Any) -> Any:
        if isinstance(value, str):  # from the environment: "blink,nod" or '["blink", "nod"]'
            text = value.strip()
            return (
                json.loads(text) if text.startswith("[") else [v.strip() for v in text.split(",")]
            )
        return value

    @model_validator(mode="after")
    def _counts(self) -> SessionSettings:
        if len(set(self.challenge_pool)) != len(self.challenge_pool):
            raise ValueError("challenge_pool lists a challenge twice")
        if self.min_challenges > self.max_challenges:
            raise ValueError("min_challenges must not exceed max_challenges")
        if self.max_challenges > len(self.challenge_pool):
            raise ValueError(
                f"max_challenges ({self.max_challenges}) exceeds the {len(self.challenge_pool)} "
                "challenges in challenge_pool"
            )
        return self
