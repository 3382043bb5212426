"""``ReviewSettings``: claim expiry, the second-reviewer rule and the known-faces search."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ReviewSettings(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}

    claim_ttl_s: int = Field(
        900,
        ge=10,
        le=86_400,
        description="A claim lapses after this many seconds; the case goes back to the queue.",
    )
    second_reviewer_for_fraud: bool = Field(
        False,
        description="A rejection with reason SUSPECTED_FRAUD takes effect only once a second, "
        "different reviewer makes the same decision.",
    )
    known_faces: bool = Field(
        True,
        description="Search every new verification's selfie template against faces labelled "
        "fraud and against the tenant's other identities.",
    )
    known_face_distance: float = Field(
        0.45,
        gt=0,
        lt=2,
        description="Largest embedding distance counted as the same face (stricter than the "
        "1:1 face-match tolerance: a 1:N search over many faces needs a lower false-match rate).",
    )
