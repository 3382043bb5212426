"""``/verify``: document + selfie in, graduated and explained decision out, stored.

Order of work: decode and validate everything first (bad input fails before any model runs), find the
faces (unusable images fail with a precise 4xx), then run every check, decide, and store the record
in one transaction. Nothing is written unless the whole verification succeeded.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from kycguard.decision import rules
from kycguard.decision.engine import decide
from kycguard.decision.evidence import document_evidence, evidence_findings
from kycguard.decision.findings import Finding, Severity
from kycguard.decision.record import build_record
from kycguard.decision.reuse import check_reuse, reuse_findings
from kycguard.documents.analyze import DocumentAnalyzer
from kycguard.documents.portrait import Portrait, PortraitFinder, rotate
from kycguard.errors import FaceNotUsable
from kycguard.liveness.passive import PassiveLivenessDetector
from kycguard.policies.apply import AppliedPolicy, PolicyResolver, RiskInput, RuleOutcome
from kycguard.scale.executor import release_memory
from kycguard.security.audit import Actor
from kycguard.security.blobs import verification_images
from kycguard.services.structured_data import parse_structured_data
from kycguard.settings import Settings
from kycguard.store.models import Verification
from kycguard.store.repository import VerificationRepository
from kycguard.vision import quality
from kycguard.vision.detector import MediaPipeFaceDetector
from kycguard.vision.image_io import decode_image, downscale
from kycguard.vision.matcher import FaceMatcher, FaceSample, MatchResult
from kycguard.vision.types import BoundingBox, Face


@dataclass(frozen=True)
class SelfieFace:
    face: Face
    face_count: int
    ignored_small_faces: int


def select_selfie_face(faces: list[Face], settings: Settings) -> SelfieFace:
    """The one face of the person taking the selfie, or a precise error.

    A face much smaller than the largest (a printed portrait on a card held up, a passer-by far
    behind) does not count as a second person; it is reported as a warning instead.
    """
    q = settings.quality
    if not faces:
        raise FaceNotUsable(
            "no face was found in the selfie: the whole face must be visible, facing the camera",
            code="NO_FACE_IN_SELFIE",
            field="selfie",
        )
    largest = faces[0]
    competing = [f for f in faces if f.size >= q.secondary_face_ratio * largest.size]
    if len(competing) > 1:
        raise FaceNotUsable(
            f"{len(competing)} faces were found in the selfie; exactly one person may be in the picture",
            code="MULTIPLE_FACES_IN_SELFIE",
            field="selfie",
            details={"faces": len(competing)},
        )
    if largest.size < q.min_selfie_face_px:
        raise FaceNotUsable(
            f"the face in the selfie is {largest.size:.0f} px wide; at least {q.min_selfie_face_px} px is needed: move closer",
            code="FACE_TOO_SMALL",
            field="selfie",
            details={"face_px": round(largest.size), "min_face_px": q.min_selfie_face_px},
        )
    return SelfieFace(largest, len(competing), len(faces) - len(competing))


class Laps:
    """Time spent in each step, in milliseconds, in the order the steps ran."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self.ms: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.ms[name] = round((now - self._last) * 1000, 1)
        self._last = now


@dataclass
class _Case:
    """One verification as it moves through the steps of :meth:`VerificationService.verify`."""

    id_document: bytes
    selfie: bytes
    declared: dict[str, Any] | None
    today: date
    doc_full: np.ndarray
    doc_img: np.ndarray
    selfie_img: np.ndarray
    chosen: SelfieFace
    portrait: Portrait
    settings: Settings  # the policy's effective settings (document rules may tighten them)
    policy: AppliedPolicy | None = None
    declared_type: str | None = None
    findings: list[Finding] = field(default_factory=list)
    document_rules: list[dict[str, Any]] = field(default_factory=list)
    rules: RuleOutcome | None = None
    sections: dict[str, Any] = field(default_factory=dict)
    components: dict[str, float | None] = field(default_factory=dict)
    identity_read: bool = False
    selfie_sample: FaceSample = field(init=False)

    def __post_init__(self) -> None:
        # one sample: the embedding computed for the match is the one stored (no second ResNet pass)
        self.selfie_sample = FaceSample(self.selfie_img, self.chosen.face)


