"""kycguard's Python client for integrators: a small typed client over httpx.

    from kycguard.client import Client, verify_webhook

    with Client("https://kyc.example.com", api_key="kg_...") as kyc:
        result = kyc.verify(open("id.jpg", "rb").read(), open("selfie.jpg", "rb").read(),
                            user_id="customer-42")
        if result.status == "manual_review":
            ...  # wait for the review.decided webhook

    event = verify_webhook(secret, request.headers, request.body)  # in the webhook receiver

Errors are :class:`KycguardError` subclasses carrying the server's stable ``code``.
"""

from kycguard.client.client import Client
from kycguard.client.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    KycguardError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    WebhookSignatureError,
)
from kycguard.client.models import Page, ReviewCase, SessionStart, Verification
from kycguard.client.signing import RequestSigner, verify_webhook

__all__ = [
    "AuthenticationError",
    "Client",
    "ConflictError",
    "InvalidRequestError",
    "KycguardError",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestSigner",
    "ReviewCase",
    "ServerError",
    "SessionStart",
    "Verification",
    "WebhookSignatureError",
    "verify_webhook",
]
