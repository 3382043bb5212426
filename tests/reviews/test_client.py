"""kycguard.client against the real server: request signing with a signing secret, precise
exceptions, and verify_webhook on webhooks signed the way the server signs them."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from reviews.conftest import Photos
from support.servers import Server

from kycguard.client import (
    AuthenticationError,
    Client,
    InvalidRequestError,
    NotFoundError,
    WebhookSignatureError,
    verify_webhook,
)
from kycguard.security.signatures import sign_webhook


def _signed_key(server: Server, role: str, tenant: str | None) -> dict[str, str]:
    body = {"name": f"signed {role}", "role": role, "signed_requests": True}
    if tenant is not None:
        body["tenant"] = tenant
    r = httpx.post(
        f"{server.base_url}/api/v1/admin/keys", json=body, headers=server.headers("admin", None)
    )
    assert r.status_code == 201, r.text
    created: dict[str, str] = r.json()
    return created


def test_signed_requests_pass_and_unsigned_ones_are_refused(
    server: Server, review_photos: Photos
) -> None:
    key = _signed_key(server, "integrator", "tests")
    with Client(server.base_url, key["key"], signing_secret=key["signing_secret"]) as signed:
        answer = signed.verify(review_photos.card, review_photos.holder, user_id="signed-client")
        assert answer.status == "approved" and answer.id
        read_view = {"video_session": None, "final_decision": "approved"}
        assert signed.verifications.get(answer.id).raw == answer.raw | read_view  # a signed GET
        with pytest.raises(NotFoundError) as missing:
            signed.verifications.get("no-such-id")
        assert missing.value.code == "VERIFICATION_NOT_FOUND" and missing.value.status_code == 404
    with Client(server.base_url, key["key"]) as unsigned, pytest.raises(AuthenticationError) as e:
        unsigned.verifications.get(answer.id)
    assert e.value.code == "SIGNATURE_REQUIRED"
    wrong = Client(server.base_url, key["key"], signing_secret="kgsig_wrong")
    with wrong, pytest.raises(AuthenticationError) as bad:
        wrong.verifications.get(answer.id)
    assert bad.value.code == "SIGNATURE_INVALID"


def test_errors_carry_the_server_code_and_field(server: Server) -> None:
    client = Client(server.base_url, server.key("integrator", "tests"))
    with client, pytest.raises(InvalidRequestError) as e:
        client.verify(b"not an image", b"not an image either")
    assert e.value.status_code == 415 and e.value.code == "UNSUPPORTED_IMAGE_TYPE"
    assert e.value.field == "id_document"
    with Client(server.base_url, "kg_" + "A" * 43) as c, pytest.raises(AuthenticationError):
        c.reviews.list()


def test_verify_webhook_accepts_the_servers_signature_only() -> None:
    secret = "whsec_test_secret"
    body = json.dumps({"id": "evt_1", "type": "review.decided", "data": {"case": {}}}).encode()
    headers = {k.lower(): v for k, v in sign_webhook(secret, body).items()}  # as a framework gives
    assert verify_webhook(secret, headers, body)["type"] == "review.decided"
    with pytest.raises(WebhookSignatureError) as tampered:
        verify_webhook(secret, headers, body.replace(b"evt_1", b"evt_2"))
    assert tampered.value.code == "SIGNATURE_INVALID"
    with pytest.raises(WebhookSignatureError):
        verify_webhook("another secret", headers, body)
    old = sign_webhook(secret, body, timestamp=int(time.time()) - 3600)
    with pytest.raises(WebhookSignatureError) as expired:
        verify_webhook(secret, old, body)
    assert expired.value.code == "SIGNATURE_EXPIRED"
    with pytest.raises(WebhookSignatureError) as absent:
        verify_webhook(secret, {}, body)
    assert absent.value.code == "SIGNATURE_REQUIRED"
