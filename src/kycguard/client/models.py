"""What the client returns: small frozen dataclasses over the server's JSON (``raw`` holds all of
it, so fields the server adds later are never lost)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Verification:
    """A ``/verify`` answer (with a reviewer's outcome laid over it once decided)."""

    id: str
    status: str
    overall_confidence: float
    reasons: list[str]
    review: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False)

    @staticmethod
    def of(body: dict[str, Any]) -> Verification:
        return Verification(
            id=str(body["verification_id"]),
            status=str(body["status"]),
            overall_confidence=float(body.get("overall_confidence") or 0.0),
            reasons=list(body.get("reasons") or []),
            review=body.get("review"),
            raw=body,
        )


@dataclass(frozen=True)
class SessionStart:
    """A new video session: hand ``session_token`` (only) to the customer's browser."""

    id: str
    session_token: str
    challenges: list[Any]
    raw: dict[str, Any] = field(repr=False)

    @staticmethod
    def of(body: dict[str, Any]) -> SessionStart:
        return SessionStart(
            id=str(body["session_id"]),
            session_token=str(body["session_token"]),
            challenges=list(body.get("challenges") or []),
            raw=body,
        )


@dataclass(frozen=True)
class ReviewCase:
    """A case of the review queue."""

    id: str
    kind: str
    case_id: str
    status: str
    risk_score: int
    reasons: list[str]
    claimed_by: str | None
    decision: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False)

    @staticmethod
    def of(body: dict[str, Any]) -> ReviewCase:
        return ReviewCase(
            id=str(body["id"]),
            kind=str(body["kind"]),
            case_id=str(body["case_id"]),
            status=str(body["status"]),
            risk_score=int(body["risk_score"]),
            reasons=list(body.get("reasons") or []),
            claimed_by=body.get("claimed_by"),
            decision=body.get("decision"),
            raw=body,
        )

    @property
    def evidence(self) -> dict[str, Any] | None:
        """Present on a case read with ``reviews.get``."""
        return self.raw.get("evidence")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; ``next_page()`` fetches the following one (None at the end)."""

    items: list[T]
    next_cursor: str | None
    _fetch: Callable[[str], Page[T]] | None = field(default=None, repr=False, compare=False)

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def next_page(self) -> Page[T] | None:
        if self.next_cursor is None or self._fetch is None:
            return None
        return self._fetch(self.next_cursor)
