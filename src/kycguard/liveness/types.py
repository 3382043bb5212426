"""Result dataclasses of the liveness package: every score comes with the evidence behind it.

Direction conventions, fixed so a reviewer never has to guess:
- a *liveness* score is 0..100 with 100 = surely a live person in front of the camera;
- a *deepfake* or *injection* score is 0..100 with 100 = surely synthetic / injected;
- every :class:`Signal` carries ``suspicion`` in 0..1 (1 = this cue alone says attack/fake) and
  ``score`` = the same cue on its family's 0..100 scale, so signals read like the total they feed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from kycguard.vision.types import Face

Verdict = Literal["live", "attack", "uncertain"]
Family = Literal["liveness", "deepfake", "injection"]


@dataclass(frozen=True)
class Signal:
    """One explainable cue: what was measured, how suspicious that is, and why.

    ``value`` is the raw measurement (its unit is named in ``detail``), ``suspicion`` in 0..1 is its
    mapping through the ramp documented next to the signal, ``weight`` is how much the fusion trusts it.
    A signal that could not be measured (too few frames, no landmarks) is ``active=False`` with the
    reason in ``detail``; fusion ignores it.
    """

    name: str
    family: Family
    value: float | None
    suspicion: float | None
    weight: float
    detail: str
    active: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def score(self) -> float | None:
        """The cue on its family's 0..100 scale (liveness: 100 = live; deepfake/injection: 100 = fake)."""
        if self.suspicion is None:
            return None
        s = 1.0 - self.suspicion if self.family == "liveness" else self.suspicion
        return round(100.0 * s, 1)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "active": self.active,
            "value": None if self.value is None else round(float(self.value), 5),
            "score": self.score,
            "suspicion": None if self.suspicion is None else round(float(self.suspicion), 4),
            "weight": self.weight,
            "detail": self.detail,
        }
        if self.extra:
            out["extra"] = _jsonable(self.extra)
        return out

    @staticmethod
    def inactive(name: str, family: Family, weight: float, reason: str) -> Signal:
        return Signal(name, family, None, None, weight, reason, active=False)


@dataclass(frozen=True)
class LivenessResult:
    """Passive (single-image) presentation-attack check of one selfie."""

    score: float  # 0..100, 100 = surely live
    threshold: float
    attack_threshold: float
    signals: dict[str, Signal]
    inactive_detectors: dict[str, str]
    face_found: bool = True
    # Which detectors produced ``score`` and which model files ran (path, sha256): "fusion" is
    # "weighted_cues" (hand-set weights) or "learned_pad" (a trained model's calibrated output).
    detectors: dict[str, Any] = field(default_factory=dict)

    @property
    def is_live(self) -> bool:
        return self.score >= self.threshold

    @property
    def verdict(self) -> Verdict:
        if self.score >= self.threshold:
            return "live"
        if self.score < self.attack_threshold:
            return "attack"
        return "uncertain"

    @property
    def active_detectors(self) -> list[str]:
        return [name for name, s in self.signals.items() if s.active]

    def to_dict(self) -> dict[str, Any]:
        return {
            "is_live": self.is_live,
            "score": round(self.score, 1),
            "threshold": self.threshold,
            "attack_threshold": self.attack_threshold,
            "verdict": self.verdict,
            "signals": {name: s.to_dict() for name, s in self.signals.items()},
            "active_detectors": self.active_detectors,
            "inactive_detectors": dict(self.inactive_detectors),
            "detectors": _jsonable(self.detectors),
        }


@dataclass(frozen=True, eq=False)
class FrameSample:
    """One frame of a session: the image (or a downscaled copy), its face and two clocks.

    ``face`` must be in the pixel coordinates of ``rgb`` (None when no face was found).
    ``timestamp_ms`` is the capture time the client reports; ``received_ms`` the server's arrival time,
    None for a recorded file (then timing-based injection cues are inactive).
    """

    rgb: np.ndarray
    face: Face | None
    timestamp_ms: float
    received_ms: float | None = None


@dataclass(frozen=True)
class FamilyScore:
    """The fused score of one family of signals and the verdict at its thresholds."""

    score: float  # 0..100 in the family's direction
    verdict: str
    signals: dict[str, Signal]

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": round(self.score, 1),
            "verdict": self.verdict,
            "signals": {name: s.to_dict() for name, s in self.signals.items()},
        }


@dataclass(frozen=True)
class SequenceAssessment:
    """Liveness, deepfake and injection scores of a frame sequence (a video session)."""

    liveness: FamilyScore  # 100 = live
    deepfake: FamilyScore  # 100 = synthetic face
    injection: FamilyScore  # 100 = injected stream
    frames_used: int
    frames_with_face: int
    segments: int  # face tracks after cuts are split off

    @property
    def liveness_score(self) -> float:
        return self.liveness.score

    @property
    def deepfake_score(self) -> float:
        return self.deepfake.score

    @property
    def injection_score(self) -> float:
        return self.injection.score

    def to_dict(self) -> dict[str, Any]:
        signals = {**self.liveness.signals, **self.deepfake.signals, **self.injection.signals}
        return {
            "liveness_score": round(self.liveness.score, 1),
            "deepfake_score": round(self.deepfake.score, 1),
            "injection_score": round(self.injection.score, 1),
            "verdicts": {
                "liveness": self.liveness.verdict,
                "deepfake": self.deepfake.verdict,
                "injection": self.injection.verdict,
            },
            "signals": {name: s.to_dict() for name, s in signals.items()},
            "active_detectors": [n for n, s in signals.items() if s.active],
            "inactive_detectors": {n: s.detail for n, s in signals.items() if not s.active},
            "frames_used": self.frames_used,
            "frames_with_face": self.frames_with_face,
            "segments": self.segments,
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float):
        return round(value, 5)
    return value
