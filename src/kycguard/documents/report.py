"""Result types of the document analysis: per-check results, reason codes, the report.

Reason codes are part of the public API (the decision and API clients key on them): add new ones,
never rename.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    MRZ_NOT_FOUND = "MRZ_NOT_FOUND"
    MRZ_UNREADABLE = "MRZ_UNREADABLE"
    MRZ_CHECK_DIGIT_FAILED = "MRZ_CHECK_DIGIT_FAILED"
    MRZ_VIZ_MISMATCH = "MRZ_VIZ_MISMATCH"
    MRZ_DATA_MISMATCH = "MRZ_DATA_MISMATCH"
    BARCODE_MRZ_MISMATCH = "BARCODE_MRZ_MISMATCH"
    BARCODE_DATA_MISMATCH = "BARCODE_DATA_MISMATCH"
    VIZ_DATA_MISMATCH = "VIZ_DATA_MISMATCH"
    DOCUMENT_EXPIRED = "DOCUMENT_EXPIRED"
    DOCUMENT_NOT_YET_VALID = "DOCUMENT_NOT_YET_VALID"
    HOLDER_UNDERAGE = "HOLDER_UNDERAGE"
    IMPOSSIBLE_DATE = "IMPOSSIBLE_DATE"
    PORTRAIT_TAMPERING_SUSPECTED = "PORTRAIT_TAMPERING_SUSPECTED"
    MRZ_GEOMETRY_INCONSISTENT = "MRZ_GEOMETRY_INCONSISTENT"
    SCREEN_CAPTURE_SUSPECTED = "SCREEN_CAPTURE_SUSPECTED"


@dataclass
class CheckResult:
    """One check. ``passed`` is None when the check could not be performed (and ``detail`` says why);
    ``score`` is how well the document passes this check, 1.0 fully, 0.0 not at all."""

    name: str
    passed: bool | None
    score: float | None
    detail: str
    reason_codes: list[str] = field(default_factory=list)
    hard_reject: bool = False
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "score": None if self.score is None else round(float(self.score), 3),
            "detail": self.detail,
            "reason_codes": list(self.reason_codes),
            "hard_reject": self.hard_reject,
            "evidence": _jsonable(self.evidence),
        }


@dataclass
class DocumentReport:
    """Everything the document analysis found; ``to_dict()`` is the API's ``document_authenticity``.

    ``score`` (0-100) is the confidence that the document is genuine, valid and belongs to the data
    given; ``hard_reject`` is set by the reason codes listed in ``hard_reject_codes``.
    """

    checks: list[CheckResult]
    mrz: dict[str, Any] | None
    barcode: dict[str, Any] | None
    viz: dict[str, Any] | None
    identity: dict[str, Any]
    reasons: list[str]
    warnings: list[str]
    score: float
    hard_reject: bool
    timings_ms: dict[str, float]
    rectification: dict[str, Any] | None = None  # was the document found and its perspective undone

    def check(self, name: str) -> CheckResult | None:
        return next((c for c in self.checks if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "checks": [c.to_dict() for c in self.checks],
            "mrz": _jsonable(self.mrz),
            "barcode": _jsonable(self.barcode),
            "viz": _jsonable(self.viz),
            "identity": _jsonable(self.identity),
            "reasons": list(self.reasons),
            "warnings": list(self.warnings),
            "score": round(float(self.score), 1),
            "hard_reject": self.hard_reject,
            "timings_ms": {k: round(float(v), 1) for k, v in self.timings_ms.items()},
            "rectification": _jsonable(self.rectification),
        }


def _jsonable(value: Any) -> Any:
    """Plain JSON types only (numpy scalars and dates become numbers and ISO strings)."""
    import datetime as dt

    import numpy as np

    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    return str(value)
