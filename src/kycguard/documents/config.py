"""Settings of the document checks (the ``documents`` section of :class:`kycguard.settings.Settings`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

DEFAULT_HARD_REJECT_CODES = (
    "DOCUMENT_EXPIRED",
    "DOCUMENT_NOT_YET_VALID",
    "IMPOSSIBLE_DATE",
    "HOLDER_UNDERAGE",
    "MRZ_CHECK_DIGIT_FAILED",
)


class DocumentSettings(BaseModel):
    """Reading and checking identity documents: OCR, date rules, cross-checks, tampering signs."""

    model_config = {"extra": "forbid", "frozen": True}

    min_age_years: int = Field(
        18,
        ge=0,
        le=120,
        description="Holders younger than this on the day of the check get HOLDER_UNDERAGE.",
    )
    max_age_years: int = Field(
        130,
        ge=1,
        le=200,
        description="A birth date implying an older holder is an IMPOSSIBLE_DATE.",
    )
    expiry_grace_days: int = Field(
        0,
        ge=0,
        le=3650,
        description="Days after the printed expiry during which the document still counts as valid.",
    )
    ocr_engine: Literal["rapidocr", "rapidocr+tesseract"] = Field(
        "rapidocr+tesseract",
        description="PP-OCR (bundled in rapidocr-onnxruntime) reads everything; with '+tesseract' Debian's tesseract "
        "re-reads an MRZ whose PP-OCR reading fails its check digits (used only if the program is installed).",
    )
    ocr_threads: int = Field(
        1, ge=0, le=64, description="ONNX Runtime threads per OCR call; 0 lets it decide."
    )
    detect_max_side_px: int = Field(
        800,
        ge=320,
        le=4096,
        description="The text detector runs on a copy of the image scaled to this longest side.",
    )
    mrz_frames_per_char: float = Field(
        4.5,
        ge=2.5,
        le=8,
        description="Recogniser frames per MRZ character; fewer is faster and loses characters in filler runs.",
    )
    mrz_min_confidence: float = Field(
        0.55,
        ge=0,
        le=1,
        description="Mean character confidence below which an MRZ counts as MRZ_UNREADABLE.",
    )
    mrz_max_correction_cost: float = Field(
        4.0,
        ge=0,
        le=20,
        description="Largest evidence (nats) against an alternative character that check-digit repair may still choose; 0 disables repair.",
    )
    mrz_hard_reject_confidence: float = Field(
        0.85,
        ge=0,
        le=1,
        description="A failing check digit is a hard reject only when the MRZ was read at least this confidently "
        "(a blurred photo's misreading is not a forgery).",
    )
    rectify: bool = Field(
        True,
        description="Find the card or page outline and undo the perspective before reading and before "
        "the print-geometry check (the report's 'rectification' says whether it was found).",
    )
    read_viz: bool = Field(
        True, description="OCR the visual zone (names, dates, number) and compare it with the MRZ."
    )
    viz_max_boxes: int = Field(
        16,
        ge=0,
        le=400,
        description="Most visual-zone text boxes recognised per image (time bound).",
    )
    read_barcode: bool = Field(
        True, description="Look for PDF417 barcodes (driver licences) with zxing-cpp."
    )
    name_match_threshold: float = Field(
        0.85,
        ge=0,
        le=1,
        description="Name similarity (0-1) at or above which two names count as the same.",
    )
    portrait_tamper_threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Portrait-replacement suspicion at or above which PORTRAIT_TAMPERING_SUSPECTED is raised.",
    )
    mrz_geometry_threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description="MRZ print-geometry suspicion at or above which MRZ_GEOMETRY_INCONSISTENT is raised.",
    )
    screen_capture_threshold: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Screenshot / screen-photo suspicion at or above which SCREEN_CAPTURE_SUSPECTED is raised.",
    )
    hard_reject_codes: tuple[str, ...] = Field(
        DEFAULT_HARD_REJECT_CODES,
        description="Reason codes that make the document a hard reject (MRZ_CHECK_DIGIT_FAILED only above mrz_hard_reject_confidence).",
    )
