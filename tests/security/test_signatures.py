"""HMAC request signatures (valid, stale, replayed, wrong, missing) and webhook signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from security.helpers import Deployment, assert_error, bearer

from kycguard.security.backends import MemoryBackend
from kycguard.security.errors import SignatureError
from kycguard.security.signatures import (
    RequestVerifier,
    sign_request,
    sign_webhook,
    verify_webhook,
)


def test_request_signature_unit() -> None:
    secret = b"kgsig_test"
    verifier = RequestVerifier(MemoryBackend(), window_s=300)
    now = time.time()
    body = b'{"a": 1}'
    headers = sign_request(secret, "POST", "/api/v1/x?y=1", body, timestamp=int(now))
    verifier.verify(secret, headers, "POST", "/api/v1/x?y=1", body, now=now)

    def code(**change: object) -> str:
        h = dict(headers) | {k.replace("_", "-"): str(v) for k, v in change.items()}
        args = {"method": "POST", "path": "/api/v1/x?y=1", "body": body} | {
            k: v for k, v in change.items() if k in ("method", "path", "body")
        }
        with pytest.raises(SignatureError) as caught:
            verifier.verify(secret, h, args["method"], args["path"], args["body"], now=now)  # type: ignore[arg-type]
        return caught.value.code

    assert code() == "SIGNATURE_REPLAYED"
    assert code(body=b'{"a": 2}') == "SIGNATURE_INVALID"
    assert code(path="/api/v1/other") == "SIGNATURE_INVALID"  # the route is signed too
    assert code(method="DELETE") == "SIGNATURE_INVALID"
    stale = sign_request(secret, "GET", "/p", b"", timestamp=int(now) - 301)
    with pytest.raises(SignatureError) as caught:
        verifier.verify(secret, stale, "GET", "/p", b"", now=now)
    assert caught.value.code == "SIGNATURE_EXPIRED"
    with pytest.raises(SignatureError) as caught:
        verifier.verify(secret, {}, "GET", "/p", b"", now=now)
    assert caught.value.code == "SIGNATURE_REQUIRED"


def test_webhook_signature_is_plain_hmac_over_timestamp_and_body() -> None:
    """What a receiver computes by hand (the README example) equals what kycguard sends."""
    secret, body = "kgsig_receiver", json.dumps({"event": "verification.decided"}).encode()
    headers = sign_webhook(secret, body, timestamp=1_700_000_000)
    by_hand = hmac.new(secret.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert headers == {"X-Timestamp": "1700000000", "X-Signature": f"sha256={by_hand}"}
    verify_webhook(secret, headers, body, now=1_700_000_100)
    with pytest.raises(SignatureError):
        verify_webhook(secret, headers, body + b" ", now=1_700_000_100)
    with pytest.raises(SignatureError) as caught:
        verify_webhook(secret, headers, body, now=1_700_000_301)
    assert caught.value.code == "SIGNATURE_EXPIRED"


def test_signed_key_end_to_end(deployment: Deployment) -> None:
    made = deployment.create_key("reviewer", signed_requests=True)
    secret, path = made["signing_secret"], "/api/v1/verifications/none"
    with deployment.client(headers=bearer(made["key"])) as c:
        assert_error(c.get(path), 401, "SIGNATURE_REQUIRED")
        good = sign_request(secret, "GET", path)
        assert_error(c.get(path, headers=good), 404, "VERIFICATION_NOT_FOUND")  # accepted
        assert_error(c.get(path, headers=good), 401, "SIGNATURE_REPLAYED")
        wrong = sign_request("kgsig_not-the-secret", "GET", path)
        assert_error(c.get(path, headers=wrong), 401, "SIGNATURE_INVALID")
        stale = sign_request(secret, "GET", path, timestamp=int(time.time()) - 600)
        assert_error(c.get(path, headers=stale), 401, "SIGNATURE_EXPIRED")
        other_route = sign_request(secret, "GET", "/api/v1/verifications/other")
        assert_error(c.get(path, headers=other_route), 401, "SIGNATURE_INVALID")
        with_query = "/api/v1/audit?limit=5"
        signed_query = sign_request(secret, "GET", with_query)
        assert_error(c.get(with_query, headers=signed_query), 403, "FORBIDDEN")  # signature ok
    # a signed integrator POST: the body is what is signed
    integrator = deployment.create_key("integrator", deployment.tenant_a, signed_requests=True)
    body = json.dumps({"user_id": "signed-user"}).encode()
    with deployment.client(headers=bearer(integrator["key"])) as c:
        headers = {"Content-Type": "application/json"}
        signed = sign_request(integrator["signing_secret"], "POST", "/api/v1/sessions", body)
        r = c.post("/api/v1/sessions", content=body, headers=headers | signed)
        assert r.status_code == 200, r.text
        tampered = body.replace(b"signed-user", b"other-user")
        assert_error(
            c.post(
                "/api/v1/sessions",
                content=tampered,
                headers=headers
                | sign_request(integrator["signing_secret"], "POST", "/api/v1/sessions", body),
            ),
            401,
            "SIGNATURE_INVALID",
        )


def _readme_example() -> dict[str, object]:
    """The README's copy-paste Python block, executed as a user would paste it."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Request signatures and webhooks", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace


def test_the_readme_example_signs_requests_and_checks_webhooks(deployment: Deployment) -> None:
    example = _readme_example()
    headers_for = example["kycguard_headers"]
    is_authentic = example["kycguard_webhook_is_authentic"]
    made = deployment.create_key("integrator", deployment.tenant_a, signed_requests=True)
    body = json.dumps({"user_id": "readme-user"}).encode()
    signed = headers_for(made["signing_secret"], "POST", "/api/v1/sessions", body)  # type: ignore[operator]
    with deployment.client(headers=bearer(made["key"])) as c:
        r = c.post(
            "/api/v1/sessions", content=body, headers={"Content-Type": "application/json"} | signed
        )
    assert r.status_code == 200, r.text
    webhook = b'{"event": "verification.decided"}'
    sent = sign_webhook("kgsig_x", webhook)
    assert is_authentic("kgsig_x", sent, webhook) is True  # type: ignore[operator]
    assert is_authentic("kgsig_x", sent, webhook + b"!") is False  # type: ignore[operator]
    assert is_authentic("kgsig_other", sent, webhook) is False  # type: ignore[operator]


def test_the_signature_covers_the_path_as_sent(deployment: Deployment) -> None:
    """``%20`` stays ``%20``: a signature over the decoded path is not the request's."""
    made = deployment.create_key("reviewer", signed_requests=True)
    secret, sent = made["signing_secret"], "/api/v1/verifications/no%20such?x=a%2Fb"
    with deployment.client(headers=bearer(made["key"])) as c:
        decoded = sign_request(secret, "GET", "/api/v1/verifications/no such?x=a/b")
        assert_error(c.get(sent, headers=decoded), 401, "SIGNATURE_INVALID")
        as_sent = sign_request(secret, "GET", sent)
        assert_error(c.get(sent, headers=as_sent), 404, "VERIFICATION_NOT_FOUND")  # accepted
        # the seed's X-API-Key header is checked the same way
        c.headers.pop("Authorization")
        again = sign_request(secret, "GET", sent, timestamp=int(time.time()) + 1)
        r = c.get(sent, headers=again | {"X-API-Key": made["key"]})
        assert_error(r, 404, "VERIFICATION_NOT_FOUND")
