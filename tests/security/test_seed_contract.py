"""The seeds' clients work unchanged: ``X-API-Key``, the video-KYC routes with exactly the seed's
bodies (no sequence, no timestamp; the integrator's backend relaying), the seed's answer fields; and
the bad input that used to break the server (deep nesting, non-finite numbers, two frame limits).
Real photos, real servers, SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import io
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from security.helpers import Deployment, assert_error, bearer
from support.servers import Server

DEEP = "[" * 100_000 + "]" * 100_000


def _jpeg(rgb: np.ndarray, quality: int) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "JPEG", quality=quality)
    return out.getvalue()


def _data_url(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()


def _key(dep: Deployment, tenant: str | None = None) -> dict[str, str]:
    """The seed's header."""
    return {"X-API-Key": dep.key("integrator", tenant or dep.tenant_a)}


@pytest.fixture(scope="module")
def frames(astronaut: np.ndarray) -> list[bytes]:
    """Distinct real camera-like frames (a real face, JPEG at different qualities)."""
    return [_jpeg(astronaut, q) for q in (70, 71, 72, 73, 74)]


def _start(dep: Deployment) -> dict[str, Any]:
    with dep.client(headers=_key(dep)) as c:
        r = c.post("/api/v1/kyc/start-session", json={"user_id": f"seed-{uuid.uuid4().hex[:6]}"})
    assert r.status_code == 200, r.text
    return r.json()


def test_the_seed_video_flow_as_its_client_sends_it(
    deployment: Deployment, frames: list[bytes]
) -> None:
    dep = deployment
    session = _start(dep)
    sid, token = session["session_id"], {"X-Session-Token": session["session_token"]}
    with dep.client() as c:
        # the page: the seed's body, its session token, no sequence, no timestamp
        r = c.post(
            "/api/v1/kyc/upload-video-frame",
            json={"session_id": sid, "frame": _data_url(frames[0])},
            headers=token,
        )
        assert r.status_code == 200, r.text
        first = r.json()
        assert first["sequence"] == 0 and first["face_detected"] is True
        assert first["liveness_score"] == round(first["running_liveness_score"] / 100, 3)
        assert 0 <= first["liveness_score"] <= 1 and first["deepfake_score"] is None
        # the replay check holds without client sequence numbers
        again = c.post(
            "/api/v1/kyc/upload-video-frame",
            json={"session_id": sid, "frame": _data_url(frames[0])},
            headers=token,
        )
        assert_error(again, 409, "DUPLICATE_FRAME")
        # its backend relaying with the integrator key (no session token)
        r = c.post(
            "/api/v1/kyc/upload-video-frame",
            json={"session_id": sid, "frame": _data_url(frames[1])},
            headers=_key(dep),
        )
        assert r.status_code == 200, r.text
        assert r.json()["sequence"] == 1 and r.json()["frames_received"] == 2
        # the order check holds for a client that does send sequence numbers
        r = c.post(
            "/api/v1/kyc/upload-video-frame",
            json={"session_id": sid, "frame": _data_url(frames[2]), "sequence": 1},
            headers=token,
        )
        assert_error(r, 409, "FRAME_OUT_OF_ORDER")
        # another tenant's backend: the session does not exist for it
        for path, body in (
            ("/api/v1/kyc/upload-video-frame", {"session_id": sid, "frame": _data_url(frames[3])}),
            ("/api/v1/kyc/complete-verification", {"session_id": sid}),
        ):
            assert_error(
                c.post(path, json=body, headers=_key(dep, dep.tenant_b)), 404, "SESSION_NOT_FOUND"
            )
        # completion by the backend, with the seed's verdict fields next to today's
        done = c.post(
            "/api/v1/kyc/complete-verification", json={"session_id": sid}, headers=_key(dep)
        )
        assert done.status_code == 200, done.text
        result = done.json()
        assert "CHALLENGES_INCOMPLETE" in result["reasons"]
        assert result["status"] == "FAILED" and result["verified"] is False
        assert result["decision"] in ("rejected", "manual_review")  # not approved: not PASSED
        status = c.get(
            "/api/v1/kyc/get-session-status", params={"session_id": sid}, headers=_key(dep)
        )
        assert status.status_code == 200, status.text
        view = status.json()
        assert view["session_status"] == "completed" and view["status"] == "FAILED"
        assert view["decision"] == result["decision"] and view["verified"] is False
        # the modern route keeps its own shape
        modern = c.get(f"/api/v1/sessions/{sid}", headers=_key(dep)).json()
        assert modern["status"] == "completed" and modern["result"]["status"] == result["decision"]


