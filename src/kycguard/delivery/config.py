"""``RetrySettings``: the back-off schedule of one kind of delivery (alerts and webhooks each hold one)."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator


class RetrySettings(BaseModel):
    """Exponential back-off with jitter until ``max_age_s`` after the first attempt, then dead-letter."""

    model_config = {"extra": "forbid", "frozen": True}

    first_interval_s: float = Field(
        30.0, gt=0, description="Wait before the 2nd attempt; doubles after each failure..."
    )
    max_interval_s: float = Field(
        6 * 3600.0, gt=0, description="...up to this wait between two attempts..."
    )
    max_age_s: float = Field(
        3 * 86_400.0, gt=0, description="...for this long after the event (Stripe: 3 days)."
    )
    jitter: float = Field(
        0.5, ge=0, le=1, description="Each wait is shortened by a random fraction up to this."
    )
    lease_s: float = Field(
        120.0,
        gt=0,
        description="A claimed row is retried by any runner once this passes (a crashed runner).",
    )
    batch: int = Field(50, ge=1, le=1000, description="Rows claimed per run of the job.")
    interval_s: float = Field(2.0, gt=0, description="How often the delivery job runs.")
    timeout_s: float = Field(10.0, gt=0, le=120, description="Timeout of one attempt.")

    @model_validator(mode="after")
    def _ordered(self) -> RetrySettings:
        if self.max_interval_s < self.first_interval_s:
            raise ValueError("max_interval_s must be at least first_interval_s")
        return self


class DeliverySettings(BaseModel):
    """How long the outbox keeps rows that are finished (the ``delivery`` section). Pending rows are
    never purged; the retention purge (``security.purge_interval_s``) deletes the others."""

    model_config = {"extra": "forbid", "frozen": True}

    keep_delivered_days: int = Field(
        7,
        ge=1,
        description="A delivered row (and its attempt log) is deleted this many days after "
        "its delivery.",
    )
    keep_dead_days: int = Field(
        30,
        ge=1,
        description="A dead letter (and its attempt log) is deleted this many days after its "
        "retry window began (the event, or its last redelivery); until then it can be redelivered.",
    )
