"""``ScaleSettings``: the ``scale`` section of the settings (env ``KYCGUARD_SCALE__<FIELD>``)."""

from __future__ import annotations

import os

from pydantic import BaseModel, Field, SecretStr


class ScaleSettings(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}

    workers: int = Field(
        1,
        ge=1,
        description="Serving processes on this host (`kycguard serve --workers N` sets it). Above 1, "
        "counters must live in Redis: the service refuses to start on in-memory backends.",
    )
    broker_url: SecretStr | None = Field(
        None,
        description="Celery broker (redis://... or amqp://...). Set: periodic jobs run on the queue "
        "(`kycguard worker`), not in the API processes. Unset: in-process (embedded default).",
    )
    heavy_threads: int = Field(
        0,
        ge=0,
        description="Threads for model work (/verify, frames, completion) per process; 0: the "
        "number of cores. Authentication and /health never wait behind them.",
    )
    native_threads: int = Field(
        1,
        ge=1,
        description="Threads each native library (OpenCV, onnxruntime, OpenBLAS) may use per call: "
        "parallelism comes from requests, so workers do not fight over cores.",
    )
    idempotency_ttl_s: int = Field(
        86_400, ge=60, description="How long an Idempotency-Key and its first answer are kept."
    )
    idempotency_wait_s: float = Field(
        15.0,
        ge=0,
        description="A duplicate arriving while the first request runs waits this long for its "
        "answer, then gets 409 IDEMPOTENCY_IN_PROGRESS.",
    )
    idempotency_lock_s: float = Field(
        300.0,
        ge=10,
        description="An in-progress key older than this belongs to a dead worker: a retry takes it over.",
    )

    @property
    def heavy_thread_count(self) -> int:
        return self.heavy_threads or max(1, len(os.sched_getaffinity(0)))