def test_x_api_key_works_on_verify_and_conflicting_keys_are_refused(
    deployment: Deployment, photos: dict[str, bytes]
) -> None:
    dep = deployment
    with dep.client(headers=_key(dep)) as c:
        r = c.post(
            "/api/v1/verify",
            files={
                "id_document": ("id.jpg", photos["card"], "image/jpeg"),
                "selfie": ("selfie.jpg", photos["obama2"], "image/jpeg"),
            },
        )
        assert r.status_code == 200, r.text
        shown = c.get(f"/api/v1/verifications/{r.json()['verification_id']}").json()
        assert shown == r.json() | {"video_session": None, "final_decision": r.json()["status"]}
        other = bearer(dep.key("reviewer"))
        assert_error(
            c.get("/api/v1/verifications/x", headers=other), 401, "CONFLICTING_CREDENTIALS"
        )
        assert_error(
            c.get("/api/v1/verifications/x", headers={"X-API-Key": "kg_" + "B" * 43}),
            401,
            "UNAUTHENTICATED",
        )


def test_deep_nesting_answers_422_not_500(deployment: Deployment, photos: dict[str, bytes]) -> None:
    dep = deployment
    json_headers = _key(dep) | {"Content-Type": "application/json"}
    with dep.client() as c:
        for path in ("/api/v1/sessions", "/api/v1/kyc/start-session"):
            err = assert_error(c.post(path, content=DEEP, headers=json_headers), 422)
            assert err["code"] == "JSON_TOO_DEEP"
        session = _start(dep)
        token = {"X-Session-Token": session["session_token"], "Content-Type": "application/json"}
        for path in (
            "/api/v1/kyc/upload-video-frame",
            f"/api/v1/sessions/{session['session_id']}/frames",
            "/api/v1/kyc/complete-verification",
        ):
            assert_error(c.post(path, content=DEEP, headers=token), 422, "JSON_TOO_DEEP")
        nested = '{"full_name": ' + DEEP + "}"
        for raw, code in ((nested, "JSON_TOO_DEEP"), ('{"full_name": NaN}', "NON_FINITE_NUMBER")):
            r = c.post(
                "/api/v1/verify",
                files={
                    "id_document": ("id.jpg", photos["card"], "image/jpeg"),
                    "selfie": ("selfie.jpg", photos["obama2"], "image/jpeg"),
                },
                data={"structured_data": raw},
                headers=_key(dep),
            )
            err = assert_error(r, 422, code)
            assert err["field"] == "structured_data"


def test_non_finite_timestamps_are_refused(deployment: Deployment, frames: list[bytes]) -> None:
    dep = deployment
    session = _start(dep)
    sid = session["session_id"]
    token = {"X-Session-Token": session["session_token"]}
    frame = _data_url(frames[4])
    with dep.client(headers=token) as c:
        for number in ("Infinity", "-Infinity", "NaN", "1e999"):
            body = f'{{"session_id": "{sid}", "frame": "{frame}", "timestamp": {number}}}'
            r = c.post(
                "/api/v1/kyc/upload-video-frame",
                content=body,
                headers={"Content-Type": "application/json"},
            )
            assert_error(r, 422, "NON_FINITE_NUMBER")
            r = c.post(
                f"/api/v1/sessions/{sid}/frames",
                content=f'{{"sequence": 0, "frame": "{frame}", "timestamp": {number}}}',
                headers={"Content-Type": "application/json"},
            )
            assert_error(r, 422, "NON_FINITE_NUMBER")
        for text in ("inf", "Infinity", "nan", "-inf"):
            r = c.post(
                f"/api/v1/sessions/{sid}/frames",
                files={"frame": ("f.jpg", frames[4], "image/jpeg")},
                data={"sequence": "0", "timestamp": text},
            )
            err = assert_error(r, 422, "INVALID_REQUEST")
            assert "timestamp" in err["message"]
        # nothing was half written: the session has no frame
        assert c.get(f"/api/v1/sessions/{sid}").json()["frames_received"] == 0


