"""Where model work runs, and how many native threads it may use.

Every sync route and ``run_in_threadpool`` call (API-key lookup, rate-limit counters, ``/health``) shares
AnyIO's default pool of 40 tokens. Model work (a ``/verify`` call, a video frame, a session's final
decision) holds a token for seconds while it waits for the model locks, so 40 slow requests used to
leave authentication and health checks queueing behind them. Model work now takes its tokens from its
own :class:`anyio.CapacityLimiter` sized to the cores (``scale.heavy_threads``): at most that many run
at once and the rest wait for a heavy token, while the default pool stays free for the light calls.

Native libraries each start a thread pool per process sized to the machine (OpenBLAS, OpenMP, OpenCV,
onnxruntime). With N workers on C cores that is N x C threads per library competing for C cores, and
glibc gives each busy thread its own malloc arena (up to 8 x cores, each keeping freed image buffers):
:func:`native_environment` bounds both before the libraries load, :func:`limit_native_threads` after.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request

T = TypeVar("T")

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def native_environment(native_threads: int, malloc_arenas: int = 2) -> dict[str, str]:
    """Environment for a serving process, set before numpy/OpenCV/dlib load (``kycguard serve``
    passes it to its workers). Values already set by the operator win.

    ``MALLOC_MMAP_THRESHOLD_`` fixes glibc's mmap threshold at 256 KiB: by default it rises to 32 MiB
    after the first large free, so decoded images (1-20 MiB each) then come from the heap, which
    fragments and never shrinks; as mmaps they go back to the OS as soon as they are freed."""
    env = {v: str(native_threads) for v in _THREAD_VARS}
    env["MALLOC_ARENA_MAX"] = str(malloc_arenas)
    env["MALLOC_MMAP_THRESHOLD_"] = str(256 * 1024)
    env["MALLOC_TRIM_THRESHOLD_"] = str(8 * 1024 * 1024)
    return {k: os.environ.get(k, v) for k, v in env.items()}


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


def release_memory() -> None:
    """Give the heap's free pages back to the OS (glibc ``malloc_trim``) after model work."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def limit_native_threads(native_threads: int) -> None:
    """For libraries already loaded in this process (OpenCV's pool is set at call time)."""
    import cv2

    cv2.setNumThreads(native_threads)


def heavy_limiter(request: Request) -> anyio.CapacityLimiter:
    limiter = getattr(request.app.state, "heavy_limiter", None)
    if limiter is None:  # created inside the running event loop, once per app
        rt = request.app.state.runtime
        limiter = anyio.CapacityLimiter(rt.settings.scale.heavy_thread_count)
        request.app.state.heavy_limiter = limiter
    return limiter


async def run_heavy(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run model work in a worker thread holding one of the heavy tokens, not a default-pool one."""

    def call() -> T:
        try:
            return fn(*args, **kwargs)
        finally:
            release_memory()

    return await anyio.to_thread.run_sync(call, limiter=heavy_limiter(request))
