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
    passes it to its workers). Values already set by the operator win."""
    env = {v: str(native_threads) for v in _THREAD_VARS}
    env["MALLOC_ARENA_MAX"] = str(malloc_arenas)
    return {k: os.environ.get(k, v) for k, v in env.items()}


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
    call = functools.partial(fn, *args, **kwargs)
    return await anyio.to_thread.run_sync(call, limiter=heavy_limiter(request))
