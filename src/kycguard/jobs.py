"""Periodic background work (retention purge, alert and webhook delivery, digests).

A job is a named function run every ``interval_s``. In the embedded default one daemon thread of the
serving process runs them; a scaled-out deployment runs the same functions from its task queue's
scheduler instead (one runner per cluster), so the code of a job never knows which runs it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval_s: float
    run: Callable[[], object]


class ThreadRunner:
    """Runs every job once at start, then each at its own interval, until ``stop()``."""

    def __init__(self, jobs: Sequence[PeriodicJob], *, tick_s: float = 0.5) -> None:
        self.jobs = list(jobs)
        self.tick_s = tick_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="kycguard-jobs", daemon=True)

    def start(self) -> ThreadRunner:
        if self.jobs:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        due = dict.fromkeys((j.name for j in self.jobs), 0.0)
        while not self._stop.is_set():
            now = time.monotonic()
            for job in self.jobs:
                if now >= due[job.name]:
                    run_once(job)
                    due[job.name] = time.monotonic() + job.interval_s
            self._stop.wait(self.tick_s)


def run_once(job: PeriodicJob) -> None:
    """One run; a failure is logged and retried at the next interval, never kills the runner."""
    try:
        job.run()
    except Exception:
        log.exception("periodic job %s failed", job.name)
