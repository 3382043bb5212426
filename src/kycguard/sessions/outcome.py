"""A finished session -> the graduated decision ``/verify`` gives, through the same engine and codes.

What is judged, from the state and the few kept images only:
- the challenges: all passed, in order, each within its time limit (a time-out never passes);
- the same person throughout: every kept face (frontal template frames, one per passed challenge)
  close to the template, the mean embedding of the sharpest frontal frames;
- the face against the ID document's portrait when one was uploaded, with that multi-frame template;
  without a document portrait the session proves a live person, not an identity, and is never
  approved (IDENTITY_NOT_VERIFIED); the document must show identity data (``decision.evidence``);
- image quality of the best frame, with ``/verify``'s quality checks;
- passive liveness, deepfake and injection cues of the recent frames (``liveness.sequence``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from kycguard.decision.engine import Decision, decide
from kycguard.decision.evidence import DocumentEvidence, document_evidence, evidence_findings
from kycguard.decision.findings import Finding, Severity
from kycguard.decision.rules import match_findings, quality_findings, sequence_findings
from kycguard.liveness.passive import PassiveLivenessDetector
from kycguard.liveness.sequence import assess_sequence
from kycguard.liveness.types import FrameSample
from kycguard.settings import Settings
from kycguard.vision import quality
from kycguard.vision.detector import FaceDetector
from kycguard.vision.matcher import FaceMatcher, FaceSample, MatchResult


@dataclass(frozen=True)
class Judgement:
    decision: Decision
    report: dict[str, Any]
    identity_verified: bool  # matched to the portrait of a document whose identity data was read


def linked_identity_read(result: dict[str, Any]) -> bool:
    """Did the linked verification read identity data from its document? Its stored evidence, or
    (records older than the evidence rules) the evidence derived again from its document report."""
    doc = result.get("document_authenticity") or {}
    stored = doc.get("identity_evidence")
    if isinstance(stored, dict):
        return stored.get("source") is not None
    return document_evidence(doc, 0.0).identity_read


class SessionJudge:
    def __init__(
        self,
        settings: Settings,
        detector: FaceDetector,
        matcher: FaceMatcher,
        passive: PassiveLivenessDetector | None,
    ) -> None:
        self.settings = settings
        self.detector = detector
        self.matcher = matcher
        self.passive = passive

    def judge(
        self, state: dict[str, Any], images: dict[str, bytes], linked: dict[str, Any] | None
    ) -> Judgement:
        findings: list[Finding] = []
        challenge_score, challenge_report = self._challenges(state, findings)
        samples = {
            k: s
            for k, v in images.items()
            if k.startswith(("best/", "challenge/", "document"))
            and (s := self._sample(v)) is not None
        }
        template = [samples[k] for k in sorted(samples) if k.startswith("best/")]
        report: dict[str, Any] = {"challenges": challenge_report}
        report["same_person"] = self._identity(template, samples, findings)
        portrait = samples.get("document")
        identity_read = self._evidence(portrait, state.get("document"), linked, findings)
        match = self._document(template, portrait, linked, findings)
        quality_score = self._quality(template, findings, report)
        sequence = self._sequence(state, images, findings)
        liveness_score = challenge_score
        if sequence is not None:
            liveness_score = min(challenge_score, sequence["liveness_score"])
            report["liveness_check"] = sequence
        counts = state["counts"]
        if counts["multiple_faces"] >= max(3, 0.05 * counts["frames"]):
            findings.append(
                Finding(
                    "MULTIPLE_FACES_DURING_SESSION",
                    f"{counts['multiple_faces']} of {counts['frames']} frames showed more than one person",
                    Severity.REVIEW,
                )
            )
        if match is not None:
            against = (
                f"document portrait of verification {linked['verification_id']}"
                if linked is not None
                else "ID document uploaded with the session"
            )
            report["face_match"] = match.to_dict() | {
                "template_frames": len(template),
                "against": against,
            }
        document = state.get("document") or {}
        if document.get("score") is not None:
            report["document_authenticity"] = {"score": document["score"]}
        decision = decide(
            {
                "face_match": match.confidence if match is not None else None,
                "quality": quality_score,
                "document": document.get("score"),
                "liveness": liveness_score,
            },
            findings,
            self.settings.decision,
        )
        report["liveness_passed"] = state["phase"] == "passed" and not any(
            f.code in ("LIVENESS_FAILED", "DEEPFAKE_SUSPECTED", "INJECTION_SUSPECTED")
            for f in findings
        )
        verified = identity_read and match is not None and match.is_match
        return Judgement(decision, report, verified)

    # -- parts -----------------------------------------------------------------------------------

    def _challenges(
        self, state: dict[str, Any], findings: list[Finding]
    ) -> tuple[float, list[dict[str, Any]]]:
        results = state["results"]
        total = len(results)
        passed = sum(r["status"] == "passed" for r in results)
        s = self.settings.sessions
        if state["phase"] == "failed":
            failed = next(r for r in results if r["status"] == "failed")
            findings.append(
                Finding(
                    "CHALLENGE_FAILED",
                    f"the '{failed['challenge']}' challenge was not done within {s.challenge_timeout_s:g} s "
                    f"({state['failed_attempts']} timed-out attempts in the session)",
                    Severity.REJECT,
                )
            )
        elif state["phase"] != "passed":
            what = (
                "no steady, frontal face was ever seen to start the challenges"
                if state["phase"] == "baseline"
                else f"{passed} of {total} challenges were done when the session was completed"
            )
            findings.append(Finding("CHALLENGES_INCOMPLETE", what, Severity.REJECT))
        retried = [
            r["challenge"] for r in results if r.get("timed_out") and r["status"] == "passed"
        ]
        if retried:
            findings.append(
                Finding(
                    "CHALLENGE_RETRIED",
                    f"challenge(s) {', '.join(retried)} passed only after a timed-out attempt",
                    Severity.INFO,
                )
            )
        report = [
            {
                k: r[k]
                for k in ("challenge", "status", "attempts", "seconds", "onset_s", "evidence")
                if k in r
            }
            for r in results
        ]
        return (100.0 * passed / total if total else 0.0), report

    def _sample(self, data: bytes) -> FaceSample | None:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            return None
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        faces = self.detector.detect(rgb)
        return FaceSample(rgb, faces[0]) if faces else None

    def _identity(
        self, template: list[FaceSample], samples: dict[str, FaceSample], findings: list[Finding]
    ) -> dict[str, Any]:
        fm = self.settings.face_match
        if not template:
            findings.append(
                Finding(
                    "NO_FACE_TEMPLATE",
                    "no sharp frontal frame was kept: the same-person check and face match were not possible",
                    Severity.REVIEW,
                )
            )
            return {"checked": False}
        emb = self.matcher.embedder
        centre = np.mean([t.embedding(emb, flip=False) for t in template], axis=0)
        checked = [k for k in sorted(samples) if k.startswith(("best/", "challenge/"))]
        distances = {
            k: round(float(np.linalg.norm(samples[k].embedding(emb, flip=False) - centre)), 4)
            for k in checked
        }
        worst_key = max(distances, key=lambda k: distances[k])
        worst = distances[worst_key]
        if worst >= fm.clear_mismatch_distance:
            findings.append(
                Finding(
                    "FACE_CHANGED_DURING_SESSION",
                    f"the face in frame '{worst_key}' is not the person of the rest of the session "
                    f"(distance {worst:.3f} >= {fm.clear_mismatch_distance})",
                    Severity.REJECT,
                )
            )
        elif worst > fm.tolerance:
            findings.append(
                Finding(
                    "IDENTITY_UNCERTAIN_DURING_SESSION",
                    f"the face in frame '{worst_key}' is not clearly the same person (distance {worst:.3f} > {fm.tolerance})",
                    Severity.REVIEW,
                )
            )
        return {
            "checked": True,
            "frames": len(distances),
            "max_distance": worst,
            "threshold": fm.tolerance,
            "distances": distances,
        }

    def _evidence(
        self,
        portrait: FaceSample | None,
        document: dict[str, Any] | None,
        linked: dict[str, Any] | None,
        findings: list[Finding],
    ) -> bool:
        """Is there a document whose identity data was read, with a portrait to match? A rejected
        linked verification rejects the session; no portrait holds it (liveness is not identity)."""
        if linked is not None and linked["status"] == "rejected":
            findings.append(
                Finding(
                    "LINKED_VERIFICATION_REJECTED",
                    f"the linked verification {linked['verification_id']} was rejected",
                    Severity.REJECT,
                )
            )
        if portrait is None:
            why = (
                f"the linked verification {linked['verification_id']} no longer keeps its document "
                "portrait (erased or past retention)"
                if linked is not None
                else "no ID document was given"
            )
            findings.append(
                Finding(
                    "IDENTITY_NOT_VERIFIED",
                    f"identity not verified: {why}, so the face was matched to no document; the "
                    "session proves a live person, not whose face it is",
                    Severity.REVIEW,
                )
            )
            return False
        if linked is not None:
            if not linked["identity_read"] and linked["status"] != "rejected":
                findings.append(
                    Finding(
                        "DOCUMENT_NOT_RECOGNISED",
                        f"the linked verification {linked['verification_id']} read no identity "
                        "data from its document: the face match alone does not prove an identity",
                        Severity.REVIEW,
                    )
                )
            return bool(linked["identity_read"])
        if document is None:  # a session created before documents were analysed
            findings.append(
                Finding(
                    "DOCUMENT_NOT_RECOGNISED",
                    "the session's document was not analysed: no identity data",
                    Severity.REVIEW,
                )
            )
            return False
        evidence = DocumentEvidence(**document["evidence"])
        findings.extend(evidence_findings(evidence, self.settings.evidence))
        findings.extend(
            Finding(f["code"], f["message"], Severity(f["severity"])) for f in document["findings"]
        )
        return evidence.identity_read

    def _document(
        self,
        template: list[FaceSample],
        portrait: FaceSample | None,
        linked: dict[str, Any] | None,
        findings: list[Finding],
    ) -> MatchResult | None:
        if portrait is None:
            return None
        if not template:
            return None
        emb = self.matcher.embedder
        centre = np.mean([t.embedding(emb, flip=True) for t in template], axis=0)
        distance = float(np.linalg.norm(centre - portrait.embedding(emb, flip=True)))
        match = MatchResult(
            distance=distance,
            confidence=self.matcher.calibration.confidence(distance),
            threshold=self.matcher.options.tolerance,
            is_match=distance <= self.matcher.options.tolerance,
            refined=True,
            model=emb.name,
            calibrated=self.matcher.calibration.fitted_on != "uncalibrated",
        )
        findings.extend(match_findings(match, self.settings))
        return match

    def _quality(
        self, template: list[FaceSample], findings: list[Finding], report: dict[str, Any]
    ) -> float | None:
        if not template:
            return None
        best = max(template, key=lambda t: t.face.size)
        q = quality.assess(best.image, best.face, 1, self.settings.quality, document=False)
        findings.extend(quality_findings(q, "best session frame"))
        report["quality"] = q.to_dict()
        return q.score

    def _sequence(
        self, state: dict[str, Any], images: dict[str, bytes], findings: list[Finding]
    ) -> dict[str, Any] | None:
        frames: list[FrameSample] = []
        for entry in state.get("ring", []):
            data = images.get(entry["key"])
            if data is None:
                continue
            bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if bgr is None:
                continue
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            faces = self.detector.detect(rgb)
            frames.append(
                FrameSample(
                    rgb, faces[0] if faces else None, entry["client_ms"], entry["server_ms"]
                )
            )
        if not frames:
            findings.append(
                Finding(
                    "SEQUENCE_LIVENESS_NOT_PERFORMED",
                    "no frames were kept for passive liveness and deepfake analysis",
                    Severity.REVIEW,  # a check that did not run never approves,
                )
            )
            return None
        onsets = [
            float(r["onset_s"])
            for r in state["results"]
            if r["status"] == "passed" and "onset_s" in r
        ]
        assessed = assess_sequence(
            frames,
            self.settings.liveness,
            embedder=self.matcher.embedder,
            passive=self.passive,
            onsets_s=onsets or None,
        ).to_dict()
        findings.extend(sequence_findings(assessed, self.settings.evidence))
        return assessed
