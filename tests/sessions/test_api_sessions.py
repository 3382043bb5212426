"""Video sessions end to end: real ``kycguard serve`` processes, a real clip streamed frame by frame,
SQLite and PostgreSQL.

The clips do not perform random challenges, so these servers are configured through the settings to
draw one challenge from a pool of one: ``blink``. obama_short.mp4 blinks at 19-22 (see
test_detectors_real.py), so streaming its first second completes a real one-blink session honestly.
Frames are sent at the pace they were filmed (every second frame, ~15 fps) with their capture times.
Backend calls (create, delete, reads without a token) use an integrator API key; the browser's
calls (frames, complete) use only the session token, as a browser would.

Servers that share one database also share the data-encryption keys (``KYCGUARD_DATA_KEYS``), as
workers of one deployment must. JSON frames need ``security.max_json_bytes`` above 4/3 of a frame:
the default (64 KB) refuses base64 frames larger than ~48 KB.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from documents.render import Identity, camera, on_table, render_td1
from PIL import Image
from sessions.helpers import Clip, jpeg
from sqlalchemy import create_engine, text
from support.env import missing
from support.imagefiles import encode
from support.servers import Server

BLINK_ONLY = {
    "KYCGUARD_SESSIONS__CHALLENGE_POOL": "blink",
    "KYCGUARD_SESSIONS__MIN_CHALLENGES": "1",
    "KYCGUARD_SESSIONS__MAX_CHALLENGES": "1",
}
CLIENT_EPOCH_MS = 1_700_000_000_000.0  # the client's clock: any origin, only differences count
SHARED = {
    "KYCGUARD_DATA_KEYS": "sessions-test:" + base64.b64encode(os.urandom(32)).decode(),
    "KYCGUARD_SECURITY__MAX_JSON_BYTES": str(1024 * 1024),
    "KYCGUARD_SECURITY__PURGE_INTERVAL_S": "0",
}


def start(env: dict[str, str], data_dir: Path) -> Server:
    srv = Server(env, data_dir)
    try:
        srv.wait_ready()
    except Exception:
        srv.stop()
        raise
    return srv


@pytest.fixture(scope="module")
def main_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"KYCGUARD_DATABASE_URL": database_url, **BLINK_ONLY, **SHARED}
    srv = start(env, tmp_path_factory.mktemp("s"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def backend(main_server: Server) -> dict[str, str]:
    """The integrator's API key (valid on every server of this database)."""
    return main_server.headers()


@pytest.fixture(scope="module")
def api(main_server: Server, backend: dict[str, str]) -> Iterator[httpx.Client]:
    """A backend's client: every request carries the API key."""
    with httpx.Client(base_url=main_server.base_url, timeout=120, headers=backend) as c:
        yield c


