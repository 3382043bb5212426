"""``EvidenceSettings``: what counts as identity evidence, what is no document, what is a reused image.

The decision engine's bands and weights stay in ``DecisionSettings``; these are the thresholds of the
evidence rules (see README "Decision rules"). The reuse thresholds were chosen with
``kycguard bench reuse`` on LFW same-person pairs (genuine, must not fire) and on re-crops,
re-encodings and resizes of document portraits (attacks, must fire).
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class EvidenceSettings(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}

    not_a_document_face_fraction: float = Field(
        0.2,
        gt=0,
        le=1,
        description="A 'document' with no printed field read whose face is at least this share of "
        "the image width is a plain portrait, not an ID (NOT_AN_IDENTITY_DOCUMENT, rejected). "
        "On a card photographed whole, the portrait's face is about 10-15 % of the width.",
    )
    min_printed_lines: int = Field(
        2,
        ge=1,
        description="Fewer text lines than this read on the document (and no MRZ or barcode) "
        "means no printed fields were found.",
    )
    reuse_image_hash_distance: int = Field(
        4,
        ge=0,
        le=64,
        description="Selfie and document whose whole-image perceptual hashes (64 bits) differ in at "
        "most this many bits are the same picture (SELFIE_REUSED_FROM_DOCUMENT).",
    )
    reuse_face_hash_distance: int = Field(
        10,
        ge=0,
        le=64,
        description="Eye-aligned face crops whose perceptual hashes differ in at most this many "
        "bits...",
    )
    reuse_face_correlation: float = Field(
        0.88,
        ge=0,
        le=1,
        description="...and whose pixels correlate at least this much are one photo re-cropped "
        "(the selfie cut out of the document's portrait).",
    )
    deepfake_reject_at: float = Field(
        55.0,
        ge=0,
        le=100,
        description="A session's deepfake score at or above this is a confident verdict and "
        "rejects (DEEPFAKE_SUSPECTED); flagged below it (liveness.deepfake_threshold and up) holds "
        "the case for review (DEEPFAKE_UNCERTAIN). The GHOST swaps of the shared clips score "
        "73-83 as whole clips and 61.9 (elon.webm) streamed as a session; real clips score 0.",
    )
    injection_reject_at: float = Field(
        70.0,
        ge=0,
        le=100,
        description="The same for the injection score (INJECTION_SUSPECTED / INJECTION_UNCERTAIN): "
        "recorded real clips replayed as a stream score up to 61 (frame-rate duplicates).",
    )