def test_one_frame_limit_for_json_and_multipart(
    deployment: Deployment, frames: list[bytes]
) -> None:
    """``sessions.max_frame_bytes`` (2 MiB) is the limit, whichever way the frame comes."""
    dep = deployment
    limit = 2 * 1024 * 1024
    # a real JPEG with padding after its end marker, as some phone encoders write
    big = frames[0] + b"\0" * (int(1.5 * 1024 * 1024) - len(frames[0]))
    too_big = frames[1] + b"\0" * (limit + 1 - len(frames[1]))
    session = _start(dep)
    sid, token = session["session_id"], {"X-Session-Token": session["session_token"]}
    with dep.client(headers=token) as c:
        r = c.post(
            "/api/v1/kyc/upload-video-frame", json={"session_id": sid, "frame": _data_url(big)}
        )
        assert r.status_code == 200, r.text[:300]  # 1.5 MiB as JSON: within the one limit
        r = c.post(
            "/api/v1/kyc/upload-video-frame",
            json={"session_id": sid, "frame": _data_url(too_big)},
        )
        assert_error(r, 413, "PAYLOAD_TOO_LARGE")
        r = c.post(
            f"/api/v1/sessions/{sid}/frames",
            files={"frame": ("f.jpg", too_big, "image/jpeg")},
            data={"sequence": "5", "timestamp": "1000"},
        )
        assert_error(r, 413, "PAYLOAD_TOO_LARGE")
        assert c.get(f"/api/v1/sessions/{sid}").json()["frames_received"] == 1


def test_integrator_cannot_relay_without_a_key_or_with_a_wrong_role(deployment: Deployment) -> None:
    dep = deployment
    session = _start(dep)
    body = {"session_id": session["session_id"]}
    with dep.client() as c:
        r = c.post("/api/v1/kyc/complete-verification", json=body)
        assert_error(r, 401, "UNAUTHENTICATED")
        r = c.post(
            "/api/v1/kyc/complete-verification",
            json=body,
            headers={"X-API-Key": dep.key("reviewer")},
        )
        assert_error(r, 403, "FORBIDDEN")


def test_the_seed_tuning_names_are_read_and_shown(deployment: Deployment, tmp_path: Path) -> None:
    """The seed's flat names in the TOML file and the environment set our settings (one value,
    shown under both names by GET /api/v1/config)."""
    with deployment.client(headers={"X-API-Key": deployment.key("auditor")}) as c:
        shown = c.get("/api/v1/config").json()["settings"]
    defaults = shown["seed_names"]
    assert defaults["liveness_score_min"] == {
        "value": shown["liveness"]["live_threshold"] / 100,
        "setting": "liveness.live_threshold",
        "meaning": defaults["liveness_score_min"]["meaning"],
    }
    assert defaults["face_match_tolerance"]["value"] == shown["face_match"]["tolerance"]
    assert defaults["approve_threshold"]["value"] == shown["decision"]["approve_at"]

    config = tmp_path / "seed.toml"
    config.write_text(
        "liveness_score_min = 0.7\nblur_threshold = 55.0\nauthenticity_score_min = 65\n"
        "approve_threshold = 88\nreview_threshold = 70\n"
    )
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    server = Server(
        {"KYCGUARD_CONFIG": str(config), "KYCGUARD_FACE_MATCH_CONFIDENCE_MIN": "70"}, data
    )
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.base_url, timeout=60) as c:
            r = c.get("/api/v1/config", headers={"X-API-Key": server.key("auditor", None)})
    finally:
        server.stop()
    assert r.status_code == 200, r.text
    s = r.json()["settings"]
    assert s["liveness"]["live_threshold"] == 70.0
    assert s["quality"]["min_blur_score"] == 55.0
    assert s["decision"]["min_authenticity_score"] == 65.0
    assert (s["decision"]["approve_at"], s["decision"]["review_at"]) == (88.0, 70.0)
    # a confidence minimum is the distance tolerance at which the calibration gives it
    assert 0.5 < s["face_match"]["tolerance"] < 0.62
    assert abs(s["seed_names"]["face_match_confidence_min"]["value"] - 70) < 0.05
    assert s["seed_names"]["face_match_tolerance"]["value"] == s["face_match"]["tolerance"]
