"""ORM model of an integrator's webhook endpoint. ``secret`` is AES-256-GCM ciphertext (keyring)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from kycguard.security.rotation import EncryptedColumn, register_encrypted_column
from kycguard.store.models import Base


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), nullable=False)
    url: Mapped[str] = mapped_column(String(2000), nullable=False)
    description: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    events: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    secret: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (Index("ix_webhook_endpoints_tenant", "tenant"),)


register_encrypted_column(
    EncryptedColumn(WebhookEndpoint.__table__, ("id",), "secret")  # type: ignore[arg-type]
)
