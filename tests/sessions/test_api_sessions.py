"""Video sessions end to end: real ``kycguard serve`` processes, a real clip streamed frame by frame,
SQLite and PostgreSQL.

The clips do not perform random challenges, so these servers are configured through the settings to
draw one challenge from a pool of one: ``blink``. obama_short.mp4 blinks at 19-22 (see
test_detectors_real.py), so streaming its first second completes a real one-blink session honestly.
Frames are sent at the pace they were filmed (every second frame, ~15 fps) with their capture times.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sessions.helpers import Clip, jpeg
from sqlalchemy import create_engine, text
from support.servers import Server

BLINK_ONLY = {
    "KYCGUARD_SESSIONS__CHALLENGE_POOL": "blink",
    "KYCGUARD_SESSIONS__MIN_CHALLENGES": "1",
    "KYCGUARD_SESSIONS__MAX_CHALLENGES": "1",
}
CLIENT_EPOCH_MS = 1_700_000_000_000.0  # the client's clock: any origin, only differences count


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
    srv = start({"KYCGUARD_DATABASE_URL": database_url, **BLINK_ONLY}, tmp_path_factory.mktemp("s"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def api(main_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=main_server.base_url, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def obama(clip: Callable[[str], Clip]) -> Clip:
    return clip("obama")


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
    they were filmed, byte-identical repeats (the clip was frame-rate converted) not resent."""

    def __init__(self, client: httpx.Client, session: dict[str, Any]) -> None:
        self.client = client
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
        data = jpeg(rgb)
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
    api: httpx.Client, obama: Clip, database_url: str
) -> None:
    created = api.post("/api/v1/sessions", json={"user_id": "alice"})
    assert created.status_code == 200, created.text
    session = created.json()
    assert [c["challenge"] for c in session["challenges"]] == ["blink"]
    assert session["session_token"].startswith("kgs_") and session["expires_at"]
    s = Streamer(api, session)
    # multipart JPEG for the first half, JSON data URLs (the seed's format) for the second
    replies = stream(s, obama, range(0, 16, 2)) + stream(s, obama, range(16, 40, 2), as_json=True)
    phases = [r["phase"] for r in replies]
    assert phases[0] == "baseline" and "passed" in phases, phases
    first_challenge = next(r for r in replies if r["phase"] == "challenges")
    assert first_challenge["current_challenge"]["challenge"] == "blink"
    assert 0 < first_challenge["current_challenge"]["seconds_left"] <= 10
    passed = next(r for r in replies if r["phase"] == "passed")
    # eyes shut at 19-22, open again at 23: with every second frame sent, 24 is the reopening
    assert passed["frame"] == 24 and "challenge_passed" in passed["events"]
    assert passed["challenges_completed"] == 1 and passed["liveness_score"] > 95
    assert all(r["face_detected"] and r["face_count"] == 1 for r in replies)
    assert all(isinstance(r["guidance"], list) for r in replies)
    assert "challenge progress" in passed["liveness_score_basis"]

    # kept: the neutral reference, <= 3 best frames, one crop per passed challenge, and a bounded
    # ring of recent frames for the sequence cues (48 by default); nothing else
    kept = blobs(database_url, s.id)
    assert "reference" in kept and "challenge/0" in kept
    assert 1 <= sum(k.startswith("best/") for k in kept) <= 3
    ring = [k for k in kept if k.startswith("seq/")]
    assert 1 <= len(ring) <= 48
    assert len(kept) == len(ring) + 2 + sum(k.startswith("best/") for k in kept)

    r = s.post(jpeg(obama.frames[41]), s.sequence, CLIENT_EPOCH_MS + 1400)
    assert_error(r, 409, "CHALLENGES_FINISHED")

    done = api.post(f"/api/v1/sessions/{s.id}/complete", headers=s.headers)
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["status"] in ("approved", "manual_review", "rejected")
    assert result["challenges"][0]["status"] == "passed"
    assert 50 <= result["challenges"][0]["evidence"]["closed_ms"] <= 1000
    assert result["same_person"]["checked"] and result["same_person"]["max_distance"] < 0.5
    assert "CHALLENGES_INCOMPLETE" not in result["reasons"]
    assert "FACE_CHANGED_DURING_SESSION" not in result["reasons"]
    codes = {f["code"] for f in result["findings"]}
    assert "NO_DOCUMENT_TO_MATCH" in codes
    assert result["liveness_check"]["frames_used"] >= 5  # the sequence cues ran on kept frames
    assert set(result["scores"]["components"]) == {"quality", "liveness"}
    # after completion only the best frames and the challenge crop remain; frames are refused
    assert all(k.startswith(("best/", "challenge/")) for k in blobs(database_url, s.id))
    r = s.post(jpeg(obama.frames[43]), s.sequence + 1, CLIENT_EPOCH_MS + 1500)
    assert_error(r, 409, "SESSION_COMPLETED")
    assert api.post(f"/api/v1/sessions/{s.id}/complete", headers=s.headers).json() == result

    status = api.get(f"/api/v1/sessions/{s.id}", headers=s.headers).json()
    assert status["status"] == "completed" and status["result"] == result
    alias = api.get("/api/v1/kyc/get-session-status", params={"session_id": s.id}).json()
    assert alias["status"] == "completed" and alias["frames_received"] == len(replies)

    assert_error(
        api.delete(f"/api/v1/sessions/{s.id}", headers=s.headers), 403, "SESSION_TOKEN_NOT_ALLOWED"
    )
    gone = api.delete(f"/api/v1/sessions/{s.id}")
    assert gone.status_code == 200 and gone.json()["images_erased"] >= 2
    assert blobs(database_url, s.id) == []
    after = api.get(f"/api/v1/sessions/{s.id}").json()
    assert after["status"] == "deleted" and "reference" not in str(after)


