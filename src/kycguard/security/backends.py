"""Where counters live: process memory (default, one worker) or Redis (``KYCGUARD_REDIS_URL``, shared by
every worker and host). Rate limits, the signature replay cache and liveness lockouts all use this one
small interface, so each works identically on both.

A Redis failure is not ignored: checks fail closed (``503 SECURITY_BACKEND_UNAVAILABLE``), because a
replay cache or lockout that silently stops counting is a hole, not a degraded mode.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from kycguard.errors import KycError


class BackendUnavailable(KycError):
    code = "SECURITY_BACKEND_UNAVAILABLE"
    status_code = 503


class CounterBackend(Protocol):
    name: str

    def hit(self, key: str, window_s: float) -> tuple[int, float]:
        """Count one event in the window that started at the key's first event: (count, seconds left)."""

    def add_once(self, key: str, ttl_s: float) -> bool:
        """Remember ``key`` for ``ttl_s``; False if it was already remembered (a replay)."""

    def release(self, key: str) -> None:
        """Take back one event counted by ``hit`` (never below zero; the window is kept)."""

    def set_for(self, key: str, ttl_s: float) -> None: ...

    def remaining(self, key: str) -> float | None:
        """Seconds until a key set with ``set_for`` expires; None if absent."""

    def close(self) -> None: ...


class MemoryBackend:
    """Thread-safe dict of (value, expiry). Expired entries are swept as the dict grows."""

    name = "memory"

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._data: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._next_sweep = 1024

    def _live(self, key: str, now: float) -> tuple[int, float] | None:
        item = self._data.get(key)
        if item is None or item[1] <= now:
            return None
        return item

    def _sweep(self, now: float) -> None:
        if len(self._data) >= self._next_sweep:
            self._data = {k: v for k, v in self._data.items() if v[1] > now}
            self._next_sweep = max(1024, 2 * len(self._data))

    def hit(self, key: str, window_s: float) -> tuple[int, float]:
        now = self._clock()
        with self._lock:
            self._sweep(now)
            item = self._live(key, now)
            count, expires = (item[0] + 1, item[1]) if item else (1, now + window_s)
            self._data[key] = (count, expires)
            return count, expires - now

    def add_once(self, key: str, ttl_s: float) -> bool:
        now = self._clock()
        with self._lock:
            self._sweep(now)
            if self._live(key, now):
                return False
            self._data[key] = (1, now + ttl_s)
            return True

    def release(self, key: str) -> None:
        now = self._clock()
        with self._lock:
            item = self._live(key, now)
            if item is not None and item[0] > 0:
                self._data[key] = (item[0] - 1, item[1])

    def set_for(self, key: str, ttl_s: float) -> None:
        with self._lock:
            self._data[key] = (1, self._clock() + ttl_s)

    def remaining(self, key: str) -> float | None:
        now = self._clock()
        with self._lock:
            item = self._live(key, now)
            return None if item is None else item[1] - now

    def close(self) -> None:
        self._data.clear()


# DECR only a live positive counter: a DECR on a missing key would create -1 with no expiry.
_RELEASE = """
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
if v > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


class RedisBackend:
    """The same operations on Redis; keys are prefixed ``kycguard:``."""

    name = "redis"

    def __init__(self, url: str, prefix: str = "kycguard:") -> None:
        import redis

        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix
        self._release = self._client.register_script(_RELEASE)
        self._call(self._client.ping)

    def _call(self, fn: Any, *args: Any, **kw: Any) -> Any:
        try:
            return fn(*args, **kw)
        except self._errors as exc:
            raise BackendUnavailable(
                f"the Redis security backend is unavailable ({type(exc).__name__}); request refused"
            ) from exc

    def hit(self, key: str, window_s: float) -> tuple[int, float]:
        k = self._prefix + key
        pipe = self._client.pipeline(transaction=True)
        pipe.set(k, 0, px=max(1, int(window_s * 1000)), nx=True)
        pipe.incr(k)
        pipe.pttl(k)
        _, count, pttl = self._call(pipe.execute)
        return int(count), max(0, int(pttl)) / 1000

    def add_once(self, key: str, ttl_s: float) -> bool:
        done = self._call(
            self._client.set, self._prefix + key, 1, px=max(1, int(ttl_s * 1000)), nx=True
        )
        return bool(done)

    def release(self, key: str) -> None:
        self._call(self._release, keys=[self._prefix + key])

    def set_for(self, key: str, ttl_s: float) -> None:
        self._call(self._client.set, self._prefix + key, 1, px=max(1, int(ttl_s * 1000)))

    def remaining(self, key: str) -> float | None:
        pttl = int(self._call(self._client.pttl, self._prefix + key))
        return pttl / 1000 if pttl > 0 else None

    def close(self) -> None:
        self._client.close()


def open_backend(redis_url: str | None) -> CounterBackend:
    return RedisBackend(redis_url) if redis_url else MemoryBackend()
