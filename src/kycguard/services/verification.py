"""``/verify``: document + selfie in, graduated and explained decision out, stored.

Order of work: decode and validate everything first (bad input fails before any model runs), find the
faces (unusable images fail with a precise 4xx), then run every check, decide, and store the record
in one transaction. Nothing is written unless the whole verification succeeded.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from kycguard import API_VERSION
from kycguard.decision import rules
from kycguard.decision.engine import decide
from kycguard.decision.findings import Finding, Severity
from kycguard.documents.analyze import DocumentAnalyzer
from kycguard.documents.portrait import Portrait, PortraitFinder, rotate
from kycguard.errors import FaceNotUsable
from kycguard.liveness.passive import PassiveLivenessDetector
from kycguard.security.audit import Actor
from kycguard.security.blobs import verification_images
from kycguard.services.structured_data import parse_structured_data
from kycguard.settings import Settings
from kycguard.store.models import Verification
from kycguard.store.repository import VerificationRepository
from kycguard.vision import quality
from kycguard.vision.detector import MediaPipeFaceDetector
from kycguard.vision.image_io import decode_image, downscale
from kycguard.vision.matcher import FaceMatcher, FaceSample
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
    """Time spent in each stage, in milliseconds, in the order the stages ran."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self.ms: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.ms[name] = round((now - self._last) * 1000, 1)
        self._last = now


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
    ) -> None:
        self.settings = settings
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
    ) -> dict[str, Any]:
        started = time.perf_counter()
        today = today or datetime.now(UTC).date()
        limits = self.settings.limits
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

        laps = Laps()
        selfie_faces = self.detector.detect(selfie_img)
        if not selfie_faces:
            selfie_faces = self.detector.detect(selfie_img, search="pyramid")
        laps.lap("face_detection")
        chosen = select_selfie_face(selfie_faces, self.settings)
        portrait = self.portraits.require(doc_img, self.settings.quality.min_document_face_px)
        laps.lap("document_portrait")

        findings: list[Finding] = []
        selfie_q = quality.assess(
            selfie_img, chosen.face, chosen.face_count, self.settings.quality, document=False
        )
        doc_q = quality.assess(
            portrait.crop,
            portrait.face,
            portrait.faces_on_document,
            self.settings.quality,
            document=True,
        )
        findings += rules.quality_findings(selfie_q, "selfie") + rules.quality_findings(
            doc_q, "document portrait"
        )
        if chosen.ignored_small_faces:
            findings.append(
                Finding(
                    "SMALL_EXTRA_FACE_IN_SELFIE",
                    f"{chosen.ignored_small_faces} much smaller face(s) in the selfie were ignored (a document held up?)",
                    Severity.INFO,
                )
            )

        selfie_sample = FaceSample(selfie_img, chosen.face)
        match = self.matcher.compare(selfie_sample, FaceSample(portrait.crop, portrait.face))
        laps.lap("quality_and_face_match")
        findings += rules.match_findings(match, self.settings)

        # The document checks read the full-resolution upload (OCR of small print, JPEG-grid
        # analysis around the portrait, which resampling would erase), turned upright.
        scale = doc_full.shape[1] / doc_img.shape[1]
        box = portrait.box
        doc_report = self.documents.analyze(
            rotate(doc_full, portrait.rotation),
            structured_data=declared.model_dump(exclude_none=True) if declared else None,
            today=today,
            portrait_box=BoundingBox(
                box.x * scale, box.y * scale, box.width * scale, box.height * scale
            ).as_int(),
        )
        doc = doc_report.to_dict()
        laps.lap("document_checks")
        findings += rules.document_findings(doc)

        liveness = None
        if self.liveness is not None:
            liveness = self.liveness.assess(selfie_img, chosen.face).to_dict()
            laps.lap("passive_liveness")
            findings += rules.liveness_findings(liveness)
        else:
            findings.append(
                Finding(
                    "LIVENESS_NOT_PERFORMED",
                    "passive liveness was not performed on the selfie",
                    Severity.INFO,
                )
            )

        decision = decide(
            {
                "face_match": match.confidence,
                "quality": min(selfie_q.score, doc_q.score),
                "document": doc.get("score"),
                "liveness": liveness["score"] if liveness else None,
            },
            findings,
            self.settings.decision,
        )
        verification_id = str(uuid.uuid4())
        created = datetime.now(UTC)
        result: dict[str, Any] = {
            "verification_id": verification_id,
            "status": decision.status.value,
            "overall_confidence": decision.overall_confidence,
            "face_match": match.to_dict(),
            "quality": {"selfie": selfie_q.to_dict(), "id_document": doc_q.to_dict()},
            "document_authenticity": doc | {"portrait": _portrait_dict(portrait)},
            "warnings": decision.warnings,
            "reasons": decision.reasons,
            "findings": [f.to_dict() for f in decision.findings],
            "recommendation": decision.recommendation,
            "scores": {
                "components": decision.components,
                "before_rules": decision.score_before_rules,
            },
            "thresholds": {
                "approve_at": self.settings.decision.approve_at,
                "review_at": self.settings.decision.review_at,
                "face_match_tolerance": self.settings.face_match.tolerance,
            },
            "created_at": created.isoformat(),
            "api_version": API_VERSION,
        }
        if liveness is not None:
            result["liveness_check"] = liveness
        result["timings_ms"] = laps.ms  # per detector (Prometheus: kycguard_detector_seconds)
        result["processing_time_ms"] = round((time.perf_counter() - started) * 1000, 1)
        self.repository.add(
            Verification(
                id=verification_id,
                created_at=created,
                status=decision.status.value,
                overall_confidence=decision.overall_confidence,
                reasons=decision.reasons,
                result=result,
                selfie_sha256=hashlib.sha256(selfie).hexdigest(),
                document_sha256=hashlib.sha256(id_document).hexdigest(),
                user_id=user_id,
                tenant=tenant,
            ),
            # kept for the reviewer console, encrypted at rest, purged after retention_days
            verification_images(
                selfie, portrait.crop, selfie_sample.embedding(self.matcher.embedder, flip=False)
            ),
            actor,
        )
        return result


def _portrait_dict(p: Portrait) -> dict[str, Any]:
    x, y, w, h = p.box.as_int()
    return {
        "found": True,
        "rotation_degrees": p.rotation,
        "box": [x, y, w, h],
        "contrast_enhanced": p.enhanced,
    }
