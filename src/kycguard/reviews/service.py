"""The review queue: cases opened from decisions, claims, reviewer decisions, evidence, labels.

Every write happens in one transaction with its audit entry (appended first: on SQLite that takes the
write lock) and with the event it publishes, so an action, its audit trail and its webhook outbox row
commit together or not at all. A claim is a compare-and-swap on the row, so two reviewers racing for
one case get one claim and one ``409 REVIEW_ALREADY_CLAIMED``.
"""

from __future__ import annotations

import base64
import io
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from kycguard.errors import Conflict, InvalidRequest, NotFound
from kycguard.events import CaseDecided, CaseKind, CaseLabelled, EventBus, ReviewDecided
from kycguard.reviews.config import ReviewSettings
from kycguard.reviews.known_faces import KnownFaces
from kycguard.reviews.models import CaseLabel, ReviewCase
from kycguard.reviews.reasons import DECISIONS, FRAUD_REASON, REASONS
from kycguard.security.audit import SYSTEM, Actor, AuditLog
from kycguard.security.crypto import KeyRing, row_aad
from kycguard.sessions import linked
from kycguard.store.database import Database
from kycguard.store.models import Verification
from kycguard.store.repository import VerificationRepository
from kycguard.store.security_models import Blob
from kycguard.store.session_models import KycSession, KycSessionBlob

KINDS = ("verification", "session")
STATUSES = ("open", "claimed", "decided")
VERIFICATION_IMAGES = ("document_portrait", "selfie")
SESSION_REASON = "VIDEO_SESSION_DECIDED"  # the system's reason closing a case (not a reviewer's)


@dataclass(frozen=True)
class Reviewer:
    """Who acts: the audit actor and the tenant the caller is confined to (None: all)."""

    actor: Actor
    tenant: str | None


def now_utc() -> datetime:
    return datetime.now(UTC)


