"""The graduated decision: approved / manual_review / rejected with a confidence and reasons.

``overall_confidence`` is the weighted mean of the component scores that exist (face match,
image quality, document, liveness; weights in the settings). Then:
1. any REJECT finding (hard rule: clear face mismatch, expired document, no face, ...) -> rejected,
   and the confidence is capped just below the review band so status and number never disagree;
2. confidence >= approve_at and no REVIEW finding -> approved;
3. confidence >= review_at -> manual_review (a REVIEW finding caps the confidence below approve_at);
4. otherwise rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kycguard.decision.findings import Finding, Severity
from kycguard.settings import DecisionSettings


class Status(StrEnum):
    APPROVED = "approved"
    MANUAL_REVIEW = "manual_review"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Decision:
    status: Status
    overall_confidence: float
    score_before_rules: float
    findings: tuple[Finding, ...]
    components: dict[str, float]
    recommendation: str

    @property
    def reasons(self) -> list[str]:
        """Codes of every finding that kept the case from a clean approval, hard rules first."""
        order = {Severity.REJECT: 0, Severity.REVIEW: 1, Severity.INFO: 2}
        ranked = sorted(
            (f for f in self.findings if f.severity is not Severity.INFO),
            key=lambda f: order[f.severity],
        )
        return list(dict.fromkeys(f.code for f in ranked))

    @property
    def warnings(self) -> list[str]:
        return [f.message for f in self.findings]


def decide(
    components: dict[str, float | None], findings: list[Finding], settings: DecisionSettings
) -> Decision:
    weights = {
        "face_match": settings.weight_face_match,
        "quality": settings.weight_quality,
        "document": settings.weight_document,
        "liveness": settings.weight_liveness,
    }
    present = {k: float(v) for k, v in components.items() if v is not None}
    total = sum(weights.get(k, 0.0) for k in present)
    score = sum(weights.get(k, 0.0) * v for k, v in present.items()) / total if total else 0.0
    score = round(score, 1)

    severities = {f.severity for f in findings}
    if Severity.REJECT in severities:
        status, confidence = Status.REJECTED, min(score, max(0.0, settings.review_at - 0.1))
    elif score >= settings.approve_at and Severity.REVIEW not in severities:
        status, confidence = Status.APPROVED, score
    elif score >= settings.review_at:
        status, confidence = Status.MANUAL_REVIEW, min(score, settings.approve_at - 0.1)
    else:
        status, confidence = Status.REJECTED, score
    return Decision(
        status=status,
        overall_confidence=round(confidence, 1),
        score_before_rules=score,
        findings=tuple(findings),
        components={k: round(v, 1) for k, v in present.items()},
        recommendation=_recommend(status, findings),
    )


def _recommend(status: Status, findings: list[Finding]) -> str:
    hard = [f for f in findings if f.severity is Severity.REJECT]
    soft = [f for f in findings if f.severity is Severity.REVIEW]
    if status is Status.APPROVED:
        return "Approve: the selfie matches the document and every check passed."
    if status is Status.MANUAL_REVIEW:
        why = "; ".join(f.message for f in soft) or "the confidence is in the review band"
        return f"Send to a reviewer: {why}."
    if hard:
        return "Reject: " + "; ".join(f.message for f in hard) + "."
    why = "; ".join(f.message for f in soft)
    return "Reject, or ask the customer to try again with better photos" + (
        f": {why}." if why else "."
    )
