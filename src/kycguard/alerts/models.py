"""ORM model of an alert: one incident per rule + subject within the de-duplication window.

``dedup_key`` is set on the one open incident of a (type, tenant, subject) and cleared when it is
resolved or superseded (its last occurrence fell out of the window); a partial unique index on it
(migration 0012) makes two transactions unable to both open an incident for the same key.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from kycguard.store.models import Base


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    type: Mapped[str] = mapped_column(String(48), nullable=False)
    severity: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # active|acknowledged|resolved
    tenant: Mapped[str | None] = mapped_column(String(64), nullable=True)
    subject: Mapped[str] = mapped_column(String(200), nullable=False)  # user id, case id, "system"
    message: Mapped[str] = mapped_column(String(500), nullable=False)
    count: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    cases: Mapped[list[dict[str, str]]] = mapped_column(JSON, nullable=False)  # latest 50
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    digested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    dedup_key: Mapped[str | None] = mapped_column(String(64), nullable=True)  # open incident only

    __table_args__ = (
        Index("ix_alerts_dedup", "type", "subject", "tenant", "status"),
        Index("ix_alerts_last_seen", "last_seen"),
        Index("ix_alerts_severity", "severity"),
        Index(
            "uq_alerts_open_dedup_key",
            "dedup_key",
            unique=True,
            sqlite_where=text("dedup_key IS NOT NULL"),
            postgresql_where=text("dedup_key IS NOT NULL"),
        ),
    )


def dedup_key(type_: str, tenant: str | None, subject: str) -> str:
    """The key of the open incident of one rule and subject (migration 0012 computes the same)."""
    return hashlib.sha256(f"{type_}\x00{tenant or ''}\x00{subject}".encode()).hexdigest()
