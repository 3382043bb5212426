"""Video KYC sessions: create, take frames, complete, read, delete. All state in the database.

A frame is checked cheapest first (token, session open, sequence and clocks, replayed bytes) before
any pixel is decoded; then it is analysed without any lock, and the new state, the frame record and
any kept images are written in one transaction that only succeeds if the session row is still at the
version that was read (compare-and-swap). On a lost race the frame is re-checked against the fresh
state (it may now be out of order) and re-applied; its analysis is reused. Nothing half-written
survives an error: the whole transaction rolls back.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import cv2
import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kycguard import API_VERSION
from kycguard.decision.evidence import document_evidence
from kycguard.decision.record import build_record
from kycguard.decision.rules import document_findings
from kycguard.documents.portrait import PortraitFinder, rotate
from kycguard.errors import Conflict, InvalidRequest, KycError
from kycguard.events import CaseDecided, EventBus
from kycguard.liveness.passive import PassiveLivenessDetector
from kycguard.policies.apply import linked_risk
from kycguard.sessions import linked, tokens
from kycguard.sessions.analysis import FrameAnalysis, analyse_image, decode_frame
from kycguard.sessions.challenges import PlaneProbe
from kycguard.sessions.config import Challenge
from kycguard.sessions.frame_store import FrameStore
from kycguard.sessions.guidance import MESSAGES, guidance
from kycguard.sessions.outcome import SessionJudge, linked_identity_read
from kycguard.sessions.planar import FrameProbe, PlanarReference, Region, make_reference
from kycguard.sessions.repository import SessionRepository
from kycguard.sessions.tracker import LIVENESS_SCORE_BASIS, SessionTracker, TrackResult
from kycguard.settings import Settings
from kycguard.store.database import Database
from kycguard.store.repository import VerificationRepository
from kycguard.store.session_models import KycSession, KycSessionFrame
from kycguard.vision.detector import MediaPipeFaceDetector
from kycguard.vision.image_io import decode_image, downscale
from kycguard.vision.matcher import FaceMatcher
from kycguard.vision.types import BoundingBox

if TYPE_CHECKING:
    from kycguard.documents.analyze import DocumentAnalyzer
    from kycguard.policies.apply import AppliedPolicy, PolicyResolver, RiskInput
    from kycguard.security.audit import Actor, AuditLog
    from kycguard.security.ratelimit import LivenessLockout

INSTRUCTIONS = {c: MESSAGES[c.value] for c in Challenge}
_MAX_RACES = 8  # compare-and-swap retries before a frame is refused as SESSION_BUSY
T = TypeVar("T")


@dataclass(frozen=True)
class FrameUpload:
    """A frame as sent. The seed's clients send neither ``sequence`` nor ``timestamp_ms``: the
    server's arrival order and clock stand in (:meth:`on_arrival`), and the order, clock and replay
    checks run on those exactly as on a client's values."""

    data: bytes
    sequence: int | None
    timestamp_ms: float | None  # capture time on the client's clock (any epoch; differences count)

    def on_arrival(self, last_sequence: int) -> ArrivedFrame:
        return ArrivedFrame(
            self.data,
            last_sequence + 1 if self.sequence is None else self.sequence,
            _now_ms() if self.timestamp_ms is None else self.timestamp_ms,
        )


@dataclass(frozen=True)
class ArrivedFrame:
    data: bytes
    sequence: int
    timestamp_ms: float


class _Stale(Exception):
    """Another worker changed the session between our read and our write."""


def _error(message: str, code: str, status: int, **details: Any) -> KycError:
    return KycError(message, code=code, status_code=status, details=details or None)


