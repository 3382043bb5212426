"""Rate limits (per key, per client address) with 429 + Retry-After, on in-memory and Redis counters,
and the lockout after repeated failed liveness attempts."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import pytest
from documents.render import Identity, camera, on_table, render_td1
from fastapi import FastAPI
from PIL import Image, ImageOps
from security.helpers import (
    Deployment,
    assert_error,
    bearer,
    redis_or_missing,
)
from support.env import missing
from support.imagefiles import encode
from support.servers import Server

from kycguard.errors import KycError
from kycguard.security.backends import CounterBackend, MemoryBackend, RedisBackend
from kycguard.security.config import LockoutSettings, RateLimitSettings
from kycguard.security.errors import RateLimited
from kycguard.security.ratelimit import (
    AddressRateLimit,
    LivenessLockout,
    RateLimiter,
    liveness_failed,
)


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


def test_uncertain_verdicts_count_and_an_address_alone_is_no_subject(
    backend: CounterBackend,
) -> None:
    lockout = LivenessLockout(backend, LockoutSettings(max_failures=2, window_s=60, lockout_s=120))
    user = lockout.subjects("t1", f"user-{_unique()}", None, "10.0.0.1")
    for _ in range(2):
        lockout.settle(
            lockout.reserve(user), liveness_failed({"liveness_check": {"verdict": "uncertain"}})
        )
    with pytest.raises(KycError) as caught:
        lockout.reserve(user)
    assert caught.value.code == "LIVENESS_LOCKED_OUT"
    # one integrator's server sends every customer from one address: never a lockout subject
    assert lockout.subjects("t1", None, None, "10.0.0.1") == []


def test_parallel_attempts_cannot_slip_past_the_check(backend: CounterBackend) -> None:
    """20 attempts of one user at once, 3 allowed: each counts itself before it runs, so exactly 3
    run; the others are refused at once. Passing attempts give their count back."""
    lockout = LivenessLockout(backend, LockoutSettings(max_failures=3, window_s=60, lockout_s=120))
    user = lockout.subjects("t1", f"user-{_unique()}", None)
    start = threading.Barrier(20)

    def attempt() -> list[tuple[str, int]] | None:
        start.wait()
        try:
            return lockout.reserve(user)
        except KycError:
            return None

    with ThreadPoolExecutor(20) as pool:
        held = [r for r in pool.map(lambda _: attempt(), range(20)) if r is not None]
    assert len(held) == 3
    # the attempt holding the 3rd count locks the user if it fails (the closed side of the race,
    # see settle): the two later counts pass and the first one fails, whichever thread held which
    held.sort(key=lambda r: r[0][1])
    for r in held[1:]:
        lockout.settle(r, failed=False)  # two passed: their counts come back
    lockout.settle(held[0], failed=True)
    lockout.settle(lockout.reserve(user), failed=True)  # two failures so far, one attempt left
    last = lockout.reserve(user)
    with pytest.raises(KycError):
        lockout.reserve(user)  # the third is in flight: nobody else may start
    lockout.settle(last, failed=True)
    with pytest.raises(KycError) as caught:
        lockout.reserve(user)
    assert caught.value.code == "LIVENESS_LOCKED_OUT" and caught.value.status_code == 429


# -- the lockout through HTTP, with real attack verdicts, on both counter backends -------------


@pytest.fixture(scope="module", params=["memory", "redis"])
def lockout_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server that locks a user or device out after 2 failed liveness attempts."""
    folder = tmp_path_factory.mktemp(f"lockout_{request.param}")
    env = {
        "KYCGUARD_DATABASE_URL": f"sqlite:///{folder / 'kycguard.db'}",
        "KYCGUARD_SECURITY__LIVENESS_LOCKOUT__MAX_FAILURES": "2",
        "KYCGUARD_SECURITY__RATE_LIMITS__PER_KEY": "100000",
        "KYCGUARD_SECURITY__RATE_LIMITS__PER_ADDRESS": "100000",
    }
    if request.param == "redis":
        env["KYCGUARD_REDIS_URL"] = redis_or_missing()
    server = Server(env, folder)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def attack_photos(eval_data: Path) -> dict[str, bytes]:
    """A printed photo held up to a camera (Silent-Face image_F1: passive liveness says attack)
    and an ID card carrying the same person's live photo (image_T1)."""
    pad = eval_data / "pad/silent_face/images"
    face = np.asarray(ImageOps.exif_transpose(Image.open(pad / "image_T1.jpg")).convert("RGB"))
    try:
        card = render_td1(face, Identity(document_number="D23145890"))
    except FileNotFoundError as exc:
        missing(str(exc))
    return {
        "card": encode(camera(on_table(card.image, tilt=0.05, angle_deg=-2))),
        "printed": (pad / "image_F1.jpg").read_bytes(),
    }


def _verify(server: Server, tenant: str, user: str, card: bytes, selfie: bytes) -> httpx.Response:
    with httpx.Client(base_url=server.base_url, timeout=120) as c:
        return c.post(
            "/api/v1/verify",
            files={
                "id_document": ("id.jpg", card, "image/jpeg"),
                "selfie": ("selfie.jpg", selfie, "image/jpeg"),
            },
            data={"user_id": user},
            headers=server.headers("integrator", tenant),
        )


@pytest.mark.evaldata
def test_verify_locks_out_a_user_after_real_attacks_even_in_parallel(
    lockout_server: Server, attack_photos: dict[str, bytes], photos: dict[str, bytes]
) -> None:
    """Four printed-photo attempts of one user sent at once, 2 allowed: two run (rejected for
    liveness), two are refused before any model runs; then the user is locked out. Another user
    of the tenant, from the same address, and the same user id in another tenant are not."""
    user, tenant = f"mallory-{_unique()[:8]}", "lock-a"
    lockout_server.headers("integrator", tenant)  # the key exists before the race starts
    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(
                lambda _: _verify(
                    lockout_server, tenant, user, attack_photos["card"], attack_photos["printed"]
                ),
                range(4),
            )
        )
    ran = [r.json() for r in answers if r.status_code == 200]
    refused = [r for r in answers if r.status_code == 429]
    assert len(ran) == 2 and len(refused) == 2, [r.text[:200] for r in answers]
    assert all(r["status"] == "rejected" and "LIVENESS_FAILED" in r["reasons"] for r in ran)
    assert all(r.json()["error"]["code"] == "LIVENESS_LOCKED_OUT" for r in refused)
    r = _verify(lockout_server, tenant, user, photos["card"], photos["obama2"])
    assert_error(r, 429, "LIVENESS_LOCKED_OUT")  # locked, even with a genuine attempt now
    assert 1 <= int(r.headers["Retry-After"]) <= 3600
    other = _verify(
        lockout_server, tenant, f"honest-{_unique()[:8]}", photos["card"], photos["obama2"]
    )
    assert other.status_code == 200 and other.json()["status"] == "approved", other.text[:300]
    elsewhere = _verify(lockout_server, "lock-b", user, photos["card"], photos["obama2"])
    assert elsewhere.status_code == 200, elsewhere.text[:300]
