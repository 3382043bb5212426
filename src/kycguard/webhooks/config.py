"""``WebhookSettings``: the ``webhooks`` section (env ``KYCGUARD_WEBHOOKS__<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from kycguard.delivery.config import RetrySettings


class WebhookSettings(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}

    enabled: bool = True
    allow_private_addresses: bool = Field(
        False,
        description="Allow endpoints resolving to loopback, private or link-local addresses "
        "(refused by default: SSRF). Tests and single-host set-ups turn it on.",
    )
    require_https: bool = Field(
        False, description="Refuse http:// endpoints (recommended once receivers have TLS)."
    )
    max_endpoints_per_tenant: int = Field(10, ge=1, le=100)
    retry: RetrySettings = RetrySettings()
