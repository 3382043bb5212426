"""The one record builder: what ``/verify`` and a completed video session answer and store.

Both flows decide with :func:`kycguard.decision.engine.decide` and hand the decision and their check
sections here, so the status, the explanation fields and the seed clients' fields (``message``,
``errors``, ``confidence``, ``liveness_check.liveness_score`` on 0-1,
``document_authenticity.authenticity_score`` on 0-100) are written in one place.
"""

from __future__ import annotations

from typing import Any

from kycguard import API_VERSION
from kycguard.decision.engine import Decision, Status
from kycguard.decision.findings import Severity
from kycguard.settings import Settings

# One plain sentence for the end user, by the reason that decided the case (first match wins).
_MESSAGES: dict[str, str] = {
    "SELFIE_REUSED_FROM_DOCUMENT": "The selfie is the picture from your ID document; please take a new photo of yourself.",
    "NOT_AN_IDENTITY_DOCUMENT": "The document photo does not show an identity document; please photograph your ID card or passport.",
    "LIVENESS_FAILED": "We could not confirm that a live person took part; please try again yourself, in good light.",
    "DEEPFAKE_SUSPECTED": "We could not confirm that the video shows a real face; please try again with your own camera.",
    "INJECTION_SUSPECTED": "We could not confirm that the video comes from a live camera; please try again with your own camera.",
    "FACE_MISMATCH": "The face in the selfie does not match the photo on your ID document.",
    "FACE_CHANGED_DURING_SESSION": "A different person appeared during the video check.",
    "DOCUMENT_EXPIRED": "Your ID document has expired; please use a valid one.",
    "LINKED_VERIFICATION_REJECTED": "Your ID document check was not successful, so the video check cannot verify you.",
    "CHALLENGE_FAILED": "The requested movements were not completed in time; please start again.",
    "CHALLENGES_INCOMPLETE": "The video check was not finished; please start again.",
    "IDENTITY_NOT_VERIFIED": "You passed the liveness check, but your identity is not verified yet: an ID document is needed.",
    "DOCUMENT_NOT_RECOGNISED": "We could not read the identity data on your document; a reviewer will check it.",
}
_BY_STATUS = {
    Status.APPROVED: "Your identity has been verified.",
    Status.MANUAL_REVIEW: "Your verification needs a manual check; we will let you know the result.",
    Status.REJECTED: "We could not verify your identity; please try again.",
}


def message(decision: Decision) -> str:
    if decision.status is Status.APPROVED:
        return _BY_STATUS[Status.APPROVED]
    for code, text in _MESSAGES.items():  # the most telling reason the case has
        if code in decision.reasons:
            return text
    return _BY_STATUS[decision.status]


def errors(decision: Decision) -> list[str]:
    """The failures that rejected or held the case, hard ones first, as sentences."""
    order = {Severity.REJECT: 0, Severity.REVIEW: 1}
    held = [f for f in decision.findings if f.severity in order]
    return [f.message for f in sorted(held, key=lambda f: order[f.severity])]


def build_record(
    head: dict[str, Any],
    decision: Decision,
    sections: dict[str, Any],
    settings: Settings,
    *,
    identity_verified: bool,
    tail: dict[str, Any],
    policy: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``head``: the case's ids; ``sections``: each check's report (``face_match``,
    ``liveness_check``, ``document_authenticity``, ...); ``tail``: times; ``policy``: the policy
    version, risk tier, skipped checks and document rules the case was decided under
    (``kycguard.policies.apply.AppliedPolicy.record``). ``settings``: the effective settings
    (the policy's), so ``thresholds`` are the ones this case was decided with."""
    sections = dict(sections)
    match = sections.get("face_match")
    live = sections.get("liveness_check")
    if isinstance(live, dict):
        score = live.get("score", live.get("liveness_score"))
        if score is not None:
            # the seed's scale (liveness_score_min: 0.65) next to ours (score, 0-100)
            sections["liveness_check"] = live | {
                "score": score,
                "liveness_score": round(float(score) / 100, 3),
            }
    doc = sections.get("document_authenticity")
    if isinstance(doc, dict) and doc.get("score") is not None:
        sections["document_authenticity"] = doc | {"authenticity_score": doc["score"]}
    return {
        **head,
        "status": decision.status.value,
        "overall_confidence": decision.overall_confidence,
        "confidence": match.get("confidence") if isinstance(match, dict) else None,
        "identity_verified": identity_verified,
        "message": message(decision),
        "errors": errors(decision),
        **sections,
        "warnings": decision.warnings,
        "reasons": decision.reasons,
        "findings": [f.to_dict() for f in decision.findings],
        "recommendation": decision.recommendation,
        "scores": {"components": decision.components, "before_rules": decision.score_before_rules},
        "thresholds": {
            "approve_at": settings.decision.approve_at,
            "review_at": settings.decision.review_at,
            "face_match_tolerance": settings.face_match.tolerance,
        },
        **({"policy": policy} if policy is not None else {}),
        **tail,
        "api_version": API_VERSION,
    }
