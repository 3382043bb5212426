"""``PolicySettings``: which policy decides by default, and the scheduled tuning report.

The policies themselves live in the database (versioned, audited); these settings only say which
one is the default and how the tuning report runs (``kycguard.policies.tuning_config``).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from kycguard.policies.tuning_config import TuningSettings


class PolicySettings(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}

    default_policy: str = Field(
        "default",
        min_length=1,
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9_.-]*$",
        description="The policy that decides a case no experiment routes elsewhere. Version 1 of "
        "it is created at first start from these settings (no overrides).",
    )
    tuning: TuningSettings = TuningSettings()
