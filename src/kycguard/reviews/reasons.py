"""The fixed list of reasons a reviewer may give for a decision (stable codes: add, never rename)."""

from __future__ import annotations

REASONS: dict[str, str] = {
    "BLURRY_IMAGE": "Blurry image",
    "CUT_IMAGE": "Cut image (part of the document or face is missing)",
    "UNSUPPORTED_DOCUMENT": "Unsupported document",
    "DAMAGED_DOCUMENT": "Damaged document",
    "EXPIRED_DOCUMENT": "Expired document",
    "COPY_OF_A_COPY": "Copy of a copy (photo of a screen or a print)",
    "FACE_UNCLEAR": "Face unclear",
    "FACE_NOT_MATCHING": "Face not matching the document",
    "SUSPECTED_FRAUD": "Suspected fraud",
    "VERIFIED_BY_REVIEWER": "Checked by the reviewer: genuine",
}
FRAUD_REASON = "SUSPECTED_FRAUD"
DECISIONS = {"approve": "approved", "reject": "rejected", "request_resubmission": "rejected"}
