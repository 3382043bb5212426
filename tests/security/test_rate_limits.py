"""Rate limits (per key, per client address) with 429 + Retry-After, on in-memory and Redis counters,
and the lockout after repeated failed liveness attempts."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from security.helpers import (
    Deployment,
    assert_error,
    bearer,
    post_verification,
    redis_or_missing,
)

from kycguard.errors import KycError
from kycguard.security.backends import CounterBackend, MemoryBackend, RedisBackend
from kycguard.security.config import LockoutSettings, RateLimitSettings
from kycguard.security.errors import RateLimited
from kycguard.security.ratelimit import AddressRateLimit, LivenessLockout, RateLimiter


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[CounterBackend]:
    b: CounterBackend = (
        MemoryBackend() if request.param == "memory" else RedisBackend(redis_or_missing())
    )
    yield b
    b.close()


def _unique() -> str:
    return uuid.uuid4().hex


def test_per_key_limit_answers_429_with_retry_after(deployment: Deployment) -> None:
    made = deployment.create_key("reviewer", rate_limit=3)
    with deployment.client(headers=bearer(made["key"])) as c:
        for _ in range(3):
            assert_error(c.get("/api/v1/verifications/none"), 404)
        r = c.get("/api/v1/verifications/none")
        err = assert_error(r, 429, "RATE_LIMITED")
        retry = int(r.headers["Retry-After"])
        assert 1 <= retry <= 60 and err["details"]["retry_after_s"] == retry
        assert err["details"]["scope"] == "key"
    # another key is not affected
    with deployment.client(headers=deployment.headers("reviewer")) as c:
        assert_error(c.get("/api/v1/verifications/none"), 404)


def test_address_limit_covers_unauthenticated_requests(backend: CounterBackend) -> None:
    """The per-address middleware on a minimal app: real limiter, real backend, real HTTP stack."""
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"ok": "yes"}

    limiter = RateLimiter(backend, RateLimitSettings(per_address=4, window_s=30))
    app.state.runtime = SimpleNamespace(security=SimpleNamespace(limiter=limiter))
    app.add_middleware(AddressRateLimit)
    client_address = f"10.{_unique()[:2]}.0.1"  # distinct per run: Redis is shared
    transport = httpx.ASGITransport(app=app, client=(client_address, 1234))

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return [await c.get("/ping") for _ in range(4)] + [await c.get("/nothing")]

    import asyncio

    responses = asyncio.run(run())
    assert [r.status_code for r in responses[:4]] == [200] * 4
    err = assert_error(responses[4], 429, "RATE_LIMITED")  # even an unknown route
    assert err["details"]["scope"] == "address"
    assert 1 <= int(responses[4].headers["Retry-After"]) <= 30


def test_redis_counters_are_shared_between_workers() -> None:
    url = redis_or_missing()
    settings = RateLimitSettings(per_key=5, window_s=20)
    workers = [RateLimiter(RedisBackend(url), settings) for _ in range(2)]
    key = f"key_{_unique()}"
    for i in range(5):
        workers[i % 2].check_key(key, None)
    with pytest.raises(RateLimited) as caught:
        workers[1].check_key(key, None)
    assert 1 <= int(caught.value.headers["Retry-After"]) <= 20
    for w in workers:
        w.backend.close()


def test_memory_counters_are_per_process_and_windows_end() -> None:
    now = [1000.0]
    backend = MemoryBackend(clock=lambda: now[0])
    limiter = RateLimiter(backend, RateLimitSettings(per_key=2, window_s=10))
    limiter.check_key("k", None)
    limiter.check_key("k", None)
    with pytest.raises(RateLimited) as caught:
        limiter.check_key("k", None)
    assert caught.value.headers["Retry-After"] == "10"
    now[0] += 10.5  # the window is over
    limiter.check_key("k", None)
    RateLimiter(MemoryBackend(), limiter.settings).check_key("k", None)  # another process


def test_liveness_failures_lock_out_user_and_device(backend: CounterBackend) -> None:
    lockout = LivenessLockout(backend, LockoutSettings(max_failures=3, window_s=60, lockout_s=120))
    user, device = f"user-{_unique()}", f"device-{_unique()}"
    both = lockout.subjects("t1", user, device, "10.0.0.1")
    attack = {"liveness_check": {"verdict": "attack"}}
    for _ in range(2):
        lockout.check(both)
        lockout.observe(both, attack)
        lockout.observe(both, {"liveness_check": {"verdict": "live"}})  # success does not count
    lockout.check(both)
    lockout.observe(both, attack)
    with pytest.raises(KycError) as caught:
        lockout.check(lockout.subjects("t1", user, None, None))  # the user alone is locked
    assert caught.value.code == "LIVENESS_LOCKED_OUT" and caught.value.status_code == 429
    with pytest.raises(KycError):
        lockout.check(lockout.subjects("t1", "someone-else", device, None))  # and the device
    lockout.check(lockout.subjects("t2", user, None, None))  # another tenant's user of that id
    # Redis never holds the user id itself
    assert all(user not in s and device not in s for s in both)


@pytest.mark.parametrize("deployment", ["postgres+redis"], indirect=True)
def test_verify_refuses_a_locked_out_user(deployment: Deployment, photos: dict[str, bytes]) -> None:
    """/verify enforces the lockout before any model runs. The lock is planted in the server's Redis
    (a real attack verdict cannot be produced on demand); the counting itself is tested above."""
    import redis

    user = f"locked-{_unique()}"
    subject = f"user:{deployment.tenant_a}:{user}"
    client = redis.Redis.from_url(redis_or_missing())
    client.set(f"kycguard:lo:{hashlib.sha256(subject.encode()).hexdigest()[:32]}", 1, ex=90)
    client.close()
    r = post_verification(deployment, photos, user)
    assert_error(r, 429, "LIVENESS_LOCKED_OUT")
    assert 1 <= int(r.headers["Retry-After"]) <= 90
