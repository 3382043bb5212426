"""Prometheus metrics on prometheus_client's default registry (names prefixed ``kycguard_``).

Labels are route templates, statuses and detector names only: never an id, a user or a tenant, so
nothing personal reaches a scraper. Counts of decisions are taken when the deciding transaction
commits (``after_commit``), so a rolled-back decision is never counted.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kycguard.events import CaseDecided, ReviewDecided

REQUEST_SECONDS = Histogram(
    "kycguard_http_request_duration_seconds",
    "HTTP request duration by route template, method and status code.",
    ("route", "method", "status"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DECISIONS = Counter(
    "kycguard_decisions_total",
    "Decisions stored, by kind (verification|session) and status.",
    ("kind", "status"),
)
REVIEW_DECISIONS = Counter(
    "kycguard_review_decisions_total",
    "Reviewer decisions, by kind, decision and final status.",
    ("kind", "decision", "status"),
)
PROCESSING_SECONDS = Histogram(
    "kycguard_processing_seconds",
    "Time to decide a case (the answer's processing_time_ms), by kind.",
    ("kind",),
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60),
)
DETECTOR_SECONDS = Histogram(
    "kycguard_detector_seconds",
    "Time spent in one detector or check, by detector name.",
    ("detector",),
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def count_decisions(session: Session, event: Any) -> None:
    """Event-bus subscriber: count the decision once its transaction commits."""

    def on_commit(_session: Session) -> None:
        if isinstance(event, CaseDecided):
            DECISIONS.labels(event.kind, event.status).inc()
            ms = event.result.get("processing_time_ms")
            if isinstance(ms, int | float):
                PROCESSING_SECONDS.labels(event.kind).observe(ms / 1000.0)
            for name, seconds in _detector_timings(event.result):
                DETECTOR_SECONDS.labels(name).observe(seconds)
        elif isinstance(event, ReviewDecided):
            REVIEW_DECISIONS.labels(event.kind, event.decision, event.status).inc()

    sa_event.listen(session, "after_commit", on_commit, once=True)


def _detector_timings(result: dict[str, Any]) -> list[tuple[str, float]]:
    """``timings_ms`` of an answer, when its producer reports them ({"detector": ms})."""
    timings = result.get("timings_ms")
    if not isinstance(timings, dict):
        return []
    return [
        (str(k)[:48], float(v) / 1000.0) for k, v in timings.items() if isinstance(v, int | float)
    ]


class RequestMetrics:
    """ASGI middleware: one histogram observation per HTTP request, labelled by route template
    (``/api/v1/reviews/{review_id}``), never by the concrete path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", None)
            REQUEST_SECONDS.labels(
                template or "unmatched", scope.get("method", ""), str(status["code"])
            ).observe(time.perf_counter() - started)
