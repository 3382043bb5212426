"""HMAC-SHA256 signatures: incoming requests of keys that have a signing secret, outgoing webhooks.

Headers (both directions): ``X-Timestamp: <unix seconds>``, ``X-Signature: sha256=<hex>``.

* Webhook: HMAC over ``f"{timestamp}." + body`` (the receiver's URL may be rewritten by proxies).
* Request: HMAC over ``f"{timestamp}.{METHOD}.{path?query}." + body``. Method and path are signed too:
  with timestamp + body alone a captured signed request could be replayed against another route, and
  two body-less GETs in the same second would carry the same signature (the second refused as a replay).

A timestamp more than ``signature_window_s`` (default 300 s) away from the server clock is refused, and
a signature seen before within the window is refused as a replay (cache in memory or Redis).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from kycguard.security.backends import CounterBackend
from kycguard.security.errors import SignatureError

TIMESTAMP_HEADER = "X-Timestamp"
SIGNATURE_HEADER = "X-Signature"
SCHEME = "sha256="


def request_message(timestamp: str, method: str, path: str, body: bytes) -> bytes:
    return f"{timestamp}.{method.upper()}.{path}.".encode() + body


def webhook_message(timestamp: str, body: bytes) -> bytes:
    return f"{timestamp}.".encode() + body


def signature(secret: bytes | str, message: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return SCHEME + hmac.new(key, message, hashlib.sha256).hexdigest()


def sign_request(
    secret: bytes | str, method: str, path: str, body: bytes = b"", timestamp: int | None = None
) -> dict[str, str]:
    """The headers a client adds to a request (``path`` includes ``?query`` if any)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        TIMESTAMP_HEADER: ts,
        SIGNATURE_HEADER: signature(secret, request_message(ts, method, path, body)),
    }


def sign_webhook(secret: bytes | str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers kycguard adds to an outgoing webhook."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: signature(secret, webhook_message(ts, body))}


def _check(
    expected_message: bytes,
    secret: bytes | str,
    timestamp: str | None,
    sig: str | None,
    window_s: int,
    now: float | None,
) -> str:
    if not timestamp or not sig:
        raise SignatureError(
            f"this key signs its requests: send {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}",
            code="SIGNATURE_REQUIRED",
        )
    if not timestamp.isdigit():
        raise SignatureError(f"{TIMESTAMP_HEADER} must be unix seconds", code="SIGNATURE_INVALID")
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > window_s:
        raise SignatureError(
            f"{TIMESTAMP_HEADER} is more than {window_s} s away from the server clock",
            code="SIGNATURE_EXPIRED",
        )
    if not hmac.compare_digest(signature(secret, expected_message), sig.strip()):
        raise SignatureError("the signature does not match the request", code="SIGNATURE_INVALID")
    return sig.strip()


class RequestVerifier:
    """Verifies signed requests and remembers signatures for the window (replay protection)."""

    def __init__(self, replay: CounterBackend, window_s: int) -> None:
        self.replay = replay
        self.window_s = window_s

    def verify(
        self,
        secret: bytes,
        headers: Mapping[str, str],
        method: str,
        path: str,
        body: bytes,
        now: float | None = None,
    ) -> None:
        ts = headers.get(TIMESTAMP_HEADER)
        sig = _check(
            request_message(ts or "", method, path, body),
            secret,
            ts,
            headers.get(SIGNATURE_HEADER),
            self.window_s,
            now,
        )
        # timestamps are accepted +- window: remember for twice the window
        if not self.replay.add_once(f"sig:{sig[len(SCHEME) :]}", 2 * self.window_s):
            raise SignatureError(
                "this signed request was already received", code="SIGNATURE_REPLAYED"
            )


def verify_webhook(
    secret: bytes | str,
    headers: Mapping[str, str],
    body: bytes,
    window_s: int = 300,
    now: float | None = None,
) -> None:
    """For webhook receivers: raises SignatureError unless the webhook is authentic and fresh.

    Receivers should also remember the signatures they accepted for ``2 * window_s`` to drop replays.
    """
    ts = headers.get(TIMESTAMP_HEADER)
    _check(
        webhook_message(ts or "", body), secret, ts, headers.get(SIGNATURE_HEADER), window_s, now
    )
