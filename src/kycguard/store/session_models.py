"""ORM models of video KYC sessions: the session (all of its state), accepted frames, kept images.

Everything a worker needs to serve the next frame is in these rows, so any worker can serve any
session and a restart loses nothing. ``version`` makes every state change a compare-and-swap.
Frame rows hold hashes for replay protection, never pixels; the few kept images (face crops, the
neutral reference) are blobs read and written only through ``kycguard.sessions.frame_store``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kycguard.store.models import Base


class KycSession(Base):
    __tablename__ = "kyc_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # active|completed|deleted
    user_id: Mapped[str] = mapped_column(String(128), nullable=False)
    # the creating integrator's tenant: API-key access from any other tenant is SESSION_NOT_FOUND
    tenant: Mapped[str | None] = mapped_column(String(64), nullable=True)
    verification_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    token_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    challenges: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    frames_received: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_sequence: Mapped[int] = mapped_column(Integer, nullable=False, default=-1)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # the liveness lockout's hash of X-Device-Id at creation (migration 0012); cleared by erasure
    device_ref: Mapped[str | None] = mapped_column(String(32), nullable=True)

    __table_args__ = (
        Index("ix_kyc_sessions_user_created", "user_id", "created_at"),
        Index("ix_kyc_sessions_device_ref", "device_ref"),
        Index("ix_kyc_sessions_status", "status"),
        Index("ix_kyc_sessions_tenant", "tenant"),
        # a verification's latest video session (migration 0013)
        Index("ix_kyc_sessions_verification_id", "verification_id", "created_at"),
    )


class KycSessionFrame(Base):
    """One accepted frame: its sequence number, hash and clocks (replay protection and timing)."""

    __tablename__ = "kyc_session_frames"

    session_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("kyc_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    client_ts_ms: Mapped[float] = mapped_column(Float, nullable=False)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    face_count: Mapped[int] = mapped_column(Integer, nullable=False)

    # identical bytes are refused in every session: a real camera never repeats a JPEG exactly
    __table_args__ = (UniqueConstraint("sha256", name="uq_kyc_session_frames_sha256"),)


class KycSessionBlob(Base):
    """A kept image or reference of a session (JPEG face crops, the neutral face for pixel checks)."""

    __tablename__ = "kyc_session_blobs"

    session_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("kyc_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(64), nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