def aware(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def risk_score(result: dict[str, Any]) -> int:
    """0-100, higher first in the queue: the complement of the decision's confidence."""
    confidence = float(result.get("overall_confidence") or 0.0)
    return max(0, min(100, round(100 - confidence)))


class ReviewService:
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        keyring: KeyRing,
        settings: ReviewSettings,
        events: EventBus,
        known_faces: KnownFaces,
        verifications: VerificationRepository,
    ) -> None:
        self.db = db
        self.audit = audit
        self.keyring = keyring
        self.settings = settings
        self.events = events
        self.known_faces = known_faces
        self.verifications = verifications  # the whole (sealed) answer, for the evidence

    # -- opening cases (event subscriber) --------------------------------------------------------

    def on_case_decided(self, session: Session, event: CaseDecided) -> None:
        """Every ``manual_review`` decision becomes a case; so does any decision whose face is a
        known fraud face or another identity's (those are published as ``KnownFaceMatched``).
        A session linked to a verification may close that verification's case (``_close_by_session``)."""
        if event.kind == "session":
            self._close_by_session(session, event)
        matches = self.known_faces.on_case(session, event) if self.settings.known_faces else []
        if event.status != "manual_review" and not matches:
            return
        reasons = list(event.result.get("reasons") or [])
        reasons += [m.reason_code for m in matches if m.reason_code not in reasons]
        session.add(
            ReviewCase(
                id=str(uuid.uuid4()),
                kind=event.kind,
                case_id=event.case_id,
                tenant=event.tenant,
                user_id=event.user_id,
                status="open",
                original_status=event.status,
                risk_score=100 if matches else risk_score(event.result),
                reasons=reasons,
                created_at=event.decided_at,
            )
        )
        for match in matches:
            self.audit.append(
                session,
                Actor("system"),
                "known_face.matched",
                target_type=event.kind,
                target_id=event.case_id,
                tenant=event.tenant,
                details={
                    "match": match.event.match,
                    "other_case_id": match.event.other_case_id,
                    "distance": round(match.event.distance, 4),
                },
            )
            self.events.publish(session, match.event)

    def _close_by_session(self, session: Session, event: CaseDecided) -> None:
        """The video session a high-risk verification required decided it: that verification's
        case is closed by the system, audited naming the session, when it is safe to, i.e. the
        session approved or rejected, the case's only reason is VIDEO_SESSION_REQUIRED (no known
        face, no other finding), the verification would otherwise have approved, and no reviewer
        is involved (no live claim, no first half of a two-reviewer decision). Otherwise the case
        stays for a reviewer, whose evidence shows the session (``video_session``). The row is
        locked first (FOR UPDATE on PostgreSQL; SQLite already holds the write lock), so a
        reviewer's claim racing this either waits and finds it decided or wins it first."""
        linked_to = event.result.get("linked_verification") or {}
        verification_id = linked_to.get("verification_id")
        if not verification_id or event.status not in ("approved", "rejected"):
            return
        verification = session.get(Verification, verification_id)
        if verification is None or not linked.only_blocked_by_video_session(verification.result):
            return
        now = now_utc()
        rows = session.scalars(
            select(ReviewCase)
            .where(
                ReviewCase.kind == "verification",
                ReviewCase.case_id == verification_id,
                ReviewCase.status != "decided",
            )
            .with_for_update()
        )
        for row in rows:
            expires = aware(row.claim_expires_at)
            claimed = row.status == "claimed" and expires is not None and expires > now
            if (
                claimed
                or row.pending is not None
                or row.tenant != event.tenant
                or list(row.reasons) != [linked.REQUIRED_REASON]
            ):
                continue
            decision = "approve" if event.status == "approved" else "reject"
            entry = {
                "decision": decision,
                "reason": SESSION_REASON,
                "notes": f"closed by the system: video session {event.case_id} {event.status}",
                "reviewer": SYSTEM.id,
                "decided_at": now.isoformat(),
                "session_id": event.case_id,
            }
            self.audit.append(
                session,
                SYSTEM,
                "review.closed_by_session",
                target_type="review",
                target_id=row.id,
                tenant=row.tenant,
                details={
                    "verification_id": verification_id,
                    "session_id": event.case_id,
                    "session_status": event.status,
                },
            )
            row.decision, row.final_status, row.decided_at = entry, event.status, now
            row.status, row.claimed_by, row.claim_expires_at = "decided", None, None

    # -- reading ---------------------------------------------------------------------------------

    def list(
        self,
        who: Reviewer,
        *,
        status: str | None = None,
        kind: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """The queue: highest risk first, then oldest first; keyset-paginated."""
        if status is not None and status not in STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}", field="status")
        if kind is not None and kind not in KINDS:
            raise InvalidRequest(f"kind must be one of {', '.join(KINDS)}", field="kind")
        if not 1 <= limit <= 200:
            raise InvalidRequest("limit must be 1-200", field="limit")
        now = now_utc()
        q = select(ReviewCase)
        if who.tenant is not None:
            q = q.where(ReviewCase.tenant == who.tenant)
        if kind is not None:
            q = q.where(ReviewCase.kind == kind)
        lapsed = and_(ReviewCase.status == "claimed", ReviewCase.claim_expires_at <= now)
        if status == "open":
            q = q.where(or_(ReviewCase.status == "open", lapsed))
        elif status == "claimed":
            q = q.where(ReviewCase.status == "claimed", ReviewCase.claim_expires_at > now)
        elif status == "decided":
            q = q.where(ReviewCase.status == "decided")
        if cursor:
            risk, created, last_id = _decode_cursor(cursor)
            q = q.where(
                or_(
                    ReviewCase.risk_score < risk,
                    and_(ReviewCase.risk_score == risk, ReviewCase.created_at > created),
                    and_(
                        ReviewCase.risk_score == risk,
                        ReviewCase.created_at == created,
                        ReviewCase.id > last_id,
                    ),
                )
            )
        q = q.order_by(
            ReviewCase.risk_score.desc(), ReviewCase.created_at.asc(), ReviewCase.id.asc()
        )
        with self.db.session() as session:
            rows = list(session.scalars(q.limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = _encode_cursor(rows[-1]) if more and rows else None
        return {"items": [case_dict(r, now) for r in rows], "next_cursor": next_cursor}

    def get(self, review_id: str, who: Reviewer) -> dict[str, Any]:
        """The case with its evidence; the view is audited."""
        with self._audited(review_id, who, "review.evidence_viewed") as (session, row):
            out = case_dict(row, now_utc())
            out["evidence"] = self._evidence(session, row)
            return out

    def image(self, review_id: str, kind: str, who: Reviewer) -> bytes:
        """One evidence image as JPEG, decrypted for this request only; the view is audited."""
        with self._audited(review_id, who, "review.image_viewed", {"image": kind}) as (
            session,
            row,
        ):
            data = self._image_bytes(session, row, kind)
            if data is None:  # raised inside: only images actually shown are audited as viewed
                raise NotFound(f"this case has no {kind} image", code="REVIEW_IMAGE_NOT_FOUND")
        return _as_jpeg(data)

    def overlay(self, kind: CaseKind, case_id: str, result: dict[str, Any]) -> dict[str, Any]:
        """The answer as shown after a review: the stored original untouched, ``status`` the final
        one and a ``review`` block saying who changed it and why. Unreviewed: the original."""
        with self.db.session() as session:
            row = session.scalars(
                select(ReviewCase).where(
                    ReviewCase.kind == kind,
                    ReviewCase.case_id == case_id,
                    ReviewCase.status == "decided",
                )
            ).first()
            if row is None or row.decision is None:
                return result
            review = {
                "review_id": row.id,
                "original_status": row.original_status,
                "final_status": row.final_status,
            } | {k: row.decision[k] for k in ("decision", "reason", "reviewer", "decided_at")}
            if "session_id" in row.decision:  # closed by the video session it required
                review["session_id"] = row.decision["session_id"]
        return result | {"status": row.final_status, "review": review}

    # -- acting ----------------------------------------------------------------------------------

    def claim(self, review_id: str, who: Reviewer) -> dict[str, Any]:
        now = now_utc()
        expires = now + timedelta(seconds=self.settings.claim_ttl_s)
        with self._audited(
            review_id, who, "review.claimed", {"claim_expires_at": expires.isoformat()}
        ) as (session, row):
            free = or_(
                ReviewCase.status == "open",
                and_(
                    ReviewCase.status == "claimed",
                    or_(
                        ReviewCase.claimed_by == who.actor.id,
                        ReviewCase.claim_expires_at <= now,
                    ),
                ),
            )
            done = session.execute(
                update(ReviewCase)
                .where(ReviewCase.id == review_id, free)
                .values(status="claimed", claimed_by=who.actor.id, claim_expires_at=expires)
                .execution_options(synchronize_session=False)
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                raise self._busy(row, now)
            session.refresh(row)
            return case_dict(row, now)

    def release(self, review_id: str, who: Reviewer) -> dict[str, Any]:
        now = now_utc()
        with self._audited(review_id, who, "review.released") as (_, row):
            self._require_claim(row, who, now)
            row.status, row.claimed_by, row.claim_expires_at = "open", None, None
            return case_dict(row, now)

    def decide(
        self, review_id: str, who: Reviewer, decision: str, reason: str | None, notes: str
    ) -> dict[str, Any]:
        if decision not in DECISIONS:
            raise InvalidRequest(
                f"decision must be one of {', '.join(DECISIONS)}", field="decision"
            )
        if reason is None and decision == "approve":
            reason = "VERIFIED_BY_REVIEWER"
        if reason not in REASONS:
            raise InvalidRequest(
                "reason must be a code from GET /api/v1/reviews/reasons",
                code="INVALID_REVIEW_REASON",
                field="reason",
                details={"reasons": list(REASONS)},
            )
        if len(notes) > 4000:
            raise InvalidRequest("notes must be at most 4000 characters", field="notes")
        now = now_utc()
        entry = {
            "decision": decision,
            "reason": reason,
            "notes": notes,
            "reviewer": who.actor.id,
            "decided_at": now.isoformat(),
        }
        needs_second = (
            self.settings.second_reviewer_for_fraud
            and decision == "reject"
            and reason == FRAUD_REASON
        )
        with self.db.session() as session:  # read first: the write transaction opens with the audit
            seen = self._load(session, review_id, who)
            self._require_claim(seen, who, now)
            proposal = needs_second and not self._confirms(seen, entry)
            if proposal and seen.pending is not None and seen.pending["reviewer"] == who.actor.id:
                raise Conflict(
                    "a rejection as fraud needs a second, different reviewer",
                    code="SECOND_REVIEWER_REQUIRED",
                )
        with self.db.session() as session:
            self.audit.append(
                session,
                who.actor,
                "review.decision_proposed" if proposal else "review.decided",
                target_type="review",
                target_id=review_id,
                tenant=seen.tenant,
                details={"decision": decision, "reason": reason},
            )
            row = self._load(session, review_id, who)
            self._require_claim(row, who, now)
            if proposal != (needs_second and not self._confirms(row, entry)):
                raise Conflict("the case changed meanwhile; try again", code="REVIEW_CHANGED")
            if proposal:  # the first reviewer's half: back to the queue for a second one
                row.pending = entry
                row.status, row.claimed_by, row.claim_expires_at = "open", None, None
                return case_dict(row, now)
            if row.pending is not None and self._confirms(row, entry):
                entry["second_reviewer"] = entry["reviewer"]
                entry["reviewer"] = row.pending["reviewer"]
            row.decision, row.final_status, row.decided_at = entry, DECISIONS[decision], now
            row.status, row.claimed_by, row.claim_expires_at = "decided", None, None
            self.events.publish(
                session,
                ReviewDecided(
                    row.kind,  # type: ignore[arg-type]
                    row.case_id,
                    row.id,
                    row.tenant,
                    row.user_id,
                    decision,
                    reason,
                    DECISIONS[decision],
                    who.actor.id,
                    now,
                ),
            )
            return case_dict(row, now)

    def label(
        self, kind: CaseKind, case_id: str, was_fraud: bool, notes: str, who: Reviewer
    ) -> dict[str, Any]:
        """Feedback: the ground truth of one case (the latest label wins). A fraud label keeps the
        case's face as a known fraud face; a genuine label takes it off that list again."""
        if len(notes) > 4000:
            raise InvalidRequest("notes must be at most 4000 characters", field="notes")
        now = now_utc()
        with self.db.session() as session:  # read first: the write transaction opens with the audit
            tenant, user_id, created = _case_owner(session, kind, case_id, who)
        with self.db.session() as session:
            self.audit.append(
                session,
                who.actor,
                "case.labelled",
                target_type=kind,
                target_id=case_id,
                tenant=tenant,
                details={"was_fraud": was_fraud},
            )
            label = session.get(CaseLabel, (kind, case_id))
            if label is None:
                label = CaseLabel(kind=kind, case_id=case_id)
                session.add(label)
            label.tenant, label.user_id, label.case_created_at = tenant, user_id, created
            label.was_fraud, label.notes = was_fraud, notes
            label.labelled_by, label.labelled_at = who.actor.id, now
            self.known_faces.set_fraud(session, kind, case_id, was_fraud)
            self.events.publish(
                session, CaseLabelled(kind, case_id, tenant, user_id, was_fraud, who.actor.id, now)
            )
        return {
            "kind": kind,
            "case_id": case_id,
            "was_fraud": was_fraud,
            "notes": notes,
            "labelled_by": who.actor.id,
            "labelled_at": now.isoformat(),
        }

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _confirms(row: ReviewCase, entry: dict[str, Any]) -> bool:
        p = row.pending
        return (
            p is not None
            and p["reviewer"] != entry["reviewer"]
            and (p["decision"], p["reason"]) == (entry["decision"], entry["reason"])
        )

    @contextmanager
    def _audited(
        self, review_id: str, who: Reviewer, action: str, details: dict[str, Any] | None = None
    ) -> Iterator[tuple[Session, ReviewCase]]:
        """A transaction that begins with the audit entry of ``action`` on the case, then loads
        the case: every view of evidence and every action is audited with what it did."""
        tenant = self._tenant_of(review_id, who)
        with self.db.session() as session:
            self.audit.append(
                session,
                who.actor,
                action,
                target_type="review",
                target_id=review_id,
                tenant=tenant,
                details=details,
            )
            yield session, self._load(session, review_id, who)

    def _tenant_of(self, review_id: str, who: Reviewer) -> str | None:
        """The case's tenant (it never changes), read before the writing transaction so that the
        transaction can begin with the audit entry (on SQLite that takes the write lock first)."""
        with self.db.session() as session:
            return self._load(session, review_id, who).tenant

    @staticmethod
    def _load(session: Session, review_id: str, who: Reviewer) -> ReviewCase:
        row = session.get(ReviewCase, review_id)
        if row is None or (who.tenant is not None and row.tenant != who.tenant):
            raise NotFound(f"no review case with id {review_id}", code="REVIEW_NOT_FOUND")
        return row

    @staticmethod
    def _busy(row: ReviewCase, now: datetime) -> Conflict:
        if row.status == "decided":
            return Conflict("this case is already decided", code="REVIEW_ALREADY_DECIDED")
        return Conflict(
            "another reviewer holds this case",
            code="REVIEW_ALREADY_CLAIMED",
            details={
                "claimed_by": row.claimed_by,
                "claim_expires_at": _iso(row.claim_expires_at),
            },
        )

    def _require_claim(self, row: ReviewCase, who: Reviewer, now: datetime) -> None:
        expires = aware(row.claim_expires_at)
        if row.status == "decided":
            raise Conflict("this case is already decided", code="REVIEW_ALREADY_DECIDED")
        if row.status != "claimed" or expires is None or expires <= now:
            raise Conflict("claim the case first", code="REVIEW_NOT_CLAIMED")
        if row.claimed_by != who.actor.id:
            raise self._busy(row, now)

    def _evidence(self, session: Session, row: ReviewCase) -> dict[str, Any]:
        result: dict[str, Any] | None
        timeline: list[dict[str, Any]] = []
        video_session: dict[str, Any] | None = None
        if row.kind == "verification":
            try:
                result = self.verifications.get(row.case_id)
            except NotFound:
                result = None
            video = linked.latest_linked_session(session, row.case_id, row.tenant)
            video_session = linked.session_block(video) if video is not None else None
            kinds = sorted(
                set(
                    session.scalars(
                        select(Blob.kind).where(
                            Blob.verification_id == row.case_id,
                            Blob.kind.in_(VERIFICATION_IMAGES),
                        )
                    )
                )
            )
        else:
            s = session.get(KycSession, row.case_id)
            result = dict(s.result) if s is not None and s.result is not None else None
            timeline = list((s.state or {}).get("results", [])) if s is not None else []
            kinds = sorted(_session_image_kinds(session, row.case_id))
        base = f"/api/v1/reviews/{row.id}/images"
        return {
            "result": result,
            "images": [{"kind": k, "url": f"{base}/{k}"} for k in kinds],
            "alerts": [],
            "timeline": timeline,
            **({"video_session": video_session} if row.kind == "verification" else {}),
        }

    def _image_bytes(self, session: Session, row: ReviewCase, kind: str) -> bytes | None:
        if row.kind == "verification":
            if kind not in VERIFICATION_IMAGES:
                return None
            blob = session.scalars(
                select(Blob).where(Blob.verification_id == row.case_id, Blob.kind == kind)
            ).first()
            if blob is None:
                return None
            return self.keyring.decrypt(blob.content, row_aad("blobs", blob.id))
        keys = _session_image_kinds(session, row.case_id)
        if kind not in keys:
            return None
        sealed = session.get(KycSessionBlob, (row.case_id, keys[kind]))
        if sealed is None:
            return None
        return self.keyring.decrypt(
            sealed.content, row_aad("kyc_session_blobs", row.case_id, keys[kind])
        )


def _session_image_kinds(session: Session, session_id: str) -> dict[str, str]:
    """Image kind shown to the reviewer -> the session blob's key."""
    keys = session.scalars(
        select(KycSessionBlob.key).where(KycSessionBlob.session_id == session_id)
    )
    out = {}
    for key in keys:
        if key == "document":
            out["document_portrait"] = key
        elif key == "id_back":  # the back photographed on the capture page (barcode side)
            out["document_back"] = key
        elif key.startswith("best/"):
            out["best_" + key.split("/", 1)[1].replace("/", "_")] = key
    return out


def _case_owner(
    session: Session, kind: CaseKind, case_id: str, who: Reviewer
) -> tuple[str | None, str | None, datetime]:
    if kind == "verification":
        v = session.get(Verification, case_id)
        if v is not None and (who.tenant is None or v.tenant == who.tenant):
            return v.tenant, v.user_id, v.created_at
        raise NotFound(f"no verification with id {case_id}", code="VERIFICATION_NOT_FOUND")
    s = session.get(KycSession, case_id)
    if s is None or (who.tenant is not None and s.tenant != who.tenant):
        raise NotFound(f"no session with id {case_id}", code="SESSION_NOT_FOUND")
    if s.result is None or s.completed_at is None:
        raise Conflict("the session has no decision to label yet", code="SESSION_NOT_COMPLETED")
    return s.tenant, s.user_id, s.completed_at


def case_dict(row: ReviewCase, now: datetime) -> dict[str, Any]:
    status = row.status
    expires = aware(row.claim_expires_at)
    if status == "claimed" and (expires is None or expires <= now):
        status = "open"
    claimed = status == "claimed"
    return {
        "id": row.id,
        "kind": row.kind,
        "case_id": row.case_id,
        "tenant": row.tenant,
        "user_id": row.user_id,
        "status": status,
        "risk_score": row.risk_score,
        "reasons": list(row.reasons),
        "original_status": row.original_status,
        "final_status": row.final_status,
        "created_at": _iso(row.created_at),
        "claimed_by": row.claimed_by if claimed else None,
        "claim_expires_at": _iso(expires) if claimed else None,
        "awaiting_second_reviewer": row.pending is not None and status != "decided",
        "pending_decision": row.pending if status != "decided" else None,
        "decision": row.decision,
    }


def _iso(at: datetime | None) -> str | None:
    a = aware(at)
    return a.isoformat() if a is not None else None


def _encode_cursor(row: ReviewCase) -> str:
    raw = json.dumps([row.risk_score, _iso(row.created_at), row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        risk, created, last_id = json.loads(raw)
        return int(risk), datetime.fromisoformat(created), str(last_id)
    except (ValueError, TypeError) as exc:
        raise InvalidRequest("cursor is not one this server gave out", field="cursor") from exc


def _as_jpeg(data: bytes) -> bytes:
    """Evidence is served as JPEG whatever was uploaded (a PNG selfie is re-encoded)."""
    if data[:3] == b"\xff\xd8\xff":
        return data
    from PIL import Image

    buf = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(buf, "JPEG", quality=92)
    return buf.getvalue()