@pytest.fixture(scope="module")
def browser(main_server: Server) -> Iterator[httpx.Client]:
    """A browser's client: no API key, only the session token it was handed."""
    with httpx.Client(base_url=main_server.base_url, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def obama(clip: Callable[[str], Clip]) -> Clip:
    return clip("obama")


def _why(result: dict[str, Any]) -> dict[str, Any]:
    """What explains a decision, for assertion messages."""
    keep = ("status", "reasons", "errors", "overall_confidence")
    check = result.get("liveness_check") or {}
    scores = {k: check.get(k) for k in ("score", "deepfake_score", "injection_score")}
    return {k: result.get(k) for k in keep} | {"verdicts": check.get("verdicts"), **scores}


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    return body["error"]  # type: ignore[no-any-return]


def blobs(database_url: str, session_id: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT key FROM kyc_session_blobs WHERE session_id = :s"), {"s": session_id}
            )
            return sorted(r[0] for r in rows)
    finally:
        engine.dispose()


class Streamer:
    """A browser's capture loop: frames in order, each with its capture time, never faster than
    they were filmed, byte-identical repeats (the clip was frame-rate converted) not resent.

    Identical bytes are refused in every session (replays), so each test encodes its frames at its
    own JPEG ``quality``: a new capture of the same scene."""

    def __init__(self, client: httpx.Client, session: dict[str, Any], quality: int = 90) -> None:
        self.client = client
        self.quality = quality
        self.id = session["session_id"]
        self.token = session["session_token"]
        self.sequence = 0
        self.started: float | None = None
        self.last: bytes | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Session-Token": self.token}

    def send(
        self,
        rgb: np.ndarray,
        video_ms: float,
        *,
        as_json: bool = False,
        to: httpx.Client | None = None,
    ) -> httpx.Response | None:
        data = jpeg(rgb, self.quality)
        if data == self.last:
            return None
        self.last = data
        if self.started is None:
            self.started = time.monotonic() - video_ms / 1000
        ahead = video_ms / 1000 - (time.monotonic() - self.started)
        if ahead > 0:
            time.sleep(ahead)
        r = self.post(data, self.sequence, CLIENT_EPOCH_MS + video_ms, as_json=as_json, to=to)
        self.sequence += 1
        return r

    def post(
        self,
        data: bytes,
        sequence: int,
        ts: float,
        *,
        as_json: bool = False,
        to: httpx.Client | None = None,
    ) -> httpx.Response:
        client = to or self.client
        url = f"/api/v1/sessions/{self.id}/frames"
        if as_json:
            frame = "data:image/jpeg;base64," + base64.b64encode(data).decode()
            body = {"frame": frame, "sequence": sequence, "timestamp": ts}
            return client.post(url, json=body, headers=self.headers)
        form = {"sequence": str(sequence), "timestamp": str(ts)}
        return client.post(
            url, files={"frame": ("f.jpg", data, "image/jpeg")}, data=form, headers=self.headers
        )


def stream(s: Streamer, clip: Clip, frames: range, **kw: Any) -> list[dict[str, Any]]:
    """Send ``frames`` until the challenges are finished; every reply must be a 200."""
    out: list[dict[str, Any]] = []
    for i in frames:
        if out and out[-1]["phase"] in ("passed", "failed"):
            break
        r = s.send(clip.frames[i], 1000 * i / clip.fps, **kw)
        if r is None:
            continue
        assert r.status_code == 200, (i, r.text)
        out.append(r.json() | {"frame": i})
    return out


@pytest.mark.evaldata
def test_a_real_clip_streamed_through_the_api_completes_a_blink_session(
    api: httpx.Client, browser: httpx.Client, obama: Clip, database_url: str
) -> None:
    created = api.post("/api/v1/sessions", json={"user_id": "alice"})
    assert created.status_code == 200, created.text
    session = created.json()
    assert [c["challenge"] for c in session["challenges"]] == ["blink"]
    assert session["session_token"].startswith("kgs_") and session["expires_at"]
    s = Streamer(browser, session)
    # multipart JPEG for the first half, JSON data URLs (the seed's format) for the second
    replies = stream(s, obama, range(0, 16, 2)) + stream(s, obama, range(16, 40, 2), as_json=True)
    phases = [r["phase"] for r in replies]
    assert phases[0] == "baseline" and phases[-1] == "passed", phases
    first_challenge = next(r for r in replies if r["phase"] == "challenges")
    assert first_challenge["current_challenge"]["challenge"] == "blink"
    assert 0 < first_challenge["current_challenge"]["seconds_left"] <= 10
    passed = replies[-1]
    # eyes shut at 19-22, open again at 23: with every second frame sent, 24 is the reopening
    assert passed["frame"] == 24 and "challenge_passed" in passed["events"]
    assert passed["challenges_completed"] == 1 and passed["liveness_score"] > 95
    assert all(r["face_detected"] and r["face_count"] == 1 for r in replies)
    assert all(isinstance(r["guidance"], list) for r in replies)
    assert "challenge progress" in passed["liveness_score_basis"]

    # kept: the neutral reference, <= 3 best frames, one crop per passed challenge, and a bounded
    # ring of recent frames for the sequence cues (48 by default); nothing else
    kept = blobs(database_url, s.id)
    best = sum(k.startswith("best/") for k in kept)
    ring = [k for k in kept if k.startswith("seq/")]
    assert "reference" in kept and "challenge/0" in kept and 1 <= best <= 3
    assert 1 <= len(ring) <= 48 and len(kept) == len(ring) + 2 + best

    r = s.post(jpeg(obama.frames[41]), s.sequence, CLIENT_EPOCH_MS + 1400)
    assert_error(r, 409, "CHALLENGES_FINISHED")

    done = browser.post(f"/api/v1/sessions/{s.id}/complete", headers=s.headers)
    assert done.status_code == 200, done.text
    result = done.json()
    # A recorded clip streamed as if from a camera IS an injected stream to the sequence cues
    # (frame-rate duplicates, file timing): a confident injection verdict rejects. Without the
    # clip's artefacts (test_session_decisions.py) no document still means no approval.
    assert result["status"] == "rejected", _why(result)
    assert result["reasons"][0] == "INJECTION_SUSPECTED", _why(result)
    assert result["liveness_check"]["injection_score"] >= 70
    assert "IDENTITY_NOT_VERIFIED" in result["reasons"] and result["identity_verified"] is False
    assert result["liveness_passed"] is False and "live camera" in result["message"]
    assert any("injected stream" in e for e in result["errors"])
    assert result["confidence"] is None and 0 <= result["liveness_check"]["liveness_score"] <= 1
    assert result["challenges"][0]["status"] == "passed"
    assert 50 <= result["challenges"][0]["evidence"]["closed_ms"] <= 1000
    assert result["same_person"]["checked"] and result["same_person"]["max_distance"] < 0.5
    assert "CHALLENGES_INCOMPLETE" not in result["reasons"]
    assert "FACE_CHANGED_DURING_SESSION" not in result["reasons"]
    assert result["liveness_check"]["frames_used"] >= 5  # the sequence cues ran on kept frames
    assert set(result["scores"]["components"]) == {"quality", "liveness"}
    # after completion only the best frames and the challenge crop remain; frames are refused
    assert all(k.startswith(("best/", "challenge/")) for k in blobs(database_url, s.id))
    r = s.post(jpeg(obama.frames[43]), s.sequence + 1, CLIENT_EPOCH_MS + 1500)
    assert_error(r, 409, "SESSION_COMPLETED")
    again = browser.post(f"/api/v1/sessions/{s.id}/complete", headers=s.headers)
    assert again.json() == result

    status = browser.get(f"/api/v1/sessions/{s.id}", headers=s.headers).json()
    assert status["status"] == "completed" and status["result"] == result
    alias = api.get("/api/v1/kyc/get-session-status", params={"session_id": s.id}).json()
    assert alias["session_status"] == "completed" and alias["frames_received"] == len(replies)
    # the seed's verdict: PASSED only for an approval
    assert alias["status"] == ("PASSED" if result["status"] == "approved" else "FAILED")
    assert alias["decision"] == result["status"] and alias["verified"] is (
        alias["status"] == "PASSED"
    )

    # the browser's token cannot delete; the backend can, and every kept image goes
    assert browser.delete(f"/api/v1/sessions/{s.id}", headers=s.headers).status_code == 401
    gone = api.delete(f"/api/v1/sessions/{s.id}")
    assert gone.status_code == 200 and gone.json()["images_erased"] >= 2
    assert blobs(database_url, s.id) == []
    after = api.get(f"/api/v1/sessions/{s.id}").json()
    assert after["status"] == "deleted" and "reference" not in str(after)


@pytest.mark.evaldata
def test_out_of_order_duplicate_and_replayed_frames_are_refused(
    api: httpx.Client, browser: httpx.Client, obama: Clip
) -> None:
    one = Streamer(browser, api.post("/api/v1/sessions", json={"user_id": "bob"}).json())
    two = Streamer(browser, api.post("/api/v1/sessions", json={"user_id": "bob"}).json())
    f0, f2 = jpeg(obama.frames[100], 80), jpeg(obama.frames[102], 80)
    t = CLIENT_EPOCH_MS
    assert one.post(f0, 5, t).status_code == 200

    assert_error(one.post(f0, 6, t + 100), 409, "DUPLICATE_FRAME")
    assert_error(one.post(f2, 5, t + 100), 409, "FRAME_OUT_OF_ORDER")
    assert_error(one.post(f2, 3, t + 100), 409, "FRAME_OUT_OF_ORDER")
    assert_error(one.post(f2, 6, t), 409, "FRAME_TIMESTAMP_NOT_INCREASING")
    err = assert_error(one.post(f2, 6, t + 60_000), 422, "FRAME_TIMESTAMP_IMPLAUSIBLE")
    assert err["details"]["client_elapsed_ms"] == 60_000
    assert_error(two.post(f0, 0, t), 409, "FRAME_REPLAYED")
    assert_error(one.post(b"not an image at all", 6, t + 50), 415, "UNSUPPORTED_IMAGE_TYPE")
    url = f"/api/v1/sessions/{one.id}/frames"
    bad = {"frame": "data:image/jpeg;base64,@@@", "sequence": 6, "timestamp": t + 50}
    assert_error(browser.post(url, json=bad, headers=one.headers), 422, "INVALID_FRAME_ENCODING")
    missing = browser.post(url, json={"frame": "AAAA"}, headers=one.headers)
    assert_error(missing, 422, "INVALID_REQUEST")
    # nothing above changed the session: the next good frame is accepted as the second one
    time.sleep(0.2)
    ok = one.post(f2, 6, t + 150)
    assert ok.status_code == 200, ok.text
    assert ok.json()["frames_received"] == 2 and ok.json()["sequence"] == 6


def test_the_session_token_works_only_for_its_own_session(
    api: httpx.Client, browser: httpx.Client, astronaut: np.ndarray
) -> None:
    a = api.post("/api/v1/kyc/start-session", json={"user_id": "carol"}).json()
    b = api.post("/api/v1/sessions", json={"user_id": "carol"}).json()
    url = f"/api/v1/sessions/{b['session_id']}"
    form = {"sequence": "0", "timestamp": "1000"}
    files = {"frame": ("f.jpg", jpeg(astronaut), "image/jpeg")}
    other = {"X-Session-Token": a["session_token"]}
    mine = {"X-Session-Token": b["session_token"]}
    for r in (
        browser.post(url + "/frames", files=files, data=form, headers=other),
        browser.post(url + "/frames", files=files, data=form),
        browser.post(url + "/complete", headers=other),
        browser.get(url, headers=other),
        browser.delete(url, headers=mine),  # a browser credential never deletes
    ):
        assert_error(r, 401, "UNAUTHENTICATED")
    accepted = browser.post(url + "/frames", files=files, data=form, headers=mine)
    assert accepted.status_code == 200, accepted.text
    assert browser.get(url, headers=mine).json()["frames_received"] == 1
    assert_error(api.get("/api/v1/sessions/no-such-session"), 404, "SESSION_NOT_FOUND")
    too_many = api.post("/api/v1/sessions", json={"user_id": "x", "challenge_count": 4})
    assert_error(too_many, 422, "INVALID_CHALLENGE_COUNT")
    assert_error(api.post("/api/v1/sessions", json={"user": "x"}), 422, "INVALID_REQUEST")


def test_the_seed_routes_take_the_session_id_in_the_body(
    api: httpx.Client, browser: httpx.Client, astronaut: np.ndarray
) -> None:
    session = api.post("/api/v1/kyc/start-session", json={"user_id": "frank"}).json()
    headers = {"X-Session-Token": session["session_token"]}
    frame = {
        "session_id": session["session_id"],
        "frame": base64.b64encode(jpeg(astronaut, 70)).decode(),
        "sequence": 0,
        "timestamp": 1000.0,
    }
    r = browser.post("/api/v1/kyc/upload-video-frame", json=frame, headers=headers)
    assert r.status_code == 200, r.text
    # a token is checked against the session named in the body, too
    stranger = api.post("/api/v1/kyc/start-session", json={"user_id": "frank"}).json()
    foreign = {"X-Session-Token": stranger["session_token"]}
    frame |= {"sequence": 1, "timestamp": 1100.0}
    r = browser.post("/api/v1/kyc/upload-video-frame", json=frame, headers=foreign)
    assert_error(r, 403, "SESSION_TOKEN_INVALID")
    done = browser.post(
        "/api/v1/kyc/complete-verification",
        json={"session_id": session["session_id"]},
        headers=headers,
    )
    assert done.status_code == 200 and "CHALLENGES_INCOMPLETE" in done.json()["reasons"]


@pytest.mark.evaldata
def test_two_servers_share_a_session_and_a_restart_loses_nothing(
    main_server: Server,
    backend: dict[str, str],
    obama: Clip,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    env = {"KYCGUARD_DATABASE_URL": database_url, **BLINK_ONLY, **SHARED}
    other = start(env, tmp_path_factory.mktemp("s2"))
    try:
        with (
            httpx.Client(base_url=main_server.base_url, timeout=120) as a,
            httpx.Client(base_url=other.base_url, timeout=120) as b,
        ):
            created = b.post("/api/v1/sessions", json={"user_id": "dave"}, headers=backend)
            s = Streamer(a, created.json(), quality=85)
            # two workers serve alternate frames of one session
            for k, i in enumerate(range(0, 6, 2)):
                r = s.send(obama.frames[i], 1000 * i / obama.fps, to=(a, b)[k % 2])
                assert r is not None and r.status_code == 200, r and r.text
            # the same next sequence number raced to both workers: exactly one wins
            codes: list[int] = []

            def race(client: httpx.Client, frame: bytes) -> None:
                codes.append(s.post(frame, 3, CLIENT_EPOCH_MS + 230, to=client).status_code)

            frames = (jpeg(obama.frames[6], 85), jpeg(obama.frames[7], 85))
            threads = [
                threading.Thread(target=race, args=pair)
                for pair in zip((a, b), frames, strict=True)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(codes) == [200, 409], codes
            s.sequence = 4
            before = b.get(f"/api/v1/sessions/{s.id}", headers=s.headers).json()
            assert before["frames_received"] == 4 and before["last_sequence"] == 3
            assert before["phase"] == "baseline"  # the neutral window is half full
        other.stop()
        restarted = start(env, tmp_path_factory.mktemp("s3"))
        try:
            with httpx.Client(base_url=restarted.base_url, timeout=120) as c:
                after = c.get(f"/api/v1/sessions/{s.id}", headers=s.headers).json()
                keys = ("frames_received", "last_sequence", "phase")
                assert {k: after[k] for k in keys} == {k: before[k] for k in keys}
                s.client = c
                late = s.post(jpeg(obama.frames[9], 85), 2, CLIENT_EPOCH_MS + 300)
                assert_error(late, 409, "FRAME_OUT_OF_ORDER")
                replies = stream(s, obama, range(8, 40, 2))
                assert replies[-1]["phase"] == "passed", [r["phase"] for r in replies]
                done = c.post(f"/api/v1/sessions/{s.id}/complete", headers=s.headers).json()
                assert done["challenges"][0]["status"] == "passed"
        finally:
            restarted.stop()
    finally:
        other.stop()


@pytest.mark.evaldata
def test_time_limits_are_real(
    database_url: str,
    backend: dict[str, str],
    clip: Callable[[str], Clip],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A challenge whose time runs out fails (it never passes by timer), and sessions expire."""
    env = {
        "KYCGUARD_DATABASE_URL": database_url,
        **BLINK_ONLY,
        **SHARED,
        "KYCGUARD_SESSIONS__EXPIRY_S": "6",
        "KYCGUARD_SESSIONS__CHALLENGE_TIMEOUT_S": "0.7",
        "KYCGUARD_SESSIONS__MAX_CHALLENGE_ATTEMPTS": "2",
    }
    srv = start(env, tmp_path_factory.mktemp("short"))
    try:
        with httpx.Client(base_url=srv.base_url, timeout=120) as c:
            expiring = c.post("/api/v1/sessions", json={"user_id": "erin"}, headers=backend).json()
            orig = clip("orig")  # a steady face that never blinks
            created = c.post("/api/v1/sessions", json={"user_id": "erin"}, headers=backend)
            s = Streamer(c, created.json())
            events: list[str] = []
            for i in range(0, len(orig.frames), 2):
                r = s.send(orig.frames[i], 1000 * i / orig.fps)
                assert r is not None
                if r.status_code == 409:
                    assert_error(r, 409, "CHALLENGES_FINISHED")
                    break
                assert r.status_code == 200, r.text
                events += r.json()["events"]
            assert events.count("attempt_timed_out") == 2 and "session_failed" in events, events
            result = c.post(f"/api/v1/sessions/{s.id}/complete", headers=s.headers).json()
            assert result["status"] == "rejected" and "CHALLENGE_FAILED" in result["reasons"]
            assert result["challenges"][0]["status"] == "failed"

            expires = datetime.fromisoformat(expiring["expires_at"])
            time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.3)
            e = Streamer(c, expiring)
            assert_error(e.post(jpeg(orig.frames[0]), 0, CLIENT_EPOCH_MS), 410, "SESSION_EXPIRED")
            late = c.post(f"/api/v1/sessions/{e.id}/complete", headers=e.headers)
            assert_error(late, 410, "SESSION_EXPIRED")
            view = c.get(f"/api/v1/sessions/{e.id}", headers=backend).json()
            assert view["status"] == "expired"
    finally:
        srv.stop()


def card(photo_path: Path, identity: Identity) -> bytes:
    photo = np.asarray(Image.open(photo_path).convert("RGB"))
    try:
        rendered = render_td1(photo, identity)
    except FileNotFoundError as exc:
        missing(str(exc))
    return encode(camera(on_table(rendered.image, tilt=0.05, angle_deg=-2)))


def blink_session(
    api: httpx.Client, browser: httpx.Client, obama: Clip, quality: int, **create: Any
) -> dict[str, Any]:
    """Create a session (JSON, or multipart with ``id_document``), blink through it with the real
    clip (frames 0-24, the 19-22 blink) and complete it; returns the decision."""
    document = create.pop("id_document", None)
    if document is None:
        r = api.post("/api/v1/sessions", json={"user_id": "grace", **create})
    else:
        files = {"id_document": ("id.jpg", document, "image/jpeg")}
        r = api.post("/api/v1/sessions", data={"user_id": "grace", **create}, files=files)
    assert r.status_code == 200, r.text
    s = Streamer(browser, r.json(), quality=quality)
    assert stream(s, obama, range(0, 40, 2))[-1]["phase"] == "passed"
    done = browser.post(f"/api/v1/sessions/{s.id}/complete", headers=s.headers)
    assert done.status_code == 200, done.text
    return done.json()  # type: ignore[no-any-return]


@pytest.mark.evaldata
def test_the_face_is_matched_to_the_id_document_with_a_multi_frame_template(
    api: httpx.Client, browser: httpx.Client, obama: Clip, fr_test_images: Path
) -> None:
    """The clip shows Barack Obama: a card with his photo matches, a card with Joe Biden's does not;
    a verification done earlier through /verify serves as the document too (its kept portrait)."""
    holder = Identity(surname="OBAMA", given_names="BARACK HUSSEIN", document_number="D23145890")
    own = card(fr_test_images / "obama.jpg", holder)
    other = card(fr_test_images / "biden.jpg", holder)

    same = blink_session(api, browser, obama, 88, id_document=own)
    match = same["face_match"]
    assert match["is_match"] is True and match["distance"] < match["threshold"], match
    assert match["template_frames"] >= 2 and "uploaded" in match["against"]
    assert "FACE_MISMATCH" not in same["reasons"] and "face_match" in same["scores"]["components"]
    # the card's MRZ was read with valid check digits at creation: identity evidence, matched; the
    # recorded clip's injection verdict is what rejects it (see the first test)
    assert same["identity_verified"] is True, _why(same)
    assert same["reasons"][0] == "INJECTION_SUSPECTED", _why(same)
    assert not {"IDENTITY_NOT_VERIFIED", "DOCUMENT_NOT_RECOGNISED"} & set(same["reasons"])
    assert 0 < same["confidence"] <= 100 and same["document_authenticity"]["score"] > 80

    stranger = blink_session(api, browser, obama, 87, id_document=other)
    assert stranger["face_match"]["is_match"] is False
    assert stranger["status"] == "rejected" and "FACE_MISMATCH" in stranger["reasons"]

    verified = api.post(
        "/api/v1/verify",
        files={
            "id_document": ("id.jpg", own, "image/jpeg"),
            "selfie": ("s.jpg", (fr_test_images / "obama2.jpg").read_bytes(), "image/jpeg"),
        },
    )
    assert verified.status_code == 200, verified.text
    vid = verified.json()["verification_id"]
    linked = blink_session(api, browser, obama, 86, verification_id=vid)
    assert linked["linked_verification"]["verification_id"] == vid
    assert linked["face_match"]["is_match"] is True and vid in linked["face_match"]["against"]
    assert verified.json()["status"] == "approved" and linked["identity_verified"] is True
    assert not {"IDENTITY_NOT_VERIFIED", "DOCUMENT_NOT_RECOGNISED"} & set(linked["reasons"])

    assert_error(
        api.post("/api/v1/sessions", json={"user_id": "g", "verification_id": "nope"}),
        404,
        "VERIFICATION_NOT_FOUND",
    )
    blank = encode(np.full((480, 640, 3), 180, np.uint8))
    r = api.post(
        "/api/v1/sessions",
        data={"user_id": "g"},
        files={"id_document": ("id.jpg", blank, "image/jpeg")},
    )
    assert_error(r, 422, "NO_FACE_IN_DOCUMENT")
