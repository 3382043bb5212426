"""ORM model of the scheduled tuning reports (migration 0011).

A report is stored whether or not it is applied: the proposal is what a compliance team reviews, and
``status`` says what became of it (``proposed``; ``applied`` with the policy version it created;
``not_applied`` with why: auto-apply off, too few labels, a value outside its bounds).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kycguard.store.models import Base


class TuningReport(Base):
    __tablename__ = "tuning_reports"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    policy_name: Mapped[str] = mapped_column(String(64), nullable=False)
    policy_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # decisions stored since the previous report when this one was made (the trigger)
    decisions: Mapped[int] = mapped_column(Integer, nullable=False)
    window_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    window_to: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    proposed: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    applied_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")

    __table_args__ = (Index("ix_tuning_reports_created_at", "created_at"),)
