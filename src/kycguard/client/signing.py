"""Request signing (for keys created with a signing secret) and webhook verification.

The scheme is the server's own (``kycguard.security.signatures``): ``X-Timestamp`` and
``X-Signature: sha256=<hex>`` over ``timestamp.METHOD.path?query.`` + body for requests and over
``timestamp.`` + body for webhooks.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Mapping
from typing import Any

import httpx

from kycguard.client.errors import WebhookSignatureError
from kycguard.security import signatures
from kycguard.security.errors import SignatureError


class RequestSigner(httpx.Auth):
    """httpx auth: ``Authorization: Bearer <key>`` and, with a signing secret, the signature."""

    requires_request_body = True

    def __init__(self, api_key: str | None, signing_secret: str | None = None) -> None:
        self.api_key = api_key
        self.signing_secret = signing_secret

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.api_key:
            request.headers["Authorization"] = f"Bearer {self.api_key}"
        if self.signing_secret:
            path = request.url.raw_path.decode("ascii")  # path and ?query, as sent
            request.headers.update(
                signatures.sign_request(self.signing_secret, request.method, path, request.content)
            )
        yield request


def verify_webhook(
    secret: str | bytes,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: int = 300,
    now: float | None = None,
) -> dict[str, Any]:
    """The webhook's event, parsed, if its signature is right and fresh; else
    :class:`WebhookSignatureError`. ``body`` must be the raw bytes received. Remember accepted
    event ids (or signatures) for ``2 * tolerance_s`` to drop replays."""
    lowered = {k.lower(): v for k, v in headers.items()}
    names = (signatures.TIMESTAMP_HEADER, signatures.SIGNATURE_HEADER)
    canonical = {name: lowered[name.lower()] for name in names if name.lower() in lowered}
    try:
        signatures.verify_webhook(secret, canonical, body, window_s=tolerance_s, now=now)
    except SignatureError as exc:
        raise WebhookSignatureError(exc.message, code=exc.code, status_code=401) from exc
    try:
        event: dict[str, Any] = json.loads(body)
    except ValueError as exc:
        raise WebhookSignatureError("the webhook body is not JSON", code="INVALID_BODY") from exc
    return event
