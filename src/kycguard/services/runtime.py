"""Everything a process loads once: models, database, services. Built from the settings.

The API keeps one :class:`Runtime` in ``app.state``; the CLI opens one per command. Loading the models
takes ~1 s, so nothing else ever constructs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from kycguard.alerts.service import AlertService
from kycguard.decision.calibration import Calibration
from kycguard.documents.analyze import DocumentAnalyzer
from kycguard.documents.portrait import PortraitFinder
from kycguard.events import CaseDecided, EventBus, KnownFaceMatched, ReviewDecided
from kycguard.jobs import PeriodicJob
from kycguard.liveness.passive import PassiveLivenessDetector
from kycguard.metrics.service import MetricsService
from kycguard.policies.apply import PolicyResolver
from kycguard.policies.experiments import ExperimentService
from kycguard.policies.service import PolicyService
from kycguard.policies.tuning_service import TuningService
from kycguard.reviews.service import ReviewService
from kycguard.scale.executor import limit_native_threads
from kycguard.scale.guard import check_shared_state
from kycguard.scale.runtime import ScaleRuntime
from kycguard.security.frames import EncryptedFrameStore
from kycguard.security.runtime import SecurityRuntime, build_security, prepare_data_dir
from kycguard.services.verification import VerificationService
from kycguard.sessions.service import SessionService
from kycguard.settings import Settings, get_settings
from kycguard.store.database import Database, upgrade
from kycguard.store.repository import VerificationRepository
from kycguard.vision.detector import MediaPipeDetectorOptions, MediaPipeFaceDetector
from kycguard.vision.embedder import DlibEmbedder, FaceEmbedder, OnnxEmbedder, OnnxEmbedderOptions
from kycguard.vision.landmarker import FaceLandmarkerOptions
from kycguard.vision.matcher import FaceMatcher, FaceMatcherOptions
from kycguard.webhooks.service import WebhookService


@dataclass
class Vision:
    detector: MediaPipeFaceDetector
    matcher: FaceMatcher
    portraits: PortraitFinder  # shared by /verify and sessions: one HOG arbiter per process
    model_status: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        self.detector.close()


def build_embedder(settings: Settings) -> tuple[FaceEmbedder, Calibration]:
    m = settings.models
    if m.onnx_embedding_path is not None:
        onnx = OnnxEmbedder.create_from_options(
            OnnxEmbedderOptions(
                m.onnx_embedding_path, m.onnx_embedding_sha256, m.onnx_embedding_input_size
            )
        )
        return onnx, Calibration.uncalibrated(onnx.name, settings.face_match.tolerance)
    return DlibEmbedder.create(m.dlib_resnet_path), Calibration.default()


def build_vision(settings: Settings) -> Vision:
    detector = MediaPipeFaceDetector.create_from_options(
        MediaPipeDetectorOptions(
            landmarker=FaceLandmarkerOptions(model_path=settings.models.face_landmarker_path)
        )
    )
    embedder, calibration = build_embedder(settings)
    matcher = FaceMatcher(
        FaceMatcherOptions(
            tolerance=settings.face_match.tolerance, refine_band=settings.face_match.refine_band
        ),
        embedder,
        calibration,
    )
    status = {"face_landmarker": "loaded", "face_embedder": f"loaded ({embedder.name})"}
    return Vision(detector, matcher, PortraitFinder.create(detector), model_status=status)


@dataclass
class Runtime:
    """Models, database and services of one process."""

    settings: Settings
    vision: Vision
    database: Database
    verifications: VerificationRepository
    verification: VerificationService
    sessions: SessionService
    security: SecurityRuntime
    scale: ScaleRuntime  # idempotency keys, job leases (kycguard.scale)
    model_status: dict[str, str] = field(default_factory=dict)
    events: EventBus = field(default_factory=EventBus)  # subscribers: alerts, webhooks, reviews
    jobs: list[PeriodicJob] = field(default_factory=list)  # run by kycguard.jobs or a task queue
    alerts: AlertService = field(kw_only=True)
    webhooks: WebhookService = field(kw_only=True)
    reviews: ReviewService | None = None  # the review queue, feedback labels, known faces
    policies: PolicyService | None = None  # versioned decision policies (kycguard.policies)
    experiments: ExperimentService | None = None  # A/B variants: which policy decides a user
    resolver: PolicyResolver | None = None  # the policy version, tier and checks of one case
    tuning: TuningService | None = None  # threshold tuning from labels, the scheduled report

    def health(self) -> dict[str, object]:
        """Ready when the database answers and every model is ``loaded`` or deliberately
        ``inactive`` (not configured); a model that ``failed`` to load makes it 503."""
        try:
            self.database.ping()
            database = "ok"
        except Exception as exc:  # any driver error means "not ready"
            database = f"unreachable: {type(exc).__name__}"
        models = self.vision.model_status | self.model_status
        ready = database == "ok" and all(
            v.startswith("loaded") or v.startswith("inactive") for v in models.values()
        )
        return {"status": "ok" if ready else "degraded", "database": database, "models": models}


def build_reviews(
    settings: Settings,
    database: Database,
    security: SecurityRuntime,
    events: EventBus,
    verifications: VerificationRepository,
) -> ReviewService:
    """The review queue, subscribed to decisions (cases, known faces) and to Prometheus counts."""
    from kycguard.metrics.prometheus import count_decisions
    from kycguard.reviews.known_faces import KnownFaces

    known = KnownFaces(database, security.keyring, settings.reviews.known_face_distance)
    reviews = ReviewService(
        database, security.audit, security.keyring, settings.reviews, events, known, verifications
    )
    events.subscribe(reviews.on_case_decided, CaseDecided)
    events.subscribe(count_decisions, CaseDecided, ReviewDecided)
    return reviews


def build_notifications(
    settings: Settings, database: Database, security: SecurityRuntime, events: EventBus
) -> tuple[AlertService, WebhookService]:
    """Alerts and integrator webhooks, subscribed to the decisions they react to. The FAR rule's
    label provider is connected by whoever stores labels (``alerts.far``)."""
    alerts = AlertService(
        database, settings.alerts, security.audit, pseudonym=security.subjects.ref
    )
    webhooks = WebhookService(database, security.keyring, security.audit, settings.webhooks)
    events.subscribe(alerts.on_case_decided, CaseDecided)
    events.subscribe(alerts.on_known_face, KnownFaceMatched)
    events.subscribe(webhooks.on_case_decided, CaseDecided)
    events.subscribe(webhooks.on_review_decided, ReviewDecided)
    return alerts, webhooks


def load_liveness(settings: Settings) -> tuple[PassiveLivenessDetector, dict[str, str]]:
    """Passive liveness and the real state of its models. A configured MiniFASNet that does not
    load (missing file, wrong hash) leaves the server up but not ready (``/health`` 503, status
    ``failed: ...``), with liveness running on its other cues, so the operator sees why."""
    from kycguard.errors import KycError

    try:
        detector = PassiveLivenessDetector.create_from_options(settings.liveness)
    except (KycError, OSError, ValueError, RuntimeError) as exc:
        without = settings.liveness.model_copy(update={"minifasnet_path": None})
        detector = PassiveLivenessDetector.create_from_options(without)
        return detector, {"passive_liveness": "loaded", "minifasnet": f"failed: {exc}"}
    return detector, {"passive_liveness": "loaded"} | detector.model_status


def document_ocr_status(settings: Settings, documents: DocumentAnalyzer) -> dict[str, str]:
    from kycguard.documents.ocr import tesseract_available

    status = {"document_ocr": f"loaded (rapidocr, {settings.documents.ocr_threads} threads)"}
    if settings.documents.ocr_engine == "rapidocr+tesseract":
        status["tesseract"] = (
            "loaded" if tesseract_available() else "inactive (tesseract not installed)"
        )
    return status


@contextmanager
def open_runtime(settings: Settings | None = None, *, migrate: bool = True) -> Iterator[Runtime]:
    """Load everything once; close it all on exit, whatever happens."""
    settings = settings or get_settings()
    closers: list[Callable[[], None]] = []
    check_shared_state(settings)  # several workers never run on per-process counters
    limit_native_threads(settings.scale.native_threads)
    try:
        prepare_data_dir(settings)
        url = settings.effective_database_url
        if migrate:
            upgrade(url)
        database = Database(url)
        closers.append(database.close)
        security = build_security(settings, database)
        closers.append(security.close)
        policies = PolicyService(database, security.audit, settings)
        policies.bootstrap()  # version 1 of the default policy, once per database
        experiments = ExperimentService(database, security.audit, policies)
        resolver = PolicyResolver(policies, experiments, settings)
        tuning = TuningService(database, security.audit, settings, policies)
        vision = build_vision(settings)
        closers.append(vision.close)
        documents = DocumentAnalyzer.create(settings.documents)
        liveness, liveness_status = load_liveness(settings)
        closers.append(liveness.close)
        events = EventBus()
        scale = ScaleRuntime.build(settings.scale, database, events, security.keyring)
        repository = VerificationRepository(
            database,
            blobs=security.blobs,
            audit=security.audit,
            events=events,
            cipher=security.keyring,  # personal fields of decision records sealed at rest
        )
        repository.seal_legacy()  # records written before migration 0006
        service = VerificationService(
            settings,
            vision.detector,
            vision.portraits,
            vision.matcher,
            documents,
            liveness,
            repository,
            resolver,
        )
        sessions = SessionService.build(
            settings,
            vision.detector,
            vision.portraits,
            vision.matcher,
            liveness,
            database,
            repository,
            EncryptedFrameStore(database, security.keyring),  # kept images encrypted at rest
            audit=security.audit,
            lockout=security.lockout,
            events=events,
            documents=documents,
            policies=resolver,
        )
        alerts, webhooks = build_notifications(settings, database, security, events)
        reviews = build_reviews(settings, database, security, events, repository)
        alerts.far = MetricsService(database).labelled_accepts  # labels feed the FAR health rule
        yield Runtime(
            settings,
            vision,
            database,
            repository,
            service,
            sessions,
            security,
            scale,
            document_ocr_status(settings, documents)
            | liveness_status
            | {"security": security.status()},
            events=events,
            jobs=security.jobs() + alerts.jobs() + webhooks.jobs() + scale.jobs() + tuning.jobs(),
            alerts=alerts,
            webhooks=webhooks,
            reviews=reviews,
            policies=policies,
            experiments=experiments,
            resolver=resolver,
            tuning=tuning,
        )
    finally:
        for close in reversed(closers):
            close()
