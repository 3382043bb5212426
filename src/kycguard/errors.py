"""The one error type of kycguard and its JSON shape.

Every failure a caller can cause is a :class:`KycError` with a stable machine ``code`` and an HTTP
status; the API renders all of them (and FastAPI's own validation errors) as::

    {"error": {"code": "IMAGE_TRUNCATED", "message": "...", "field": "selfie", "details": {...}}}

Codes are part of the public API: add new ones, never rename.
"""

from __future__ import annotations

from typing import Any


class KycError(Exception):
    """A failure with a stable code, an HTTP status and a message a developer understands."""

    code: str = "INTERNAL_ERROR"
    status_code: int = 500

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        field: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.field = field
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.details:
            body["details"] = self.details
        return {"error": body}


class InvalidRequest(KycError):
    """The request itself is malformed: missing or unknown fields, bad JSON, wrong types."""

    code = "INVALID_REQUEST"
    status_code = 422


class InvalidImage(KycError):
    """An upload that is not a decodable image within the limits."""

    code = "INVALID_IMAGE"
    status_code = 422


class PayloadTooLarge(KycError):
    code = "PAYLOAD_TOO_LARGE"
    status_code = 413


class UnsupportedMediaType(KycError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status_code = 415


class FaceNotUsable(KycError):
    """The image decoded but holds no usable face (none, several, too small)."""

    code = "NO_FACE"
    status_code = 422


class NotFound(KycError):
    code = "NOT_FOUND"
    status_code = 404


class Conflict(KycError):
    code = "CONFLICT"
    status_code = 409


class ModelUnavailable(KycError):
    """A model file is missing or does not match its pinned SHA-256."""

    code = "MODEL_UNAVAILABLE"
    status_code = 503


class ConfigError(KycError):
    code = "CONFIG_INVALID"
    status_code = 500
