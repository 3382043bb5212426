"""Known faces: is this new face one we have seen under another identity, or labelled fraud?

Each verification's selfie template (stored encrypted by ``security.blobs``) is copied, encrypted,
into ``known_faces`` and searched against the tenant's earlier templates: an exact (brute-force)
nearest-neighbour search over an in-memory matrix per tenant, refreshed from the committed rows
(``seq`` above the last one loaded) before each search, so every worker and host sees every face.
The few hits of a search are checked against the database (their fraud flag, and that they were
not erased or purged since they were loaded), so a label or an erasure takes effect at once
everywhere.

Brute force is exact and needs no training; its cost grows linearly with the tenant's faces
(``kycguard bench known-faces`` measures it; the README says where it stops being enough).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kycguard.events import CaseDecided, CaseKind, KnownFaceMatched
from kycguard.reviews.models import KnownFace
from kycguard.security.crypto import KeyRing, row_aad
from kycguard.security.rotation import EncryptedColumn, register_encrypted_column
from kycguard.store.database import Database
from kycguard.store.security_models import Blob

TEMPLATE_KIND = "selfie_template"
MAX_HITS = 200  # nearest ones checked against the database; one match of each kind is reported
MatchKind = Literal["labelled_fraud", "other_identity"]
register_encrypted_column(
    EncryptedColumn(KnownFace.__table__, ("kind", "case_id"), "template", "key_id")  # type: ignore[arg-type]
)
REASON_CODES: dict[str, str] = {
    "labelled_fraud": "KNOWN_FRAUD_FACE",
    "other_identity": "FACE_UNDER_OTHER_IDENTITY",
}


@dataclass(frozen=True)
class Hit:
    kind: str
    case_id: str
    user_id: str | None
    distance: float


@dataclass(frozen=True)
class FaceMatch:
    event: KnownFaceMatched

    @property
    def reason_code(self) -> str:
        return REASON_CODES[self.event.match]


@dataclass
class TenantIndex:
    """The templates of one tenant: a growing matrix and the case each row belongs to."""

    vectors: list[np.ndarray] = field(default_factory=list)
    cases: list[tuple[str, str, str | None]] = field(default_factory=list)  # kind, id, user
    _matrix: np.ndarray | None = None
    _sq_norms: np.ndarray | None = None

    def add(self, kind: str, case_id: str, user_id: str | None, vector: np.ndarray) -> None:
        self.vectors.append(vector)
        self.cases.append((kind, case_id, user_id))
        self._matrix = None

    def matrix(self) -> tuple[np.ndarray, np.ndarray]:
        if self._matrix is None:
            self._matrix = np.vstack(self.vectors).astype(np.float32)
            self._sq_norms = np.einsum("ij,ij->i", self._matrix, self._matrix)
        assert self._sq_norms is not None
        return self._matrix, self._sq_norms

    def distances(self, query: np.ndarray) -> np.ndarray:
        """Euclidean distance from ``query`` to every template (one matrix-vector product)."""
        if not self.vectors:
            return np.empty(0, np.float32)
        m, sq = self.matrix()
        q = query.astype(np.float32)
        d2 = sq + float(q @ q) - 2.0 * (m @ q)
        return np.sqrt(np.maximum(d2, 0.0))


class FaceIndex:
    """Per-tenant in-memory indexes, thread-safe, filled from ``known_faces`` rows."""

    def __init__(self) -> None:
        self._tenants: dict[str | None, TenantIndex] = {}
        self._lock = threading.Lock()
        self.last_seq = 0

    def add(
        self, tenant: str | None, kind: str, case_id: str, user_id: str | None, vec: np.ndarray
    ) -> None:
        with self._lock:
            self._tenants.setdefault(tenant, TenantIndex()).add(kind, case_id, user_id, vec)

    def search(self, tenant: str | None, query: np.ndarray, max_distance: float) -> list[Hit]:
        """Every template of ``tenant`` within ``max_distance``, nearest first."""
        with self._lock:
            index = self._tenants.get(tenant)
            if index is None:
                return []
            d = index.distances(query)
            near = np.flatnonzero(d <= max_distance)
            return sorted(
                (_hit(index.cases[i], float(d[i])) for i in near), key=lambda h: h.distance
            )

    def __len__(self) -> int:
        return sum(len(t.cases) for t in self._tenants.values())


def _hit(case: tuple[str, str, str | None], distance: float) -> Hit:
    kind, case_id, user_id = case
    return Hit(kind, case_id, user_id, distance)


class KnownFaces:
    def __init__(self, db: Database, keyring: KeyRing, max_distance: float) -> None:
        self.db = db
        self.keyring = keyring
        self.max_distance = max_distance
        self.index = FaceIndex()
        self._refresh_lock = threading.Lock()

    def on_case(self, session: Session, event: CaseDecided) -> list[FaceMatch]:
        """Search the new case's face, then keep it (inside the deciding transaction)."""
        if event.kind != "verification":
            return []  # sessions match faces against a document, and keep no template of their own
        template = self._template_of(session, event.case_id)
        if template is None:
            return []
        self.refresh()
        matches = self._matches(session, event, template)
        self._keep(session, event.kind, event.case_id, event.tenant, event.user_id, template)
        return matches

    def refresh(self) -> None:
        """Load committed templates newer than the last one loaded (other workers' too)."""
        with self._refresh_lock, self.db.session() as s:
            rows = s.execute(
                select(
                    KnownFace.seq,
                    KnownFace.kind,
                    KnownFace.case_id,
                    KnownFace.tenant,
                    KnownFace.user_id,
                    KnownFace.template,
                )
                .where(KnownFace.seq > self.index.last_seq)
                .order_by(KnownFace.seq)
            ).all()
            for seq, kind, case_id, tenant, user_id, sealed in rows:
                plain = self.keyring.decrypt(sealed, row_aad("known_faces", kind, case_id))
                self.index.add(tenant, kind, case_id, user_id, np.frombuffer(plain, np.float32))
                self.index.last_seq = max(self.index.last_seq, int(seq))

    def set_fraud(self, session: Session, kind: CaseKind, case_id: str, fraud: bool) -> int:
        """Mark (or unmark) a case's face as a known fraud face; a session's is its linked
        verification's. Returns how many faces changed."""
        ids = [case_id]
        if kind == "session":
            from kycguard.store.session_models import KycSession

            s = session.get(KycSession, case_id)
            if s is not None and s.verification_id:
                ids = [s.verification_id]
            kind = "verification"
        done = session.execute(
            update(KnownFace)
            .where(KnownFace.kind == kind, KnownFace.case_id.in_(ids))
            .values(fraud=fraud)
            .execution_options(synchronize_session=False)
        )
        return int(done.rowcount)  # type: ignore[attr-defined]

    def _template_of(self, session: Session, verification_id: str) -> np.ndarray | None:
        blob = session.scalars(
            select(Blob).where(Blob.verification_id == verification_id, Blob.kind == TEMPLATE_KIND)
        ).first()
        if blob is None:
            return None
        plain = self.keyring.decrypt(blob.content, row_aad("blobs", blob.id))
        return np.frombuffer(plain, np.float32).copy()

    def _matches(
        self, session: Session, event: CaseDecided, template: np.ndarray
    ) -> list[FaceMatch]:
        hits = [
            h
            for h in self.index.search(event.tenant, template, self.max_distance)
            if h.case_id != event.case_id
        ][:MAX_HITS]
        if not hits:
            return []
        # the database is the truth: an erased or purged face may still sit in memory, and a
        # fraud label may have changed since it was loaded
        rows = session.execute(
            select(KnownFace.kind, KnownFace.case_id, KnownFace.fraud).where(
                KnownFace.case_id.in_({h.case_id for h in hits})
            )
        ).tuples()
        live = {(k, c): bool(f) for k, c, f in rows}
        hits = [h for h in hits if (h.kind, h.case_id) in live]
        fraud = {key for key, flagged in live.items() if flagged}
        best: dict[MatchKind, Hit] = {}
        for h in hits:  # nearest first: the first hit of each kind is the closest one
            if (h.kind, h.case_id) in fraud:
                best.setdefault("labelled_fraud", h)
            elif event.user_id and h.user_id and h.user_id != event.user_id:
                best.setdefault("other_identity", h)
        now = datetime.now(UTC)
        return [
            FaceMatch(
                KnownFaceMatched(
                    event.kind,
                    event.case_id,
                    event.tenant,
                    event.user_id,
                    match,
                    h.case_id,
                    h.user_id,
                    h.distance,
                    now,
                )
            )
            for match, h in best.items()
        ]

    def _keep(
        self,
        session: Session,
        kind: str,
        case_id: str,
        tenant: str | None,
        user_id: str | None,
        template: np.ndarray,
    ) -> None:
        sealed = self.keyring.encrypt(
            np.asarray(template, np.float32).tobytes(), row_aad("known_faces", kind, case_id)
        )
        session.add(
            KnownFace(
                kind=kind,
                case_id=case_id,
                tenant=tenant,
                user_id=user_id,
                fraud=False,
                created_at=datetime.now(UTC),
                key_id=self.keyring.active_id,
                template=sealed,
            )
        )
