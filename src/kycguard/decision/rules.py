"""Turning check results into findings: the rules ``/verify`` and video sessions share.

Each function reads one check's result and says what it means for the decision (a stable reason
code, a message for the reviewer, a severity); the thresholds come from the settings.
"""

from __future__ import annotations

from typing import Any

from kycguard.decision.config import EvidenceSettings
from kycguard.decision.findings import Finding, Severity
from kycguard.settings import Settings
from kycguard.vision import quality
from kycguard.vision.matcher import MatchResult

_QUALITY_CODES = {
    "blur": ("IMAGE_TOO_BLURRY", "is blurred"),
    "exposure": ("POOR_EXPOSURE", "is badly exposed"),
    "face_size": ("FACE_TOO_SMALL", "shows the face too small"),
    "pose": ("POSE_NOT_FRONTAL", "is not frontal"),
}


def quality_findings(report: quality.QualityReport, what: str) -> list[Finding]:
    out = []
    for c in report.checks:
        if not c.passed:
            code, text = _QUALITY_CODES[c.name]
            out.append(Finding(code, f"the {what} {text} ({c.detail})", Severity.REVIEW))
    return out


def match_findings(match: MatchResult, settings: Settings) -> list[Finding]:
    fm = settings.face_match
    if match.distance >= fm.clear_mismatch_distance:
        return [
            Finding(
                "FACE_MISMATCH",
                f"the selfie does not match the document portrait (distance {match.distance:.3f} >= {fm.clear_mismatch_distance})",
                Severity.REJECT,
            )
        ]
    if not match.is_match:
        return [
            Finding(
                "FACE_MATCH_UNCERTAIN",
                f"the selfie and the document portrait are not clearly the same person (distance {match.distance:.3f} > {fm.tolerance})",
                Severity.REVIEW,
            )
        ]
    out = []
    if not match.calibrated:
        out.append(
            Finding(
                "FACE_MATCH_UNCALIBRATED",
                f"face match confidence is not calibrated for model {match.model}",
                Severity.INFO,
            )
        )
    return out


def document_findings(doc: dict[str, Any], min_score: float) -> list[Finding]:
    """Each document check's reason codes, as hard as the check itself says it is; and a review
    when the authenticity score is below ``min_score`` (``decision.min_authenticity_score``,
    the seed's ``authenticity_score_min``) even though no single check failed hard."""
    out: list[Finding] = []
    score = doc.get("score")
    if isinstance(score, int | float) and score < min_score:
        out.append(
            Finding(
                "DOCUMENT_AUTHENTICITY_LOW",
                f"the document's authenticity score {score:.0f} is below {min_score:.0f}",
                Severity.REVIEW,
            )
        )
    seen: set[str] = set()
    for check in doc.get("checks", []):
        for code in check.get("reason_codes", []):
            if code in seen:
                continue
            seen.add(code)
            if code in _INFO_DOCUMENT_CODES:
                severity = Severity.INFO
            elif check.get("hard_reject"):
                severity = Severity.REJECT
            else:
                severity = Severity.REVIEW
            out.append(Finding(str(code), check.get("detail") or str(code), severity))
    out += [
        Finding(code, code.replace("_", " ").lower(), Severity.REVIEW)
        for code in doc.get("reasons", [])
        if code not in seen
    ]
    return out


# Absence of an MRZ is normal for ID cards photographed on the portrait side only.
_INFO_DOCUMENT_CODES = {"MRZ_NOT_FOUND"}


def liveness_findings(live: dict[str, Any]) -> list[Finding]:
    """Passive liveness of a selfie: a confident attack verdict rejects, an unsure one holds."""
    verdict = live.get("verdict")
    if verdict == "attack":
        return [
            Finding(
                "LIVENESS_FAILED",
                "liveness check failed: the selfie looks like a photo of a photo or of a screen "
                f"(liveness score {live.get('score')})",
                Severity.REJECT,
            )
        ]
    if verdict == "uncertain":
        return [
            Finding(
                "LIVENESS_UNCERTAIN",
                "liveness check inconclusive: passive liveness could not confirm a live person",
                Severity.REVIEW,
            )
        ]
    return []


def sequence_findings(assessed: dict[str, Any], settings: EvidenceSettings) -> list[Finding]:
    """Presentation-attack, deepfake and injection verdicts of a session's frames: a confident
    attack verdict of any of the three rejects; an unsure one holds the case for review."""
    verdicts = assessed["verdicts"]
    out: list[Finding] = []
    if verdicts["liveness"] == "attack":
        out.append(
            Finding(
                "LIVENESS_FAILED",
                "liveness check failed: the session frames look like a photo or a screen "
                f"(sequence liveness {assessed['liveness_score']})",
                Severity.REJECT,
            )
        )
    elif verdicts["liveness"] == "uncertain":
        out.append(
            Finding(
                "SEQUENCE_LIVENESS_UNCERTAIN",
                "liveness check inconclusive: passive cues of the recent frames could not confirm "
                f"a live person (score {assessed['liveness_score']})",
                Severity.REVIEW,
            )
        )
    if verdicts["deepfake"] == "fake":
        score = assessed["deepfake_score"]
        confident = score >= settings.deepfake_reject_at
        out.append(
            Finding(
                "DEEPFAKE_SUSPECTED" if confident else "DEEPFAKE_UNCERTAIN",
                f"the face shows synthetic-face artefacts (deepfake score {score}"
                + (
                    ""
                    if confident
                    else f", below the {settings.deepfake_reject_at:g} of a sure verdict"
                )
                + ")",
                Severity.REJECT if confident else Severity.REVIEW,
            )
        )
    if verdicts["injection"] == "injected":
        score = assessed["injection_score"]
        confident = score >= settings.injection_reject_at
        out.append(
            Finding(
                "INJECTION_SUSPECTED" if confident else "INJECTION_UNCERTAIN",
                f"the frames look like a replayed or injected stream (injection score {score}"
                + (
                    ""
                    if confident
                    else f", below the {settings.injection_reject_at:g} of a sure verdict"
                )
                + ")",
                Severity.REJECT if confident else Severity.REVIEW,
            )
        )
    return out
