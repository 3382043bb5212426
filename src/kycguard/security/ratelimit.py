"""Request rate limits per API key and per client address, and the liveness-failure lockout.

Fixed windows counted in a :class:`~kycguard.security.backends.CounterBackend`; beyond the limit the
answer is ``429 RATE_LIMITED`` with ``Retry-After`` (seconds until the window ends). The per-address
limit runs as ASGI middleware, so it also covers unauthenticated requests and unknown routes; the
per-key limit runs once the key is known. The client address is the one uvicorn reports: behind a
reverse proxy set uvicorn's ``--forwarded-allow-ips`` to the proxy so ``X-Forwarded-For`` is used.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from kycguard.security.backends import BackendUnavailable, CounterBackend
from kycguard.security.config import LockoutSettings, RateLimitSettings
from kycguard.security.errors import RateLimited, send_error


class RateLimiter:
    def __init__(self, backend: CounterBackend, settings: RateLimitSettings) -> None:
        self.backend = backend
        self.settings = settings

    def check(self, scope: str, ident: str, limit: int) -> None:
        if not self.settings.enabled:
            return
        count, left = self.backend.hit(f"rl:{scope}:{ident}", self.settings.window_s)
        if count > limit:
            raise RateLimited(
                f"rate limit of {limit} requests per {self.settings.window_s} s exceeded for this {scope}",
                left,
                details={"limit": limit, "window_s": self.settings.window_s, "scope": scope},
            )

    def check_key(self, key_id: str, own_limit: int | None) -> None:
        self.check("key", key_id, own_limit or self.settings.per_key)

    def check_address(self, address: str) -> None:
        self.check("address", address, self.settings.per_address)


class AddressRateLimit:
    """ASGI middleware: the per-address limit, before anything else runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            runtime = getattr(scope["app"].state, "runtime", None)
            if runtime is not None:
                client = scope.get("client")
                address = client[0] if client else "unknown"
                try:
                    await run_in_threadpool(runtime.security.limiter.check_address, address)
                except (RateLimited, BackendUnavailable) as exc:
                    await send_error(send, exc, [])
                    return
        await self.app(scope, receive, send)


class LivenessLockout:
    """Failed liveness attempts per tenant + user and per tenant + device in a window, then a lockout.

    A failed attempt is a liveness verdict of ``attack`` or ``uncertain`` (and, for sessions, a
    failed challenge, a deepfake or an injected stream). Never counted by the caller's address: a
    server-to-server integration sends every customer from one address, and one customer's attack
    must not lock out the others. Subjects are hashed before they reach the backend, so Redis never
    holds a user id.

    Check and count are one step (:meth:`reserve`): each attempt counts itself *before* it runs
    (INCR, then compare with the limit, atomic on both backends), so parallel requests cannot all
    pass a check that none has yet counted; :meth:`settle` then gives the count back for an attempt
    that did not fail, or locks the subject when a failure reached the limit.
    """

    def __init__(self, backend: CounterBackend, settings: LockoutSettings) -> None:
        self.backend = backend
        self.settings = settings

    @staticmethod
    def subjects(
        tenant: str | None,
        user_id: str | None,
        device_id: str | None,
        address: str | None = None,
    ) -> list[str]:
        """``address`` is accepted for callers' convenience and ignored (see the class docstring)."""
        found = []
        if user_id:
            found.append(f"user:{tenant}:{user_id}")
        if device_id:
            found.append(f"device:{tenant}:{device_id}")
        return [hashlib.sha256(s.encode()).hexdigest()[:32] for s in found]

    def check(self, subjects: list[str]) -> None:
        """Refuse a locked-out subject (for flows that count at their end, e.g. sessions)."""
        for s in subjects:
            left = self.backend.remaining(f"lo:{s}")
            if left is not None:
                raise _locked(left)

    def reserve(self, subjects: list[str]) -> list[tuple[str, int]]:
        """Count this attempt against every subject, or refuse it (429 LIVENESS_LOCKED_OUT) when a
        subject is locked or its failures plus attempts in flight already reach the limit.
        Returns each subject with the count this attempt holds, for :meth:`settle`."""
        self.check(subjects)
        taken: list[tuple[str, int]] = []
        for s in subjects:
            count, left = self.backend.hit(f"lf:{s}", self.settings.window_s)
            taken.append((s, count))
            if count > self.settings.max_failures:
                for t, _ in taken:
                    self.backend.release(f"lf:{t}")
                raise _locked(left)
        return taken

    def settle(self, reserved: list[tuple[str, int]], failed: bool) -> None:
        """The attempt's outcome: a failure keeps its count and locks the subject when it is the
        last one allowed (in a race of one subject's parallel attempts this may lock one failure
        early: it errs on the closed side); anything else (a pass, or an error before any
        verdict) gives the count back."""
        for s, count in reserved:
            if not failed:
                self.backend.release(f"lf:{s}")
            elif count >= self.settings.max_failures:
                self.backend.set_for(f"lo:{s}", self.settings.lockout_s)

    def observe(self, subjects: list[str], result: Mapping[str, object]) -> None:
        if liveness_failed(result):
            self.record_failure(subjects)

    def record_failure(self, subjects: list[str]) -> None:
        for s in subjects:
            count, _ = self.backend.hit(f"lf:{s}", self.settings.window_s)
            if count >= self.settings.max_failures:
                self.backend.set_for(f"lo:{s}", self.settings.lockout_s)


def _locked(left: float) -> RateLimited:
    return RateLimited(
        "too many failed liveness attempts; try again later", left, code="LIVENESS_LOCKED_OUT"
    )


def liveness_failed(result: Mapping[str, object]) -> bool:
    """A ``/verify`` decision whose passive liveness judged the selfie an attack or could not
    confirm a live person counts as a failed attempt."""
    check = result.get("liveness_check")
    return isinstance(check, dict) and check.get("verdict") in ("attack", "uncertain")
