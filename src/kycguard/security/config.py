"""``SecuritySettings``: the ``security`` section of the settings (env ``KYCGUARD_SECURITY__<FIELD>``).

Two values are also read from the short names the operators' documentation uses:
``KYCGUARD_REDIS_URL`` and ``KYCGUARD_DATA_KEYS`` (the nested names win when both are set). Secrets are
``SecretStr`` so ``GET /api/v1/config`` and logs show ``**********`` instead of them. ``Settings``
builds this section with ``default_factory`` so the short names are read when the settings are
loaded, not once at import.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode


class _Section(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}


class RateLimitSettings(_Section):
    """Fixed-window request limits; ``429`` with ``Retry-After`` beyond them."""

    enabled: bool = True
    window_s: int = Field(60, ge=1, le=86_400, description="Length of one counting window.")
    per_key: int = Field(
        120, ge=1, description="Requests per window per API key (a key may set its own)."
    )
    per_address: int = Field(
        600,
        ge=1,
        description="Requests per window per client address, authenticated or not (all routes).",
    )


class LockoutSettings(_Section):
    """Failed liveness attempts per user and per device, then a lockout (AWS's advice for liveness)."""

    max_failures: int = Field(5, ge=1, description="Failures allowed in one window...")
    window_s: int = Field(3600, ge=1, description="...of this length...")
    lockout_s: int = Field(3600, ge=1, description="...then the user/device is refused this long.")


class SecuritySettings(_Section):
    """Access control, limits, signatures, encryption at rest, retention, web hardening."""

    redis_url: SecretStr | None = Field(
        None,
        description="Redis for rate limits, replay cache and lockouts shared by every worker "
        "(also read from KYCGUARD_REDIS_URL). Unset: in-process memory (one worker).",
    )
    data_keys: SecretStr | None = Field(
        None,
        description="Data-encryption keys 'id:base64key,id2:base64key' (32-byte keys), the first "
        "one encrypts (also read from KYCGUARD_DATA_KEYS). Unset: data_key_file.",
    )
    data_key_file: Path | None = Field(
        None,
        description="JSON key file (mode 0600). Unset: DATA_DIR/data-keys.json, generated on first "
        "start. Production: provide the keys from a secret store instead.",
    )
    subject_key: SecretStr | None = Field(
        None,
        description="Key of the pseudonyms that name data subjects in the audit log (HMAC). "
        "Unset: derived from the oldest data key.",
    )
    default_key_ttl_days: int | None = Field(
        365, ge=1, description="API keys expire after this many days unless created otherwise."
    )
    signature_window_s: int = Field(
        300, ge=10, le=3600, description="Signed requests older or newer than this are refused."
    )
    retention_days: int = Field(
        30,
        ge=1,
        description="Images, frames and face templates are deleted after this many days; "
        "decision records stay.",
    )
    purge_interval_s: int = Field(
        3600, ge=0, description="How often the server runs the retention purge; 0: only by CLI."
    )
    cors_allow_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Browser origins allowed to call the API (e.g. https://app.example.com); "
        "'*' is refused. Env: comma list.",
    )
    max_json_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Largest accepted JSON body (a base64 640x480 video frame is ~100-200 KiB).",
    )
    public_docs: bool = Field(
        False,
        description="Serve /docs and /openapi.json without a key (development only). "
        "Otherwise /openapi.json needs any valid key and /docs is off.",
    )
    rate_limits: RateLimitSettings = RateLimitSettings()
    liveness_lockout: LockoutSettings = LockoutSettings()

    @model_validator(mode="before")
    @classmethod
    def _short_env_names(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for field, var in (
                ("redis_url", "KYCGUARD_REDIS_URL"),
                ("data_keys", "KYCGUARD_DATA_KEYS"),
            ):
                if data.get(field) is None and os.environ.get(var):
                    data[field] = os.environ[var]
        return data

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    @field_validator("cors_allow_origins")
    @classmethod
    def _exact_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            parts = urlsplit(origin)
            if (
                "*" in origin
                or parts.scheme not in ("http", "https")
                or not parts.netloc
                or parts.path not in ("", "/")
                or parts.query
            ):
                raise ValueError(
                    f"CORS origin {origin!r} must be an exact scheme://host[:port]; no wildcards"
                )
        return tuple(o.rstrip("/") for o in value)
