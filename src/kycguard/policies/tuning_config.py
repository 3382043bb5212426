"""``TuningSettings``: the scheduled threshold-tuning report and its automatic application."""

from __future__ import annotations

from pydantic import BaseModel


class TuningSettings(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}
