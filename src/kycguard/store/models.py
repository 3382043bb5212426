"""ORM models of decision records. Their personal fields are sealed (``sealed``, see
:mod:`kycguard.store.personal`); images live encrypted in ``blobs``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Index, LargeBinary, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Verification(Base):
    __tablename__ = "verifications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    overall_confidence: Mapped[float] = mapped_column(Float, nullable=False)
    reasons: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    selfie_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    document_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    user_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    tenant: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # the whole answer, AES-GCM with the data keys; NULL once erased or purged (migration 0006)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    personal_erased_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    personal_erased_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # the liveness lockout's hash of the caller's X-Device-Id (migration 0012): repeated
    # rejections of one device are alerted on whatever user ids it used; cleared by erasure
    device_ref: Mapped[str | None] = mapped_column(String(32), nullable=True)

    __table_args__ = (
        Index("ix_verifications_created_at", "created_at"),
        Index("ix_verifications_status", "status"),
        Index("ix_verifications_user_id", "user_id"),
        Index("ix_verifications_device_ref", "device_ref"),
    )
