"""Web hardening: security headers, the CORS allow-list, body and upload limits, closed-by-default
routes and answers without stack traces."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi import Depends
from pydantic import ValidationError
from security.helpers import CORS_ORIGIN, Deployment, assert_error
from support.imagefiles import bomb_png, encode

from kycguard.security.auth import public, publish_access_rules
from kycguard.security.config import SecuritySettings
from kycguard.settings import Settings

EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def test_security_headers_on_every_kind_of_answer(deployment: Deployment) -> None:
    over_json_cap = SecuritySettings.model_fields["max_json_bytes"].default + 1  # the server's cap
    with deployment.client() as c:
        answers = [
            c.get("/health"),
            c.get("/api/v1/config"),  # 401
            c.get("/nothing-here"),  # 404
            c.post(
                "/api/v1/admin/keys",
                content=b"x" * over_json_cap,
                headers={"Content-Type": "application/json"},
            ),
        ]
    assert [r.status_code for r in answers] == [200, 401, 404, 413]
    for r in answers:
        for name, value in EXPECTED.items():
            assert r.headers.get(name) == value, (r.request.url, name)
        assert "default-src 'none'" in r.headers["content-security-policy"]
        assert "max-age=" in r.headers["strict-transport-security"]
        assert "server" not in r.headers  # no software banner
    assert_error(answers[3], 413, "PAYLOAD_TOO_LARGE")  # JSON cap, before authentication


def test_cors_allows_only_the_configured_origins(deployment: Deployment) -> None:
    with deployment.client() as c:
        allowed = c.get("/health", headers={"Origin": CORS_ORIGIN})
        other = c.get("/health", headers={"Origin": "https://evil.example"})
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        }
        ok = c.options("/api/v1/verify", headers={"Origin": CORS_ORIGIN} | preflight)
        refused = c.options(
            "/api/v1/verify", headers={"Origin": "https://evil.example"} | preflight
        )
    assert allowed.headers["access-control-allow-origin"] == CORS_ORIGIN
    assert "access-control-allow-origin" not in other.headers
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == CORS_ORIGIN
    assert "POST" in ok.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in ok.headers
    assert_error(refused, 403, "CORS_NOT_ALLOWED")
    assert "access-control-allow-origin" not in refused.headers


def test_wildcard_or_malformed_origins_are_refused_at_start(tmp_path: Path) -> None:
    for origins in ("*", "https://*.example.com", "app.example.com", "https://a.example/path"):
        with pytest.raises(ValidationError):
            Settings(data_dir=tmp_path, security={"cors_allow_origins": origins})


def test_uploads_are_checked_by_content_and_pixel_count(deployment: Deployment) -> None:
    photo = encode(np.full((300, 300, 3), 120, np.uint8))
    with deployment.client(headers=deployment.headers("integrator")) as c:

        def post(selfie: bytes, name: str = "s.jpg") -> httpx.Response:
            return c.post(
                "/api/v1/verify",
                files={
                    "id_document": ("d.jpg", photo, "image/jpeg"),
                    "selfie": (name, selfie, "image/jpeg"),
                },
            )

        assert_error(post(b"<?php echo 'not an image'; ?>"), 415, "UNSUPPORTED_IMAGE_TYPE")
        assert_error(post(b"%PDF-1.4 fake", "s.png"), 415, "UNSUPPORTED_IMAGE_TYPE")
        assert_error(post(bomb_png(20_000, 20_000)), 413, "IMAGE_TOO_MANY_PIXELS")
        big = c.post(
            "/api/v1/verify",
            content=b"0" * (40 * 1024 * 1024),
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        )
        assert_error(big, 413, "PAYLOAD_TOO_LARGE")


def test_undeclared_routes_are_closed_and_crashes_show_no_trace(tmp_path: Path) -> None:
    from kycguard.api.app import create_app

    app = create_app(Settings(data_dir=tmp_path))

    @app.get("/forgotten")
    def forgotten() -> dict[str, str]:
        return {"secret": "data"}

    @app.get("/crash")
    def crash(_: None = Depends(public())) -> None:
        raise RuntimeError("connection string postgresql://kyc:s3cret@db/kyc")

    publish_access_rules(app)  # as create_app does once every router is included
    # no lifespan runs: no models are needed for this
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    async def get(path: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(path)

    assert_error(asyncio.run(get("/forgotten")), 403, "ROUTE_ACCESS_UNDECLARED")
    crashed = asyncio.run(get("/crash"))
    assert_error(crashed, 500, "INTERNAL_ERROR")
    assert "s3cret" not in crashed.text and "Traceback" not in crashed.text
    assert crashed.headers["x-content-type-options"] == "nosniff"  # a crash is hardened too
