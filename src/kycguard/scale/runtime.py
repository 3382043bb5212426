"""What the scale-out layer adds to a process's :class:`~kycguard.services.runtime.Runtime`."""

from __future__ import annotations

from dataclasses import dataclass

from kycguard.events import EventBus
from kycguard.jobs import PeriodicJob, ThreadRunner
from kycguard.scale.config import ScaleSettings
from kycguard.scale.idempotency import IdempotencyStore
from kycguard.scale.leases import LeaseStore
from kycguard.store.database import Database
from kycguard.store.ports import Cipher


@dataclass
class ScaleRuntime:
    settings: ScaleSettings
    idempotency: IdempotencyStore
    leases: LeaseStore

    @classmethod
    def build(
        cls,
        settings: ScaleSettings,
        database: Database,
        events: EventBus,
        cipher: Cipher | None = None,
    ) -> ScaleRuntime:
        idempotency = IdempotencyStore(database, settings, cipher)
        idempotency.subscribe(events)
        return cls(settings, idempotency, LeaseStore(database))

    def lease(self, job: PeriodicJob) -> tuple[bool, float]:
        return self.leases.acquire(job.name, job.interval_s)

    def jobs(self) -> list[PeriodicJob]:
        return [self.idempotency.job()]

    def start_jobs(self, jobs: list[PeriodicJob]) -> ThreadRunner:
        """In-process runner (each run under the cluster-wide lease), unless a task queue is set:
        then ``kycguard worker`` runs them and the API processes run none."""
        if self.settings.broker_url is not None:
            return ThreadRunner([])
        return ThreadRunner(jobs, lease=self.lease).start()
