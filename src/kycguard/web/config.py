"""``WebSettings``: the ``web`` section (env ``KYCGUARD_WEB__<FIELD>``).

The return URL is set by the operator, not by the page's query string: a return address taken from the
URL would be an open redirect that a phishing link could point anywhere.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

LANGUAGES = ("en", "de")


class WebSettings(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}

    return_url: str | None = Field(
        None,
        description="Where the capture page's 'Continue' button leads after the result, e.g. "
        "https://bank.example/kyc/done?session={session_id}. Placeholders: {session_id}, {status}. "
        "https:// (or http://localhost for development) only; unset: no button.",
    )
    default_language: str = Field(
        "en", description="Language when the browser asks for none we have (en, de)."
    )

    @field_validator("return_url")
    @classmethod
    def _safe_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        local = parts.hostname in ("localhost", "127.0.0.1")
        if parts.scheme != "https" and not (parts.scheme == "http" and local):
            raise ValueError("return_url must be https:// (http:// only for localhost)")
        if not parts.hostname or parts.username or parts.password:
            raise ValueError("return_url needs a host and no user or password")
        try:
            value.format(session_id="x", status="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"return_url may only use the placeholders {{session_id}} and {{status}}: {exc}"
            ) from exc
        return value

    @field_validator("default_language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"default_language must be one of {', '.join(LANGUAGES)}")
        return value
