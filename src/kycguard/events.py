"""Decisions as events, published inside the transaction that stores them.

Alerts, integrator webhooks, the review queue and metrics all react to the same moment: a case
(a ``/verify`` verification or a video session) was decided. Subscribers run inside the storing
transaction with its SQLAlchemy session, so whatever they write (an outbox row, a review case)
commits together with the decision or not at all; nothing is sent from here. This module knows
nothing of the layers above it: they subscribe at start (``services.runtime``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

CaseKind = Literal["verification", "session"]


@dataclass(frozen=True)
class CaseDecided:
    """One decided case. ``result`` is the answer the caller got (the stored record)."""

    kind: CaseKind
    case_id: str
    tenant: str | None
    user_id: str | None
    status: str
    result: dict[str, Any]
    decided_at: datetime
    device_ref: str | None = None  # the lockout's hash of the caller's X-Device-Id, if sent


@dataclass(frozen=True)
class ReviewDecided:
    """A reviewer decided a ``manual_review`` case (``decision``: approve / reject /
    request_resubmission); ``status`` is the case's final status after it."""

    kind: CaseKind
    case_id: str
    review_id: str
    tenant: str | None
    user_id: str | None
    decision: str
    reason: str
    status: str
    reviewer: str
    decided_at: datetime


@dataclass(frozen=True)
class CaseLabelled:
    """Ground truth for a case (reviewer feedback): the labels behind FAR/FRR and known faces."""

    kind: CaseKind
    case_id: str
    tenant: str | None
    user_id: str | None
    was_fraud: bool
    labelled_by: str
    labelled_at: datetime


@dataclass(frozen=True)
class KnownFaceMatched:
    """A new case's face matched a face labelled fraud, or another identity of the same tenant."""

    kind: CaseKind
    case_id: str
    tenant: str | None
    user_id: str | None
    match: Literal["labelled_fraud", "other_identity"]
    other_case_id: str
    other_user_id: str | None
    distance: float
    detected_at: datetime


Event = CaseDecided | ReviewDecided | CaseLabelled | KnownFaceMatched
Subscriber = Callable[[Session, Any], None]


class EventBus:
    """Synchronous, in-transaction fan-out. A subscriber's exception rolls the event's transaction
    back (the decision is not stored), so subscribers must only write, never call out."""

    def __init__(self) -> None:
        self._subscribers: list[tuple[tuple[type, ...], Subscriber]] = []

    def subscribe(self, subscriber: Subscriber, *types: type) -> None:
        """``subscriber(session, event)`` for events of ``types`` (every type when none given)."""
        self._subscribers.append((types, subscriber))

    def publish(self, session: Session, event: Event) -> None:
        for types, subscriber in self._subscribers:
            if not types or isinstance(event, types):
                subscriber(session, event)
