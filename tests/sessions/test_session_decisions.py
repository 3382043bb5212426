"""The decision rules of video sessions through HTTP, on SQLite and PostgreSQL, with a real clip.

obama_short.mp4 streamed from a file is, to the sequence cues, an injected stream (frame-rate
duplicates; ``test_api_sessions.py`` shows the confident verdict rejecting it). To look at the identity
rules alone, this server treats injection verdicts as a review finding (``evidence.injection_reject_at``
at 100, so ``INJECTION_UNCERTAIN``), and its review band starts at 30: the clip's sequence liveness
score is about 40 (``uncertain``), which by the default band (75) would reject on the score alone and
hide the rule under test. What stays: a session with no document is never approved, one
linked to a rejected verification is rejected, and open sessions are counted per tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from documents.render import Identity
from sessions.helpers import Clip, decode
from sessions.test_api_sessions import BLINK_ONLY, SHARED, Streamer, _why, card, start, stream
from support.servers import Server

HOLDER = Identity(surname="OBAMA", given_names="BARACK HUSSEIN", document_number="D23145890")


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "KYCGUARD_DATABASE_URL": database_url,
        **BLINK_ONLY,
        **SHARED,
        "KYCGUARD_EVIDENCE__INJECTION_REJECT_AT": "100",
        "KYCGUARD_DECISION__REVIEW_AT": "30",
        "KYCGUARD_SESSIONS__MAX_SESSIONS_PER_USER_PER_HOUR": "2",
    }
    srv = start(env, tmp_path_factory.mktemp("decisions"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def obama(clip: Callable[[str], Clip]) -> Clip:
    return clip("obama")


def session(server: Server, tenant: str, user: str, **body: Any) -> httpx.Response:
    with httpx.Client(base_url=server.base_url, timeout=120) as c:
        return c.post(
            "/api/v1/sessions",
            json={"user_id": user, **body},
            headers=server.headers("integrator", tenant),
        )


def blink(server: Server, created: dict[str, Any], obama: Clip, quality: int) -> dict[str, Any]:
    with httpx.Client(base_url=server.base_url, timeout=120) as browser:
        s = Streamer(browser, created, quality=quality)
        assert stream(s, obama, range(0, 40, 2))[-1]["phase"] == "passed"
        done = browser.post(f"/api/v1/sessions/{s.id}/complete", headers=s.headers)
    assert done.status_code == 200, done.text
    return done.json()  # type: ignore[no-any-return]


@pytest.mark.evaldata
def test_a_session_without_a_document_proves_liveness_not_identity(
    server: Server, obama: Clip
) -> None:
    r = session(server, "decisions", "nodoc")
    assert r.status_code == 200, r.text
    result = blink(server, r.json(), obama, 74)
    assert result["status"] == "manual_review", _why(result)
    assert result["reasons"][0] == "IDENTITY_NOT_VERIFIED", _why(result)
    assert result["liveness_passed"] is True and result["identity_verified"] is False
    assert "passed the liveness check" in result["message"]
    assert "identity is not verified" in result["message"]
    assert any(e.startswith("identity not verified") for e in result["errors"])
    assert "face_match" not in result and result["confidence"] is None


@pytest.mark.evaldata
def test_a_session_linked_to_a_rejected_verification_is_rejected(
    server: Server, obama: Clip, fr_test_images: Path
) -> None:
    """The verification matched Joe Biden's selfie to Barack Obama's card (rejected); a session of
    the card's holder linked to it is rejected too, though his face matches the card."""
    own = card(fr_test_images / "obama.jpg", HOLDER)
    with httpx.Client(base_url=server.base_url, timeout=120) as c:
        verified = c.post(
            "/api/v1/verify",
            files={
                "id_document": ("id.jpg", own, "image/jpeg"),
                "selfie": ("s.jpg", (fr_test_images / "biden.jpg").read_bytes(), "image/jpeg"),
            },
            headers=server.headers("integrator", "decisions"),
        )
    assert verified.status_code == 200 and verified.json()["status"] == "rejected", verified.text
    vid = verified.json()["verification_id"]
    r = session(server, "decisions", "linked", verification_id=vid)
    assert r.status_code == 200, r.text
    result = blink(server, r.json(), obama, 73)
    assert result["status"] == "rejected", _why(result)
    assert result["reasons"][0] == "LINKED_VERIFICATION_REJECTED", _why(result)
    assert result["face_match"]["is_match"] is True


def test_open_sessions_are_counted_within_the_tenant(server: Server) -> None:
    """Tenant A's user-1 using up the hourly sessions does not block tenant B's user-1."""
    for _ in range(2):
        assert session(server, "tenant-a", "user-1").status_code == 200
    refused = session(server, "tenant-a", "user-1")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "TOO_MANY_SESSIONS"
    other = session(server, "tenant-b", "user-1")
    assert other.status_code == 200, other.text


@pytest.mark.evaldata
def test_a_face_swapped_video_is_rejected_as_a_deepfake(server: Server, eval_data: Path) -> None:
    """A GHOST face swap (elon.webm, the shared deepfake set) streamed as a session: a confident
    deepfake verdict rejects it, whatever the challenges did."""
    fake = decode(eval_data / "deepfake/ghost_faceswap/videos/elon.webm", "elon")
    r = session(server, "decisions", "swapped")
    assert r.status_code == 200, r.text
    with httpx.Client(base_url=server.base_url, timeout=120) as browser:
        s = Streamer(browser, r.json(), quality=72)
        stream(s, fake, range(len(fake.frames)))
        done = browser.post(f"/api/v1/sessions/{s.id}/complete", headers=s.headers)
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["status"] == "rejected", _why(result)
    assert "DEEPFAKE_SUSPECTED" in result["reasons"], _why(result)
    # 61.9 here; evidence.deepfake_reject_at is 55
    assert result["liveness_check"]["deepfake_score"] >= 55 and result["liveness_passed"] is False
