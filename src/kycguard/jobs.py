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


# (acquired, epoch seconds when the job is next due): see kycguard.scale.leases
Lease = Callable[[PeriodicJob], tuple[bool, float]]


class ThreadRunner:
    """Runs every job once at start, then each at its own interval, until ``stop()``.

    With a ``lease`` (several processes), a job runs only in the process that takes its lease for the
    interval; the others wait until the job is due again and try then."""

    def __init__(
        self, jobs: Sequence[PeriodicJob], *, tick_s: float = 0.5, lease: Lease | None = None
    ) -> None:
        self.jobs = list(jobs)
        self.tick_s = tick_s
        self.lease = lease
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
                    due[job.name] = self._run_due(job)
            self._stop.wait(self.tick_s)

    def _run_due(self, job: PeriodicJob) -> float:
        """Run ``job`` if this process may; the monotonic time it is next due here."""
        if self.lease is not None:
            try:
                acquired, until = self.lease(job)
            except Exception:
                log.exception("cannot take the lease of job %s", job.name)
                return time.monotonic() + min(job.interval_s, 30.0)
            if not acquired:
                return time.monotonic() + max(self.tick_s, until - time.time())
        run_once(job)
        return time.monotonic() + job.interval_s


def run_once(job: PeriodicJob) -> None:
    """One run; a failure is logged and retried at the next interval, never kills the runner."""
    try:
        job.run()
    except Exception:
        log.exception("periodic job %s failed", job.name)
