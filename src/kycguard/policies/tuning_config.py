"""``TuningSettings``: the scheduled threshold-tuning report and its automatic application.

The seed re-tuned "every 1,000 verifications" by hand. Here a periodic job counts the decisions since
the last report and, every ``every_decisions``, sweeps the thresholds over the labelled cases of the
last ``window_days`` and stores the proposal (``GET /api/v1/policies/tuning-reports``). It changes the
policy itself only when ``auto_apply`` is on, enough cases are labelled, and every proposed value lies
inside its ``bounds`` and moves at most ``max_step`` from the current one: a compliance team chooses
the fence, the job only moves inside it.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

TUNABLE = ("face_match.tolerance", "decision.approve_at", "liveness.live_threshold")


class ThresholdBound(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}

    min: float
    max: float
    max_step: float = Field(gt=0, description="largest change one automatic application makes")

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdBound:
        if self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


def _default_bounds() -> dict[str, ThresholdBound]:
    return {
        "face_match.tolerance": ThresholdBound(min=0.45, max=0.6, max_step=0.02),
        "decision.approve_at": ThresholdBound(min=75, max=95, max_step=3),
        "liveness.live_threshold": ThresholdBound(min=50, max=85, max_step=5),
    }


class TuningSettings(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}

    enabled: bool = Field(True, description="run the scheduled tuning report at all")
    every_decisions: int = Field(
        1000, ge=1, description="a report after this many new decisions (the seed's 1,000)"
    )
    check_interval_s: float = Field(
        60.0, gt=0, description="how often the job counts the decisions since the last report"
    )
    window_days: int = Field(90, ge=1, le=3650, description="labelled cases of this many days")
    target_far: float = Field(0.002, gt=0, lt=1, description="false accept rate to stay under")
    max_frr: float = Field(0.03, gt=0, lt=1, description="false reject rate to stay under")
    auto_apply: bool = Field(
        False, description="apply a proposal as a new policy version (system actor, audited)"
    )
    min_labelled: int = Field(
        100, ge=1, description="labelled cases in the window below which nothing is auto-applied"
    )
    bounds: dict[str, ThresholdBound] = Field(
        default_factory=_default_bounds,
        description="per threshold (section.field): the range and the largest step an automatic "
        "application may take; a threshold without bounds is never changed automatically",
    )

    @model_validator(mode="after")
    def _known(self) -> TuningSettings:
        unknown = sorted(set(self.bounds) - set(TUNABLE))
        if unknown:
            raise ValueError(f"bounds for unknown thresholds {unknown}; tunable: {list(TUNABLE)}")
        return self
