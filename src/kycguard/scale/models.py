"""Tables of the scale-out layer: job leases and idempotency keys (migration 0009)."""

from __future__ import annotations

from sqlalchemy import Float, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kycguard.store.models import Base


class JobLease(Base):
    """Who ran a periodic job last and when: one row per job, taken once ``ran_at`` is an interval old."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128), nullable=False)
    ran_at: Mapped[float] = mapped_column(Float, nullable=False)  # epoch seconds
    runs: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # cluster-wide count


class IdempotencyRecord(Base):
    """The first answer to a request sent with an ``Idempotency-Key``, per caller scope.

    The unique (scope, key) constraint is what makes two concurrent duplicates one case: only one
    INSERT wins; the other waits for the winner's answer."""

    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(160), nullable=False)
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    endpoint: Mapped[str] = mapped_column(String(64), nullable=False)
    request_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)  # in_progress | done
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # the answer's JSON, sealed with the data keys (it holds the case's personal data)
    response: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    locked_until: Mapped[float] = mapped_column(Float, nullable=False)
    expires_at: Mapped[float] = mapped_column(Float, nullable=False)

    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),)
