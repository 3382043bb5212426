"""The task queue: Celery on Redis or RabbitMQ (``scale.broker_url``), running ``runtime.jobs``.

The same :class:`~kycguard.jobs.PeriodicJob` functions run either way. Embedded default: a thread of
the serving process runs them (:class:`~kycguard.jobs.ThreadRunner`). With a broker: the API processes
run none; ``kycguard worker`` consumes the queue (one task, ``kycguard.run_job``, naming the job) and
schedules it: every worker's scheduler tries to enqueue each job when due, and the job's lease in the
database lets exactly one enqueue per interval, however many workers run. A task is acknowledged
after it ran (``acks_late``), so a worker killed mid-job leaves it on the queue for another.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from celery import Celery

from kycguard.errors import ConfigError
from kycguard.jobs import Lease, PeriodicJob, ThreadRunner, run_once

log = logging.getLogger("kycguard.tasks")
TASK = "kycguard.run_job"
QUEUE = "kycguard"


def make_app(broker_url: str, jobs: Sequence[PeriodicJob] = ()) -> Celery:
    """A Celery app whose one task runs the named job of ``jobs`` (the worker's ``runtime.jobs``)."""
    app = Celery("kycguard", broker=broker_url)
    app.conf.update(
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    by_name = {j.name: j for j in jobs}

    @app.task(name=TASK)
    def run_job(name: str) -> None:
        job = by_name.get(name)
        if job is None:
            log.error("unknown job %s (not in this worker's runtime.jobs)", name)
            return
        run_once(job)

    return app


def scheduler(
    app: Celery, jobs: Sequence[PeriodicJob], lease: Lease, tick_s: float = 0.5
) -> ThreadRunner:
    """Enqueues each job once per interval per cluster (the lease decides who enqueues)."""

    def enqueue(name: str) -> PeriodicJob:
        job = next(j for j in jobs if j.name == name)
        return PeriodicJob(name, job.interval_s, lambda: app.send_task(TASK, args=[name]))

    return ThreadRunner([enqueue(j.name) for j in jobs], tick_s=tick_s, lease=lease)


def run_worker(concurrency: int = 1, schedule: bool = True) -> int:
    """``kycguard worker``: load the runtime once, schedule the jobs, consume the queue until stopped."""
    from kycguard.services.runtime import open_runtime
    from kycguard.settings import get_settings

    settings = get_settings()
    if settings.scale.broker_url is None:
        raise ConfigError(
            "kycguard worker needs a task queue: set KYCGUARD_SCALE__BROKER_URL "
            "(redis://127.0.0.1:6379/1 or amqp://guest:guest@127.0.0.1:5672//); without one the "
            "API process runs the jobs itself"
        )
    with open_runtime(settings) as rt:
        app = make_app(settings.scale.broker_url.get_secret_value(), rt.jobs)
        runner = scheduler(app, rt.jobs, rt.scale.lease).start() if schedule else None
        try:
            worker = app.Worker(
                pool="threads" if concurrency > 1 else "solo",
                concurrency=concurrency,
                queues=[QUEUE],
                loglevel="INFO",
                without_gossip=True,
                without_mingle=True,
                without_heartbeat=True,
            )
            worker.start()
            return int(worker.exitcode or 0)
        finally:
            if runner is not None:
                runner.stop()
