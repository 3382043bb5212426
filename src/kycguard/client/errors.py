"""The client's exceptions: one per kind of failure, each with the server's stable error code."""

from __future__ import annotations

from typing import Any

import httpx


class KycguardError(Exception):
    """A request the server refused or failed: ``status_code``, ``code``, ``message``, and the
    ``field`` / ``details`` of the server's error body when it gave them."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 0,
        code: str = "CLIENT_ERROR",
        field: str | None = None,
        details: dict[str, Any] | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.field = field
        self.details = details or {}
        self.response = response


class AuthenticationError(KycguardError):
    """401: no, an unknown, expired or revoked key, or a bad request signature."""


class PermissionDeniedError(KycguardError):
    """403: the key's role may not use this route."""


class NotFoundError(KycguardError):
    """404: no such resource (or it belongs to another tenant)."""


class ConflictError(KycguardError):
    """409: e.g. REVIEW_ALREADY_CLAIMED, REVIEW_NOT_CLAIMED, SESSION_COMPLETED."""


class InvalidRequestError(KycguardError):
    """400/413/415/422: the request itself is wrong; ``field`` names the culprit."""


class RateLimitError(KycguardError):
    """429: ``retry_after`` seconds to wait (from ``Retry-After``)."""

    @property
    def retry_after(self) -> float | None:
        value = self.response.headers.get("Retry-After") if self.response is not None else None
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


class ServerError(KycguardError):
    """5xx: the server failed; safe to retry idempotent calls later."""


class WebhookSignatureError(KycguardError):
    """A webhook whose signature is missing, wrong or too old: do not trust its body."""


_BY_STATUS: dict[int, type[KycguardError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def raise_for_error(response: httpx.Response) -> None:
    """Turn the server's one error shape into the matching exception."""
    if response.is_success:
        return
    try:
        body = response.json().get("error", {})
    except ValueError:
        body = {}
    status = response.status_code
    if status in _BY_STATUS:
        cls = _BY_STATUS[status]
    elif status >= 500:
        cls = ServerError
    else:
        cls = InvalidRequestError
    raise cls(
        str(body.get("message") or response.reason_phrase or "request failed"),
        status_code=status,
        code=str(body.get("code") or f"HTTP_{status}"),
        field=body.get("field"),
        details=body.get("details"),
        response=response,
    )