class SessionService:
    def __init__(
        self,
        settings: Settings,
        detector: MediaPipeFaceDetector,
        portraits: PortraitFinder,
        matcher: FaceMatcher,
        passive: PassiveLivenessDetector | None,
        repository: SessionRepository,
        frames: FrameStore,
        verifications: VerificationRepository,
        *,
        audit: AuditLog | None = None,
        lockout: LivenessLockout | None = None,
        events: EventBus | None = None,
        documents: DocumentAnalyzer | None = None,
        policies: PolicyResolver | None = None,
    ) -> None:
        self.settings = settings
        self.policies = policies  # the policy version pinned at creation decides at completion
        self.documents = documents  # reads an uploaded ID document's identity data
        self.events = events  # decided sessions are published inside the completing transaction
        self.detector = detector
        self.repository = repository
        self.frames = frames
        self.verifications = verifications
        self.audit = audit  # each decision is appended in the completing transaction
        self.lockout = (
            lockout  # a failed liveness outcome counts toward the user's and device's lockout
        )
        self.tracker = SessionTracker(settings.sessions)
        self.portraits = portraits
        self.judge = SessionJudge(settings, detector, matcher, passive)
        d = settings.sessions.detectors
        self._stop_at: dict[Region, float] = {
            "eyes": d.planar_max_ncc_eyes,
            "mouth": d.planar_max_ncc_mouth,
            "face": d.planar_max_ncc_face,
        }

    @classmethod
    def build(
        cls,
        settings: Settings,
        detector: MediaPipeFaceDetector,
        portraits: PortraitFinder,
        matcher: FaceMatcher,
        passive: PassiveLivenessDetector | None,
        database: Database,
        verifications: VerificationRepository,
        frames: FrameStore,
        *,
        audit: AuditLog | None = None,
        lockout: LivenessLockout | None = None,
        events: EventBus | None = None,
        documents: DocumentAnalyzer | None = None,
        policies: PolicyResolver | None = None,
    ) -> SessionService:
        """The service on the runtime's models and database (nothing is loaded twice). ``frames``:
        where kept images go (the runtime passes its ``EncryptedFrameStore``)."""
        return cls(
            settings,
            detector,
            portraits,
            matcher,
            passive,
            SessionRepository(database),
            frames,
            verifications,
            audit=audit,
            lockout=lockout,
            events=events,
            documents=documents,
            policies=policies,
        )

    # -- create ----------------------------------------------------------------------------------

    def create(
        self,
        user_id: str,
        *,
        verification_id: str | None = None,
        challenge_count: int | None = None,
        id_document: bytes | None = None,
        tenant: str | None = None,
        risk: RiskInput | None = None,
        device_id: str | None = None,
    ) -> dict[str, Any]:
        """``tenant``: the creating key's tenant; the session is stored under it and a linked
        verification must be that tenant's (else VERIFICATION_NOT_FOUND). ``risk``: the caller's
        risk level or score; the policy version and tier resolved now decide at completion.
        ``device_id`` (``X-Device-Id``): a failed outcome counts toward that device's lockout too,
        whichever user id it is tried under; only the lockout's hash of it is kept."""
        s = self.settings.sessions
        if (
            challenge_count is not None
            and not s.min_challenges <= challenge_count <= s.max_challenges
        ):
            raise InvalidRequest(
                f"challenge_count must be between {s.min_challenges} and {s.max_challenges}",
                code="INVALID_CHALLENGE_COUNT",
                field="challenge_count",
            )
        if verification_id is not None and id_document is not None:
            raise InvalidRequest(
                "give either verification_id or id_document, not both",
                code="INVALID_REQUEST",
                field="verification_id",
            )
        if verification_id is not None:
            # VERIFICATION_NOT_FOUND (404) if absent or another tenant's
            linked = self.verifications.get(verification_id, tenant=tenant)
            risk = risk or linked_risk(linked)  # the session a high-risk case requires
        policy = self.policies.for_case(user_id, risk) if self.policies else None
        now = datetime.now(UTC)
        if (
            self.repository.started_since(user_id, now - timedelta(hours=1), tenant)
            >= s.max_sessions_per_user_per_hour
        ):
            raise _error(
                f"user {user_id} started {s.max_sessions_per_user_per_hour} sessions in the last hour; try later",
                "TOO_MANY_SESSIONS",
                429,
                limit=s.max_sessions_per_user_per_hour,
            )
        portrait_jpeg, document = (
            self._document(id_document, policy) if id_document is not None else (None, None)
        )
        rng = secrets.SystemRandom()
        count = challenge_count or rng.randint(s.min_challenges, s.max_challenges)
        challenges = [Challenge(c) for c in rng.sample(list(s.challenge_pool), count)]
        token = tokens.new_token()
        session_id = str(uuid.uuid4())
        state = self.tracker.initial_state(challenges)
        if document is not None:
            state["document"] = document
        if policy is not None:
            state["policy"] = policy.pin()
        row = KycSession(
            id=session_id,
            created_at=now,
            updated_at=now,
            expires_at=now + timedelta(seconds=s.expiry_s),
            status="active",
            user_id=user_id,
            tenant=tenant,
            verification_id=verification_id,
            token_sha256=tokens.token_hash(token),
            challenges=[c.value for c in challenges],
            state=state,
            frames_received=0,
            last_sequence=-1,
            version=0,
            device_ref=self.lockout.subjects(tenant, None, device_id)[0]
            if device_id and self.lockout is not None
            else None,
        )
        with self.repository.transaction() as tx:
            tx.add(row)
            tx.flush()
            if portrait_jpeg is not None:
                self.frames.put(tx, session_id, "document", portrait_jpeg)
        return {
            "session_id": session_id,
            "session_token": token,
            "session_token_header": "X-Session-Token",
            "user_id": user_id,
            "status": "active",
            "challenges": [
                {"index": i, "challenge": c.value, "instruction": INSTRUCTIONS[c]}
                for i, c in enumerate(challenges)
            ],
            "challenge_timeout_s": s.challenge_timeout_s,
            "expires_at": row.expires_at.isoformat(),
            "document_portrait": portrait_jpeg is not None,
            "verification_id": verification_id,
            "guidance": [{"code": "look_straight", "message": MESSAGES["look_straight"]}],
            **({"policy": policy.record(required=[])} if policy is not None else {}),
            "api_version": API_VERSION,
        }

    def attach_document(
        self, session_id: str, token: str | None, front: bytes, back: bytes | None = None
    ) -> dict[str, Any]:
        """The ID document photographed in the browser (the capture page's first step): its
        portrait is kept for the face match at completion, as if uploaded at creation; the back
        (licences and ID cards carry a barcode there) is kept for the reviewer. Only the session's
        own token may attach one, while the session is open and has no linked verification."""
        row = self.repository.load(session_id)
        self._authorise(row, token, required=True)
        self._check_alive(row)
        if row.verification_id is not None:
            raise _error(
                "this session uses the document of its linked verification",
                "DOCUMENT_ALREADY_LINKED",
                409,
            )
        # 422 NO_FACE_IN_DOCUMENT etc. before anything is written
        portrait, document = self._document(front, self._pinned(row.state))
        back_jpeg = None
        if back is not None:
            back_image = self._decoded(back, "id_document_back")
            back_jpeg = _jpeg(downscale(back_image, self.settings.limits.analysis_max_side_px), 90)

        def write(current: KycSession, tx: Session) -> dict[str, Any]:
            if document is not None:  # the identity evidence the decision reads at completion
                self._swap(tx, current, {"state": current.state | {"document": document}})
            self.frames.put(tx, session_id, "document", portrait)
            if back_jpeg is not None:
                self.frames.put(tx, session_id, "id_back", back_jpeg)
            return {
                "session_id": session_id,
                "document_portrait": True,
                "document_back": back_jpeg is not None,
            }

        return self._compare_and_swap(
            lambda: self.repository.load(session_id),
            write,
            "the session is being updated by many requests at once; try again",
            first=row,
        )

    def _decoded(self, data: bytes, field: str) -> np.ndarray:
        """An upload decoded at full resolution, with /verify's size and type checks."""
        limits = self.settings.limits
        return decode_image(
            data,
            field=field,
            max_bytes=limits.max_upload_bytes,
            max_pixels=limits.max_pixels,
            min_side=limits.min_side_px,
        )

    def _pinned(self, state: dict[str, Any]) -> AppliedPolicy | None:
        pin = state.get("policy")
        return self.policies.pinned(pin) if self.policies and pin else None

    def _document(
        self, data: bytes, policy: AppliedPolicy | None
    ) -> tuple[bytes, dict[str, Any] | None]:
        """The document's portrait (JPEG) and what the document shows of its holder's identity:
        the evidence and the document findings the decision applies at completion."""
        settings = policy.settings if policy else self.settings
        full = self._decoded(data, "id_document")
        image = downscale(full, settings.limits.analysis_max_side_px)
        portrait = self.portraits.require(image, settings.quality.min_document_face_px)
        if self.documents is None:
            return _jpeg(portrait.crop, 92), None
        scale = full.shape[1] / image.shape[1]
        b = portrait.box
        doc = self.documents.analyze(
            rotate(full, portrait.rotation),
            structured_data=None,
            today=datetime.now(UTC).date(),
            portrait_box=BoundingBox(
                b.x * scale, b.y * scale, b.width * scale, b.height * scale
            ).as_int(),
            tamper=policy is None or policy.runs("document_tampering"),
        ).to_dict()
        evidence = document_evidence(doc, b.width / portrait.document.shape[1])
        # the evidence rules run at completion
        findings = document_findings(doc, settings.decision.min_authenticity_score)
        summary = {
            "evidence": evidence.to_dict(),
            "score": doc["score"],
            "findings": [f.to_dict() for f in findings],
        }
        return _jpeg(portrait.crop, 92), summary

    # -- frames ----------------------------------------------------------------------------------

    def add_frame(
        self,
        session_id: str,
        token: str | None,
        upload: FrameUpload,
        *,
        backend: bool = False,
        tenant: str | None = None,
    ) -> dict[str, Any]:
        """``backend``: the caller authenticated otherwise (an API key), no session token needed.
        ``tenant``: that key's tenant filter (``Principal.tenant_filter``)."""
        digest = hashlib.sha256(upload.data).hexdigest()
        row, owner = self.repository.load_with_frame_owner(session_id, tenant, digest)
        self._authorise(row, token, required=not backend)
        self._check_accepting(row)
        frame = upload.on_arrival(row.last_sequence)
        self._check_order(row, frame, _now_ms())
        self._check_fresh_bytes(session_id, owner)
        analysis = analyse_image(
            decode_frame(frame.data, self.settings), self.detector, self.settings
        )
        # the pixel check's results hold for this frame whatever state a retry finds
        probe = self._probe(session_id, analysis)

        def write(current: KycSession, tx: Session) -> dict[str, Any]:
            now_ms = _now_ms()
            arrived = upload.on_arrival(current.last_sequence)  # the fresh row's order
            self._check_accepting(current)
            self._check_order(current, arrived, now_ms)
            result = self.tracker.step(
                current.state, analysis.tracker_input(arrived.timestamp_ms, now_ms), probe
            )
            state = _with_clock(result.state, current.state, arrived.timestamp_ms, now_ms)
            blobs = self._blobs(result, analysis)
            values = {
                "state": state,
                "frames_received": current.frames_received + 1,
                "last_sequence": arrived.sequence,
            }
            self._swap(tx, current, values)
            tx.add(
                KycSessionFrame(
                    session_id=session_id,
                    sequence=arrived.sequence,
                    sha256=digest,
                    client_ts_ms=arrived.timestamp_ms,
                    received_at=datetime.now(UTC),
                    face_count=analysis.face_count,
                )
            )
            for key, (data, media_type) in blobs.items():
                self.frames.put(tx, session_id, key, data, media_type)
            summary = self.tracker.summary(state, now_ms)
            if summary["current_challenge"] is not None:
                current_challenge = Challenge(summary["current_challenge"]["challenge"])
                summary["current_challenge"]["instruction"] = INSTRUCTIONS[current_challenge]
            return {
                "session_id": session_id,
                "sequence": arrived.sequence,
                "accepted": True,
                "face_detected": bool(analysis.faces),
                "face_count": analysis.face_count,
                **summary,
                "events": result.events,
                "guidance": guidance(analysis, result.hint, self.settings.quality),
                "liveness_score_basis": LIVENESS_SCORE_BASIS,
                "frames_received": current.frames_received + 1,
                "expires_at": _aware(current.expires_at).isoformat(),
            }

        try:
            return self._compare_and_swap(
                lambda: self.repository.load(session_id),
                write,
                "the session is being updated by many requests at once; send frames one at a time",
                first=row,
            )
        except IntegrityError:
            self._check_fresh_bytes(session_id, self.repository.frame_owner(digest))
            raise _error(
                f"frame {frame.sequence} was already received", "FRAME_OUT_OF_ORDER", 409
            ) from None

    def _compare_and_swap(
        self,
        load: Callable[[], KycSession],
        write: Callable[[KycSession, Session], T],
        busy: str,
        *,
        first: KycSession | None = None,
    ) -> T:
        """``write(row, tx)`` in one transaction on a fresh snapshot of the session, again on a new
        snapshot whenever another worker changed the row first (``write`` calls :meth:`_swap`),
        at most ``_MAX_RACES`` times; then 409 SESSION_BUSY with ``busy``. ``write`` may do slow
        work before its first statement: the transaction begins at the first statement."""
        row = first
        for _ in range(_MAX_RACES):
            current = row if row is not None else load()
            row = None
            try:
                with self.repository.transaction() as tx:
                    return write(current, tx)
            except _Stale:
                continue
        raise Conflict(busy, code="SESSION_BUSY")

    def _swap(self, tx: Session, row: KycSession, values: dict[str, Any]) -> None:
        if not self.repository.swap(tx, row.id, row.version, values):
            raise _Stale

    def _probe(self, session_id: str, analysis: FrameAnalysis) -> PlaneProbe:
        """The pixel check for this frame; the neutral reference is read only if a detector asks."""
        if analysis.face is None:
            return _no_probe

        def load() -> PlanarReference:
            data = self.frames.get(session_id, "reference")
            if data is None:
                raise KycError("the session's neutral reference is missing", code="SESSION_CORRUPT")
            return PlanarReference.from_bytes(data)

        return FrameProbe(load, analysis.gray, analysis.face, self._stop_at)

    def _blobs(self, result: TrackResult, analysis: FrameAnalysis) -> dict[str, tuple[bytes, str]]:
        out: dict[str, tuple[bytes, str]] = {}
        if "baseline_established" in result.events and analysis.face is not None:
            ref = make_reference(analysis.gray(), analysis.face)
            out["reference"] = (ref.to_bytes(), "application/x-npz")
        for key in result.store:
            if key.startswith("challenge/") and analysis.face is not None:
                x, y, w, h = analysis.face.box.expanded(0.6, analysis.image.shape).as_int()
                out[key] = (_jpeg(analysis.image[y : y + h, x : x + w], 90), "image/jpeg")
            else:  # best/* and seq/*: the whole frame at analysis size
                out[key] = (
                    _jpeg(analysis.image, 90 if key.startswith("best/") else 85),
                    "image/jpeg",
                )
        return out

    def _check_accepting(self, row: KycSession) -> None:
        self._check_alive(row)
        phase = row.state["phase"]
        if phase in ("passed", "failed"):
            raise _error(
                f"the challenges are finished ({phase}); complete the session",
                "CHALLENGES_FINISHED",
                409,
                phase=phase,
            )
        if row.frames_received >= self.settings.sessions.max_frames:
            raise _error(
                f"the session accepted its {self.settings.sessions.max_frames} frames; complete it",
                "FRAME_LIMIT_REACHED",
                409,
            )

    def _check_order(self, row: KycSession, upload: ArrivedFrame, now_ms: float) -> None:
        s = self.settings.sessions
        if upload.sequence <= row.last_sequence:
            raise _error(
                f"frame sequence {upload.sequence} is not after the last accepted {row.last_sequence}",
                "FRAME_OUT_OF_ORDER",
                409,
                last_sequence=row.last_sequence,
            )
        clock = row.state.get("clock")
        if clock is None:
            return
        if upload.timestamp_ms <= clock["last_client_ms"]:
            raise _error(
                f"frame timestamp {upload.timestamp_ms} is not after the previous {clock['last_client_ms']}",
                "FRAME_TIMESTAMP_NOT_INCREASING",
                409,
            )
        client = upload.timestamp_ms - clock["first_client_ms"]
        server = now_ms - clock["first_server_ms"]
        if client > server + s.timestamp_lead_ms or client < server - s.max_frame_lag_ms:
            raise _error(
                f"the frame claims {client:.0f} ms since the first frame, but {server:.0f} ms passed "
                "on the server: frames must be sent as they are captured",
                "FRAME_TIMESTAMP_IMPLAUSIBLE",
                422,
                client_elapsed_ms=round(client, 1),
                server_elapsed_ms=round(server, 1),
            )

    def _check_fresh_bytes(self, session_id: str, owner: str | None) -> None:
        """``owner``: the session that already received the frame's bytes (None: nobody)."""
        if owner == session_id:
            raise _error(
                "this exact frame was already sent in this session", "DUPLICATE_FRAME", 409
            )
        if owner is not None:
            raise _error(
                "this exact frame was already sent in another session", "FRAME_REPLAYED", 409
            )

    # -- complete, read, delete ------------------------------------------------------------------

    def complete(
        self,
        session_id: str,
        token: str | None,
        *,
        backend: bool = False,
        tenant: str | None = None,
        actor: Actor | None = None,
    ) -> dict[str, Any]:
        """The decision, stored with its audit entry in one transaction; asked again, the same
        decision (decided, audited and counted toward the liveness lockout once)."""
        counted: list[tuple[KycSession, dict[str, Any]]] = []

        def write(row: KycSession, tx: Session) -> dict[str, Any]:
            self._authorise(row, token, required=not backend)
            if row.status == "completed" and row.result is not None:
                return dict(row.result)
            self._check_alive(row)
            result = self._decide(row)  # no statement yet: no lock held while judging
            if self.audit is not None:
                from kycguard.security.audit import SYSTEM

                self.audit.append(
                    tx,
                    actor or SYSTEM,
                    "session.decided",
                    target_type="session",
                    target_id=session_id,
                    tenant=row.tenant,
                    details={"status": result["status"], "reasons": list(result["reasons"])},
                )
            completed_at = datetime.now(UTC)
            self._swap(
                tx, row, {"status": "completed", "result": result, "completed_at": completed_at}
            )
            self.frames.delete(tx, session_id, "seq/")
            self.frames.delete(tx, session_id, "reference")
            if self.events is not None:
                self.events.publish(
                    tx,
                    CaseDecided(
                        "session",
                        session_id,
                        row.tenant,
                        row.user_id,
                        result["status"],
                        result,
                        completed_at,
                        row.device_ref,
                    ),
                )
            counted.append((row, result))
            return result

        result = self._compare_and_swap(
            lambda: self.repository.load(session_id, tenant),
            write,
            "the session kept changing while it was being completed",
        )
        if counted and self.lockout is not None and _liveness_failed(*counted[-1]):
            row = counted[-1][0]
            device = [row.device_ref] if row.device_ref else []  # hashed at creation
            self.lockout.record_failure(
                self.lockout.subjects(row.tenant, row.user_id, None, None) + device
            )
        return result

    def _decide(self, row: KycSession) -> dict[str, Any]:
        started = time.perf_counter()
        linked = None
        images = self.frames.get_all(row.id)
        if row.verification_id is not None:
            verification = self.verifications.get(row.verification_id, tenant=row.tenant)
            linked = {
                "verification_id": row.verification_id,
                "status": verification["status"],
                "identity_read": linked_identity_read(verification),
            }
            portrait = self._verification_portrait(row.verification_id)
            if portrait is not None:
                images["document"] = portrait
        policy = self._pinned(row.state)
        judge = self.judge
        if policy is not None:  # the version pinned at creation, whatever is active now
            judge = SessionJudge(
                policy.settings,
                self.detector,
                policy.matcher(self.judge.matcher),
                self.judge.passive if policy.runs("passive_liveness") else None,
            )
        judgement = judge.judge(row.state, images, linked)
        result = build_record(
            {"session_id": row.id, "user_id": row.user_id},
            judgement.decision,
            judgement.report,
            policy.settings if policy else self.settings,
            identity_verified=judgement.identity_verified,
            policy=policy.record(required=[]) if policy else None,
            tail={
                "frames_received": row.frames_received,
                "linked_verification": linked,
                "created_at": _aware(row.created_at).isoformat(),
                "completed_at": datetime.now(UTC).isoformat(),
            },
        )
        result["processing_time_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return result

    def with_linked_session(self, verification_id: str, result: dict[str, Any]) -> dict[str, Any]:
        """A verification's read view with the video session created for it (``video_session``,
        ``final_decision``; kycguard.sessions.linked). The stored answer is not changed."""
        with self.repository.transaction() as tx:
            return linked.with_video_session(tx, verification_id, result)

    def _verification_portrait(self, verification_id: str) -> bytes | None:
        """The document portrait a verification kept (encrypted, until retention erases it)."""
        store = self.verifications.blobs
        if store is None:
            return None
        for info in store.of_verification(verification_id):
            if info.kind == "document_portrait":
                return store.read(info.id)[1]
        return None

    def get(self, session_id: str, token: str | None, tenant: str | None = None) -> dict[str, Any]:
        """``tenant``: the API key's tenant filter; another tenant's session is SESSION_NOT_FOUND."""
        row = self.repository.load(session_id, tenant)
        self._authorise(row, token, required=False)
        return self._view(row)

    def delete(
        self, session_id: str, token: str | None, tenant: str | None = None
    ) -> dict[str, Any]:
        if token is not None:
            raise _error(
                "a session token cannot delete a session: call DELETE from your backend",
                "SESSION_TOKEN_NOT_ALLOWED",
                403,
            )

        def write(row: KycSession, tx: Session) -> dict[str, Any]:
            if row.status == "deleted":
                return {"session_id": session_id, "status": "deleted", "images_erased": 0}
            erased = self.frames.delete_session(tx, session_id)
            self._swap(tx, row, {"status": "deleted", "state": _redacted(row.state)})
            return {"session_id": session_id, "status": "deleted", "images_erased": erased}

        return self._compare_and_swap(
            lambda: self.repository.load(session_id, tenant),
            write,
            "the session kept changing while it was being deleted",
        )

    def _view(self, row: KycSession) -> dict[str, Any]:
        st = row.state
        status = row.status
        if status == "active" and _expired(row):
            status = "expired"
        view: dict[str, Any] = {
            "session_id": row.id,
            "user_id": row.user_id,
            "status": status,
            "challenges": [
                {k: r[k] for k in ("challenge", "status", "attempts") if k in r}
                | {"instruction": INSTRUCTIONS[Challenge(r["challenge"])]}
                for r in st["results"]
            ],
            "challenge_timeout_s": self.settings.sessions.challenge_timeout_s,
            "document_portrait": row.verification_id is not None
            or self.frames.get(row.id, "document") is not None,
            "frames_received": row.frames_received,
            "last_sequence": row.last_sequence,
            "created_at": _aware(row.created_at).isoformat(),
            "expires_at": _aware(row.expires_at).isoformat(),
            "completed_at": _aware(row.completed_at).isoformat() if row.completed_at else None,
            "verification_id": row.verification_id,
        }
        if status != "deleted":
            view |= self.tracker.summary(st, _now_ms()) | {
                "liveness_score_basis": LIVENESS_SCORE_BASIS
            }
        if row.result is not None:
            view["result"] = row.result
        return view

    # -- access ----------------------------------------------------------------------------------

    def _authorise(self, row: KycSession, token: str | None, *, required: bool) -> None:
        """The browser's token: only for its own session, only until it expires."""
        if token is None:
            if required:
                raise _error(
                    "this call needs the session token in the X-Session-Token header",
                    "SESSION_TOKEN_REQUIRED",
                    401,
                )
            return
        if not tokens.token_matches(token, row.token_sha256):
            raise _error(
                "the session token is not valid for this session", "SESSION_TOKEN_INVALID", 403
            )
        if _expired(row):
            raise _error("the session and its token have expired", "SESSION_EXPIRED", 410)

    def _check_alive(self, row: KycSession) -> None:
        if row.status == "deleted":
            raise _error("the session was deleted", "SESSION_DELETED", 410)
        if row.status == "completed":
            raise _error("the session is already completed", "SESSION_COMPLETED", 409)
        if _expired(row):
            raise _error("the session has expired; start a new one", "SESSION_EXPIRED", 410)


def _liveness_failed(row: KycSession, result: dict[str, Any]) -> bool:
    """An attempt that counts toward the lockout: a challenge failed, or the frames were judged an
    attack or could not be judged live (``attack`` and ``uncertain`` verdicts), or a deepfake or an
    injected stream was suspected (the session's counterpart of
    ``kycguard.security.ratelimit.liveness_failed``)."""
    check = result.get("liveness_check") or {}
    verdicts = check.get("verdicts", {})
    return (
        row.state.get("phase") == "failed"
        or verdicts.get("liveness") in ("attack", "uncertain")
        or verdicts.get("deepfake") == "fake"
        or verdicts.get("injection") == "injected"
    )


def _no_probe(region: Region) -> float:  # pragma: no cover - never called without a face
    raise AssertionError("the pixel check needs a face")


def _with_clock(
    new: dict[str, Any], old: dict[str, Any], client_ms: float, server_ms: float
) -> dict[str, Any]:
    clock = old.get("clock") or {"first_client_ms": client_ms, "first_server_ms": server_ms}
    new["clock"] = clock | {"last_client_ms": client_ms}
    return new


def _redacted(state: dict[str, Any]) -> dict[str, Any]:
    """What stays after DELETE: the outcome of each challenge and counters, no face geometry."""
    keep = ("phase", "challenges", "index", "results", "counts", "failed_attempts")
    return {k: state[k] for k in keep if k in state}


def _jpeg(rgb: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise KycError("could not encode a kept frame", code="INTERNAL_ERROR")
    return buf.tobytes()


def _now_ms() -> float:
    return time.time() * 1000.0


def _aware(dt: datetime) -> datetime:
    """SQLite gives naive datetimes back; every stored time is UTC."""
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _expired(row: KycSession) -> bool:
    return datetime.now(UTC) > _aware(row.expires_at)
