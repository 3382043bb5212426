"""Turning raw cue values into suspicions, and suspicions into one score.

A cue's value is mapped by a linear ramp between two anchors: at or beyond ``clear`` the cue sees
nothing wrong (suspicion 0), at or beyond ``alarm`` it is fully alarmed (1). Anchors are chosen from
where bona fide captures fall (so a typical genuine capture sits at 0) and from the physics of the
attack; each cue's docstring says which.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kycguard.liveness.types import Family, Signal


@dataclass(frozen=True)
class Ramp:
    """Linear map value -> suspicion, 0 at ``clear`` and 1 at ``alarm`` (either order)."""

    clear: float
    alarm: float

    def __call__(self, value: float) -> float:
        if not math.isfinite(value):
            return 1.0 if (value > 0) == (self.alarm > self.clear) else 0.0
        t = (value - self.clear) / (self.alarm - self.clear)
        return float(min(1.0, max(0.0, t)))

    def describe(self) -> str:
        return f"suspicion 0 at {self.clear:g}, 1 at {self.alarm:g}"


def make_signal(
    name: str,
    family: Family,
    value: float,
    ramp: Ramp,
    weights: Mapping[str, float],
    what: str,
    **extra: object,
) -> Signal:
    """A measured cue: ``what`` says what ``value`` is; the ramp is appended to the explanation."""
    return Signal(
        name=name,
        family=family,
        value=float(value),
        suspicion=ramp(float(value)),
        weight=weights[name],
        detail=f"{what} = {value:.4g} ({ramp.describe()})",
        extra=dict(extra),
    )


def fused_score(signals: Iterable[Signal]) -> float:
    """``100 * exp(-sum(weight * suspicion))`` over the active cues (100 when none is active).

    Each cue can multiply the score by no less than ``exp(-weight)``: weak cues must agree to flip a
    verdict, a strong one may decide alone. Nothing raises the score: absence of evidence of an attack
    is all a cue can give.
    """
    evidence = sum(s.weight * s.suspicion for s in signals if s.active and s.suspicion is not None)
    return 100.0 * math.exp(-evidence)


def inverse_score(signals: Iterable[Signal]) -> float:
    """The same fusion read the other way for deepfake/injection scores: 100 = surely fake."""
    return 100.0 - fused_score(signals)