@pytest.mark.evaldata
def test_out_of_order_duplicate_and_replayed_frames_are_refused(
    api: httpx.Client, obama: Clip
) -> None:
    one = Streamer(api, api.post("/api/v1/sessions", json={"user_id": "bob"}).json())
    two = Streamer(api, api.post("/api/v1/sessions", json={"user_id": "bob"}).json())
    f0, f2, f4 = (jpeg(obama.frames[i]) for i in (0, 2, 4))
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
    bad = api.post(
        f"/api/v1/sessions/{one.id}/frames",
        json={"frame": "data:image/jpeg;base64,@@@", "sequence": 6, "timestamp": t + 50},
        headers=one.headers,
    )
    assert_error(bad, 422, "INVALID_FRAME_ENCODING")
    missing = api.post(
        f"/api/v1/sessions/{one.id}/frames", json={"frame": "AAAA"}, headers=one.headers
    )
    assert_error(missing, 422, "INVALID_REQUEST")
    # nothing above changed the session: the next good frame is accepted as the second one
    time.sleep(0.2)
    ok = one.post(f2, 6, t + 150)
    assert ok.status_code == 200, ok.text
    assert ok.json()["frames_received"] == 2
    # the seed's route takes the session id in the body
    seed = api.post(
        "/api/v1/kyc/upload-video-frame",
        json={
            "session_id": one.id,
            "frame": base64.b64encode(f4).decode(),
            "sequence": 7,
            "timestamp": t + 200,
        },
        headers=one.headers,
    )
    assert seed.status_code == 200 and seed.json()["frames_received"] == 3, seed.text


def test_the_session_token_works_only_for_its_own_session(
    api: httpx.Client, astronaut: np.ndarray
) -> None:
    a = api.post("/api/v1/kyc/start-session", json={"user_id": "carol"}).json()
    b = api.post("/api/v1/sessions", json={"user_id": "carol"}).json()
    frame = jpeg(astronaut)
    other = {"X-Session-Token": a["session_token"]}
    url = f"/api/v1/sessions/{b['session_id']}"
    form = {"sequence": "0", "timestamp": "1000"}
    files = {"frame": ("f.jpg", frame, "image/jpeg")}
    assert_error(
        api.post(url + "/frames", files=files, data=form, headers=other),
        403,
        "SESSION_TOKEN_INVALID",
    )
    assert_error(api.post(url + "/frames", files=files, data=form), 401, "SESSION_TOKEN_REQUIRED")
    assert_error(api.post(url + "/complete", headers=other), 403, "SESSION_TOKEN_INVALID")
    assert_error(api.get(url, headers=other), 403, "SESSION_TOKEN_INVALID")
    assert_error(
        api.post(
            "/api/v1/kyc/complete-verification", json={"session_id": b["session_id"]}, headers=other
        ),
        403,
        "SESSION_TOKEN_INVALID",
    )
    mine = {"X-Session-Token": b["session_token"]}
    assert api.post(url + "/frames", files=files, data=form, headers=mine).status_code == 200
    assert api.get(url, headers=mine).json()["frames_received"] == 1
    assert_error(api.get("/api/v1/sessions/no-such-session"), 404, "SESSION_NOT_FOUND")
    assert_error(
        api.post("/api/v1/sessions", json={"user_id": "x", "challenge_count": 4}),
        422,
        "INVALID_CHALLENGE_COUNT",
    )
    assert_error(api.post("/api/v1/sessions", json={"user": "x"}), 422, "INVALID_REQUEST")


