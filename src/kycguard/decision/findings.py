"""Findings: what a check concluded, as a stable reason code, a message and a severity.

Every check (quality, face match, document, liveness) speaks in findings; the decision engine only
reads findings and component scores, so video sessions and ``/verify`` share one engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    REJECT = "reject"  # a hard rule: overrides the score
    REVIEW = "review"  # a person must look: the case cannot be approved automatically
    INFO = "info"  # worth a warning, no effect on the status


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    severity: Severity

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "severity": self.severity.value}
