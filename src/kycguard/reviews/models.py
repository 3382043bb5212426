"""ORM models of the review workflow: review cases, ground-truth labels, known face templates.

The stored decision of a verification or session is never rewritten: a reviewer's outcome lives in
``review_cases`` and is laid over the original answer when it is read (``ReviewService.overlay``).
Known-face templates are AES-256-GCM ciphertext (associated data ``known_faces/<id>``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kycguard.store.models import Base


class ReviewCase(Base):
    """One case in the queue. ``status`` is ``open`` / ``claimed`` / ``decided``; a ``claimed``
    row whose ``claim_expires_at`` has passed is shown and treated as ``open``."""

    __tablename__ = "review_cases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    case_id: Mapped[str] = mapped_column(String(36), nullable=False)
    tenant: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    original_status: Mapped[str] = mapped_column(String(16), nullable=False)
    risk_score: Mapped[int] = mapped_column(Integer, nullable=False)
    reasons: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    claim_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    # the first reviewer's reject-as-fraud awaiting a second reviewer (when the setting asks)
    pending: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    final_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        UniqueConstraint("kind", "case_id", name="uq_review_cases_case"),
        Index("ix_review_cases_queue", "status", "risk_score", "created_at"),
        Index("ix_review_cases_tenant", "tenant"),
    )


class CaseLabel(Base):
    """Ground truth for one case (reviewer feedback); the latest label wins."""

    __tablename__ = "case_labels"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    was_fraud: Mapped[bool] = mapped_column(Boolean, nullable=False)
    notes: Mapped[str] = mapped_column(Text, nullable=False, default="")
    labelled_by: Mapped[str] = mapped_column(String(128), nullable=False)
    labelled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    case_created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (Index("ix_case_labels_case_created_at", "case_created_at"),)


class KnownFace(Base):
    """A face template of one case: searched for other identities of the tenant and, once the
    case is labelled fraud, kept as a known fraud face."""

    __tablename__ = "known_faces"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    case_id: Mapped[str] = mapped_column(String(36), nullable=False)
    tenant: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    fraud: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    key_id: Mapped[str] = mapped_column(String(32), nullable=False)
    template: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)

    __table_args__ = (
        UniqueConstraint("kind", "case_id", name="uq_known_faces_case"),
        Index("ix_known_faces_tenant", "tenant"),
        Index("ix_known_faces_user_id", "user_id"),
    )