@pytest.mark.evaldata
def test_two_servers_share_a_session_and_a_restart_loses_nothing(
    main_server: Server, obama: Clip, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = {"KYCGUARD_DATABASE_URL": database_url, **BLINK_ONLY}
    other = start(env, tmp_path_factory.mktemp("s2"))
    try:
        with (
            httpx.Client(base_url=main_server.base_url, timeout=120) as a,
            httpx.Client(base_url=other.base_url, timeout=120) as b,
        ):
            s = Streamer(a, a.post("/api/v1/sessions", json={"user_id": "dave"}).json())
            # two workers serve alternate frames of one session
            for k, i in enumerate(range(0, 6, 2)):
                r = s.send(obama.frames[i], 1000 * i / obama.fps, to=(a, b)[k % 2])
                assert r is not None and r.status_code == 200, r and r.text
            # the same next sequence number raced to both workers: exactly one wins
            data = [jpeg(obama.frames[6]), jpeg(obama.frames[7])]
            codes: list[int] = []

            def race(client: httpx.Client, frame: bytes) -> None:
                codes.append(s.post(frame, 3, CLIENT_EPOCH_MS + 230, to=client).status_code)

            threads = [
                threading.Thread(target=race, args=(c, f))
                for c, f in zip((a, b), data, strict=True)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(codes) == [200, 409], codes
            s.sequence = 4
            before = b.get(f"/api/v1/sessions/{s.id}", headers=s.headers).json()
            assert before["frames_received"] == 4 and before["last_sequence"] == 3
        other.stop()
        restarted = start(env, tmp_path_factory.mktemp("s3"))
        try:
            with httpx.Client(base_url=restarted.base_url, timeout=120) as c:
                after = c.get(f"/api/v1/sessions/{s.id}", headers=s.headers).json()
                assert {k: after[k] for k in ("frames_received", "last_sequence", "phase")} == {
                    k: before[k] for k in ("frames_received", "last_sequence", "phase")
                }
                s.client = c
                assert_error(
                    s.post(jpeg(obama.frames[9]), 2, CLIENT_EPOCH_MS + 300),
                    409,
                    "FRAME_OUT_OF_ORDER",
                )
                replies = stream(s, obama, range(8, 40, 2))
                assert any(r["phase"] == "passed" for r in replies), [r["phase"] for r in replies]
                done = c.post(f"/api/v1/sessions/{s.id}/complete", headers=s.headers).json()
                assert done["challenges"][0]["status"] == "passed"
        finally:
            restarted.stop()
    finally:
        other.stop()


@pytest.mark.evaldata
def test_time_limits_are_real(
    database_url: str, clip: Callable[[str], Clip], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A challenge whose time runs out fails (it never passes by timer), and sessions expire."""
    env = {
        "KYCGUARD_DATABASE_URL": database_url,
        **BLINK_ONLY,
        "KYCGUARD_SESSIONS__EXPIRY_S": "6",
        "KYCGUARD_SESSIONS__CHALLENGE_TIMEOUT_S": "0.7",
        "KYCGUARD_SESSIONS__MAX_CHALLENGE_ATTEMPTS": "2",
    }
    srv = start(env, tmp_path_factory.mktemp("short"))
    try:
        with httpx.Client(base_url=srv.base_url, timeout=120) as c:
            expiring = c.post("/api/v1/sessions", json={"user_id": "erin"}).json()
            # orig.webm: a steady face that never blinks
            orig = clip("orig")
            s = Streamer(c, c.post("/api/v1/sessions", json={"user_id": "erin"}).json())
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
            assert_error(
                c.post(f"/api/v1/sessions/{e.id}/complete", headers=e.headers),
                410,
                "SESSION_EXPIRED",
            )
            assert c.get(f"/api/v1/sessions/{e.id}").json()["status"] == "expired"
    finally:
        srv.stop()
