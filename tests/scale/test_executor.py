"""Model work on its own bounded limiter: light calls (auth, counters, /health) never queue behind it."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool

from kycguard.scale.config import ScaleSettings
from kycguard.scale.executor import native_environment, run_heavy


def fake_request(heavy_threads: int) -> Any:
    settings = SimpleNamespace(scale=ScaleSettings(heavy_threads=heavy_threads))
    state = SimpleNamespace(runtime=SimpleNamespace(settings=settings))
    return SimpleNamespace(app=SimpleNamespace(state=state))


def test_light_calls_do_not_wait_behind_60_model_calls() -> None:
    running, peak, lock = 0, 0, threading.Lock()

    def model_work() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(1.0)
        with lock:
            running -= 1

    async def main() -> float:
        request = fake_request(2)
        async with anyio.create_task_group() as tg:
            for _ in range(60):  # more than AnyIO's 40 default tokens
                tg.start_soon(run_heavy, request, model_work)
            await anyio.sleep(0.2)
            began = time.monotonic()
            await run_in_threadpool(lambda: None)  # what an API-key lookup or /health does
            waited = time.monotonic() - began
            tg.cancel_scope.cancel()
        return waited

    waited = anyio.run(main)
    assert waited < 0.3, waited  # sharing the default pool, it waits ~0.8 s for a free thread
    assert peak == 2  # at most heavy_threads model calls at once


def test_serving_processes_get_bounded_native_threads_and_arenas(monkeypatch: Any) -> None:
    for var in ("MALLOC_ARENA_MAX", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    env = native_environment(1)
    assert env["MALLOC_ARENA_MAX"] == "2" and env["OPENBLAS_NUM_THREADS"] == "1"
    assert int(env["MALLOC_MMAP_THRESHOLD_"]) == 256 * 1024
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the operator's value wins
    assert native_environment(1)["OMP_NUM_THREADS"] == "3"


def test_running_workers_have_the_environment(cluster: Any) -> None:
    """`kycguard serve` re-executed itself, so the server and its workers start with it."""
    for pid in [cluster.b.process.pid, *cluster.a.worker_pids()]:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert b"MALLOC_ARENA_MAX=2" in environ and b"OPENBLAS_NUM_THREADS=1" in environ, pid
