"""``AlertSettings``: the ``alerts`` section (env ``KYCGUARD_ALERTS__<FIELD>``).

Rules map the reason codes of a stored decision (and the known-face and system-health checks) to an
alert type and a severity; routing sends each severity to its channels at once or in a digest. A
channel that is not configured (no URL, no SMTP host, no recipients) is skipped; the log always works.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, SecretStr, ValidationInfo, field_validator

from kycguard.delivery.config import RetrySettings


class _Section(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}


class AlertSeverity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Channel(StrEnum):
    WEBHOOK = "webhook"  # signed generic JSON webhook
    SLACK = "slack"  # Slack-compatible incoming webhook ({"text": ...})
    EMAIL = "email"  # SMTP
    SMS = "sms"  # HTTP gateway
    LOG = "log"


class AlertRule(_Section):
    severity: AlertSeverity
    reason_codes: tuple[str, ...] = Field(
        (), description="Reason codes of a decision that raise this alert (empty: raised by code)."
    )
    enabled: bool = True


# Reason codes from decision/rules.py, documents/ and sessions/, and those being added in parallel.
DEFAULT_RULES: dict[str, AlertRule] = {
    "deepfake_suspected": AlertRule(
        severity=AlertSeverity.CRITICAL, reason_codes=("DEEPFAKE_SUSPECTED",)
    ),
    "injection_suspected": AlertRule(
        severity=AlertSeverity.CRITICAL,
        reason_codes=("INJECTION_SUSPECTED", "FRAME_REPLAYED", "FRAME_TIMESTAMP_IMPLAUSIBLE"),
    ),
    "known_fraud_face": AlertRule(severity=AlertSeverity.CRITICAL),  # KnownFaceMatched
    "face_under_several_identities": AlertRule(severity=AlertSeverity.CRITICAL),
    "presentation_attack": AlertRule(
        severity=AlertSeverity.HIGH,
        reason_codes=(
            "LIVENESS_FAILED",
            "SCREEN_CAPTURE_SUSPECTED",
            "SELFIE_REUSED_FROM_DOCUMENT",
            "CHALLENGE_FAILED",
        ),
    ),
    "repeated_failed_attempts": AlertRule(severity=AlertSeverity.HIGH),  # counted per user
    "face_mismatch": AlertRule(
        severity=AlertSeverity.MEDIUM,
        reason_codes=(
            "FACE_MISMATCH",
            "FACE_CHANGED_DURING_SESSION",
            "IDENTITY_NOT_VERIFIED",
            "MULTIPLE_FACES_DURING_SESSION",
        ),
    ),
    "tampering_signs": AlertRule(
        severity=AlertSeverity.MEDIUM,
        reason_codes=(
            "PORTRAIT_TAMPERING_SUSPECTED",
            "MRZ_CHECK_DIGIT_FAILED",
            "MRZ_GEOMETRY_INCONSISTENT",
            "NOT_AN_IDENTITY_DOCUMENT",
            "DOCUMENT_NOT_RECOGNISED",
        ),
    ),
    "document_data_mismatch": AlertRule(
        severity=AlertSeverity.MEDIUM,
        reason_codes=(
            "MRZ_VIZ_MISMATCH",
            "MRZ_DATA_MISMATCH",
            "VIZ_DATA_MISMATCH",
            "BARCODE_MRZ_MISMATCH",
            "BARCODE_DATA_MISMATCH",
            "IMPOSSIBLE_DATE",
            "LINKED_VERIFICATION_REJECTED",
        ),
    ),
    "quality_problem": AlertRule(
        severity=AlertSeverity.LOW,
        reason_codes=(
            "IMAGE_TOO_BLURRY",
            "POOR_EXPOSURE",
            "FACE_TOO_SMALL",
            "POSE_NOT_FRONTAL",
            "MRZ_UNREADABLE",
            "NO_FACE_IN_DOCUMENT",
        ),
    ),
    "false_accept_rate_high": AlertRule(severity=AlertSeverity.CRITICAL),  # system health
    "processing_time_high": AlertRule(severity=AlertSeverity.HIGH),
    "deliveries_failing": AlertRule(severity=AlertSeverity.HIGH),
}

ALL = tuple(Channel)
DEFAULT_ROUTING: dict[AlertSeverity, tuple[Channel, ...]] = {
    AlertSeverity.CRITICAL: ALL,  # every channel at once
    AlertSeverity.HIGH: (Channel.WEBHOOK, Channel.SLACK, Channel.EMAIL, Channel.LOG),
    AlertSeverity.MEDIUM: (Channel.LOG,),
    AlertSeverity.LOW: (Channel.LOG,),
}


class Digest(_Section):
    interval_s: int = Field(gt=0)
    channels: tuple[Channel, ...]


DEFAULT_DIGESTS: dict[AlertSeverity, Digest] = {
    AlertSeverity.MEDIUM: Digest(
        interval_s=1800, channels=(Channel.WEBHOOK, Channel.SLACK, Channel.EMAIL)
    ),
    AlertSeverity.LOW: Digest(interval_s=86_400, channels=(Channel.EMAIL, Channel.LOG)),
}


class SmtpSettings(_Section):
    host: str | None = Field(None, description="SMTP server; unset: no e-mail channel.")
    port: int = Field(25, gt=0, lt=65536)
    starttls: bool = False
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "kycguard@localhost"
    recipients: tuple[str, ...] = ()


class SmsSettings(_Section):
    """A generic HTTP SMS gateway: ``POST gateway_url`` with JSON ``{"to", "message"}`` per recipient
    (``Authorization: Bearer token`` when a token is set)."""

    gateway_url: str | None = None
    token: SecretStr | None = None
    recipients: tuple[str, ...] = ()


class HealthSettings(_Section):
    """System-health checks run every ``interval_s`` over the last ``window_s``."""

    interval_s: int = Field(300, gt=0)
    window_s: int = Field(3600, gt=0)
    max_false_accept_rate: float = Field(0.005, ge=0, le=1)
    min_labelled_accepts: int = Field(
        20, ge=1, description="Fewer labelled accepts than this: no FAR alert (too few to tell)."
    )
    max_p95_processing_ms: float = Field(5000.0, gt=0)
    max_failed_deliveries: int = Field(
        0, ge=0, description="More dead or failing deliveries than this in the window alert."
    )


class AlertSettings(_Section):
    """Fraud and system-health alerts: rules, de-duplication, channels, routing, retries."""

    enabled: bool = True
    rules: dict[str, AlertRule] = Field(default_factory=lambda: dict(DEFAULT_RULES))
    dedup_window_s: int = Field(
        3600, gt=0, description="Same rule + subject within this window: one alert, count + 1."
    )
    repeated_failures: int = Field(
        3, ge=2, description="Rejections of one user within the window that raise an alert."
    )
    repeated_failures_window_s: int = Field(3600, gt=0)
    routing: dict[AlertSeverity, tuple[Channel, ...]] = Field(
        default_factory=lambda: dict(DEFAULT_ROUTING)
    )
    digests: dict[AlertSeverity, Digest] = Field(default_factory=lambda: dict(DEFAULT_DIGESTS))
    webhook_url: str | None = Field(None, description="Generic alert webhook (signed JSON).")
    webhook_secret: SecretStr | None = Field(
        None, description="HMAC secret of the alert webhook (X-Timestamp + X-Signature)."
    )
    slack_webhook_url: SecretStr | None = Field(
        None, description="Slack-compatible incoming webhook URL (it is a secret)."
    )
    smtp: SmtpSettings = SmtpSettings()
    sms: SmsSettings = SmsSettings()
    health: HealthSettings = HealthSettings()
    retry: RetrySettings = RetrySettings()

    @field_validator("rules", mode="before")
    @classmethod
    def _over_default_rules(cls, value: Any) -> Any:
        """A configured rule replaces the default of that name; the others stay."""
        if isinstance(value, dict):
            unknown = set(value) - set(DEFAULT_RULES)
            if unknown:
                raise ValueError(
                    f"unknown alert types {sorted(unknown)}; known: {sorted(DEFAULT_RULES)}"
                )
            return DEFAULT_RULES | value
        return value

    @field_validator("routing", "digests", mode="before")
    @classmethod
    def _over_defaults(cls, value: Any, info: ValidationInfo) -> Any:
        default = DEFAULT_ROUTING if info.field_name == "routing" else DEFAULT_DIGESTS
        if isinstance(value, dict):
            return {str(k): v for k, v in default.items()} | value
        return value