class VerificationService:
    def __init__(
        self,
        settings: Settings,
        detector: MediaPipeFaceDetector,
        portraits: PortraitFinder,
        matcher: FaceMatcher,
        documents: DocumentAnalyzer,
        liveness: PassiveLivenessDetector | None,
        repository: VerificationRepository,
        policies: PolicyResolver | None = None,
    ) -> None:
        self.settings = settings
        self.policies = policies  # None: the settings as they are, no policy block
        self.detector = detector
        self.portraits = portraits
        self.matcher = matcher
        self.documents = documents
        self.liveness = liveness
        self.repository = repository

    def verify(
        self,
        id_document: bytes,
        selfie: bytes,
        structured_data: str | bytes | dict[str, Any] | None = None,
        *,
        user_id: str | None = None,
        tenant: str | None = None,
        actor: Actor | None = None,
        today: date | None = None,
        risk: RiskInput | None = None,
        document_type: str | None = None,
        device_ref: str | None = None,
    ) -> dict[str, Any]:
        """Decode and find the faces (a precise 4xx when unusable), run every check the policy
        asks for, decide, store. ``risk``: the caller's risk level or score (policy risk tiers);
        ``document_type``: the declared type document rules may match on; ``device_ref``: the
        lockout's hash of the caller's device id, stored with the record."""
        started = time.perf_counter()
        laps = Laps()
        policy = self.policies.for_case(user_id, risk) if self.policies else None
        case = self._open(
            id_document,
            selfie,
            structured_data,
            today or datetime.now(UTC).date(),
            policy.settings if policy else self.settings,
        )
        case.policy, case.declared_type = policy, document_type
        laps.lap("decode_and_faces")
        self._check_quality(case)
        laps.lap("quality")
        match = self._check_match(case)
        laps.lap("face_match")
        release_memory()  # the text detector's working memory (+77 MiB) comes next: start it low
        self._check_document(case)
        laps.lap("document_checks")
        self._check_reuse(case)
        laps.lap("reuse")
        self._check_liveness(case)
        laps.lap("passive_liveness")
        if policy is not None and policy.require_video_session:
            case.findings.append(video_session_required(policy))
        decision = decide(case.components, case.findings, case.settings.decision)
        verification_id = str(uuid.uuid4())
        created = datetime.now(UTC)
        result = build_record(
            {"verification_id": verification_id},
            decision,
            case.sections,
            case.settings,
            identity_verified=case.identity_read and match.is_match,
            tail={"created_at": created.isoformat()},
            policy=policy.record(case.document_rules) if policy else None,
        )
        result["timings_ms"] = laps.ms  # per step (Prometheus: kycguard_detector_seconds)
        result["processing_time_ms"] = round((time.perf_counter() - started) * 1000, 1)
        self._store(case, result, created, user_id, tenant, actor, device_ref)
        return result

    # -- steps -----------------------------------------------------------------------------------

    def _open(
        self,
        id_document: bytes,
        selfie: bytes,
        structured_data: str | bytes | dict[str, Any] | None,
        today: date,
        settings: Settings,
    ) -> _Case:
        """Everything decoded and validated, both faces found: bad input fails before any check."""
        limits = settings.limits
        declared = parse_structured_data(structured_data)
        doc_full, selfie_full = (
            decode_image(
                data,
                field=name,
                max_bytes=limits.max_upload_bytes,
                max_pixels=limits.max_pixels,
                min_side=limits.min_side_px,
            )
            for name, data in (("id_document", id_document), ("selfie", selfie))
        )
        doc_img = downscale(doc_full, limits.analysis_max_side_px)
        selfie_img = downscale(selfie_full, limits.analysis_max_side_px)
        selfie_faces = self.detector.detect(selfie_img)
        if not selfie_faces:
            selfie_faces = self.detector.detect(selfie_img, search="pyramid")
        chosen = select_selfie_face(selfie_faces, settings)
        portrait = self.portraits.require(doc_img, settings.quality.min_document_face_px)
        return _Case(
            id_document,
            selfie,
            declared.model_dump(exclude_none=True) if declared else None,
            today,
            doc_full,
            doc_img,
            selfie_img,
            chosen,
            portrait,
            settings,
        )

    def _check_quality(self, case: _Case) -> None:
        q, chosen, portrait = case.settings.quality, case.chosen, case.portrait
        selfie_q = quality.assess(
            case.selfie_img, chosen.face, chosen.face_count, q, document=False
        )
        doc_q = quality.assess(
            portrait.crop, portrait.face, portrait.faces_on_document, q, document=True
        )
        case.findings += rules.quality_findings(selfie_q, "selfie")
        case.findings += rules.quality_findings(doc_q, "document portrait")
        if chosen.ignored_small_faces:
            case.findings.append(
                Finding(
                    "SMALL_EXTRA_FACE_IN_SELFIE",
                    f"{chosen.ignored_small_faces} much smaller face(s) in the selfie were ignored (a document held up?)",
                    Severity.INFO,
                )
            )
        case.sections["quality"] = {"selfie": selfie_q.to_dict(), "id_document": doc_q.to_dict()}
        case.components["quality"] = min(selfie_q.score, doc_q.score)

    def _check_match(self, case: _Case) -> MatchResult:
        portrait = case.portrait
        matcher = case.policy.matcher(self.matcher) if case.policy else self.matcher
        match = matcher.compare(case.selfie_sample, FaceSample(portrait.crop, portrait.face))
        case.findings += rules.match_findings(match, case.settings)
        case.sections["face_match"] = match.to_dict()
        case.components["face_match"] = match.confidence
        return match

    def _check_document(self, case: _Case) -> None:
        """Read and check the document, then ask whether its identity data was read at all."""
        # The document checks read the full-resolution upload (OCR of small print, JPEG-grid
        # analysis around the portrait, which resampling would erase), turned upright.
        portrait = case.portrait
        scale = case.doc_full.shape[1] / case.doc_img.shape[1]
        box = portrait.box
        doc = self.documents.analyze(
            rotate(case.doc_full, portrait.rotation),
            structured_data=case.declared,
            today=case.today,
            portrait_box=BoundingBox(
                box.x * scale, box.y * scale, box.width * scale, box.height * scale
            ).as_int(),
            tamper=case.policy is None or case.policy.runs("document_tampering"),
        ).to_dict()
        findings = self._document_rules(case, doc)
        findings += rules.document_findings(doc, case.settings.decision.min_authenticity_score)
        evidence = document_evidence(doc, box.width / portrait.document.shape[1])
        findings += evidence_findings(evidence, case.settings.evidence)
        case.findings += case.rules.findings(findings) if case.rules else findings
        case.identity_read = evidence.identity_read
        case.sections["document_authenticity"] = doc | {
            "portrait": _portrait_dict(portrait),
            "identity_evidence": evidence.to_dict(),
        }
        case.components["document"] = doc.get("score")

    def _document_rules(self, case: _Case, doc: dict[str, Any]) -> list[Finding]:
        """The policy's rules for this document type: they may change the decision's and the
        evidence thresholds from here on, waive reason codes, or hold the case for review."""
        if case.policy is None:
            return []
        case.rules = case.policy.document_rules(doc, case.declared_type)
        case.settings = case.rules.settings
        case.document_rules = case.rules.explained
        return [
            Finding(
                "DOCUMENT_RULE_APPLIED",
                f"document rule {r['rule']}: {r['explanation']}",
                Severity.INFO,
            )
            for r in case.rules.explained
        ]

    def _check_reuse(self, case: _Case) -> None:
        reuse = check_reuse(
            case.selfie_img,
            case.chosen.face,
            case.doc_img,
            case.portrait.crop,
            case.portrait.face,
            case.settings.evidence,
        )
        case.findings += reuse_findings(reuse)
        case.sections["image_reuse"] = reuse.to_dict()

    def _check_liveness(self, case: _Case) -> None:
        skipped = case.policy is not None and not case.policy.runs("passive_liveness")
        if self.liveness is None or skipped:
            why = " (the decision policy skips it)" if skipped else ""
            case.findings.append(
                Finding(
                    "LIVENESS_NOT_PERFORMED",
                    f"passive liveness was not performed on the selfie{why}",
                    Severity.REVIEW,  # a check that did not run never approves,
                )
            )
            case.components["liveness"] = None
            return
        assessed = self.liveness.assess(case.selfie_img, case.chosen.face)
        # the detector is built once at start; the verdict bands are this case's policy's
        bands = case.settings.liveness
        liveness = replace(
            assessed, threshold=bands.live_threshold, attack_threshold=bands.attack_threshold
        ).to_dict()
        case.findings += rules.liveness_findings(liveness)
        case.sections["liveness_check"] = liveness
        case.components["liveness"] = liveness["score"]

    def _store(
        self,
        case: _Case,
        result: dict[str, Any],
        created: datetime,
        user_id: str | None,
        tenant: str | None,
        actor: Actor | None,
        device_ref: str | None = None,
    ) -> None:
        self.repository.add(
            Verification(
                id=result["verification_id"],
                created_at=created,
                status=result["status"],
                overall_confidence=result["overall_confidence"],
                reasons=result["reasons"],
                result=result,
                selfie_sha256=hashlib.sha256(case.selfie).hexdigest(),
                document_sha256=hashlib.sha256(case.id_document).hexdigest(),
                user_id=user_id,
                tenant=tenant,
                device_ref=device_ref,
            ),
            # kept for the reviewer console, encrypted at rest, purged after retention_days
            verification_images(
                case.selfie,
                case.portrait.crop,
                case.selfie_sample.embedding(self.matcher.embedder, flip=False),
            ),
            actor,
        )


def video_session_required(policy: AppliedPolicy) -> Finding:
    """The high-risk rule: a photo pair alone cannot approve this case."""
    return Finding(
        "VIDEO_SESSION_REQUIRED",
        f"risk tier {policy.tier} of policy {policy.view.name} v{policy.view.version} requires "
        "a video session: create one with this verification_id (POST /api/v1/sessions) and "
        "let it decide",
        Severity.REVIEW,
    )


def _portrait_dict(p: Portrait) -> dict[str, Any]:
    x, y, w, h = p.box.as_int()
    return {
        "found": True,
        "rotation_degrees": p.rotation,
        "box": [x, y, w, h],
        "contrast_enhanced": p.enhanced,
    }
