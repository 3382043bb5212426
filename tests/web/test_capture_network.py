"""The capture page when the network or the server fails mid-flow, in Debian's Chromium against a
real server: the connection lost while frames stream, the frames endpoint answering 500 and the
completion answering 503 (the service's one JSON error shape). Each is retried a bounded number
of times with back-off, then explained (in the customer's language) with a retry that carries on
where the flow stopped once the network or the server is back; a final 4xx is not retried."""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from web.browser import chromium, page_context, still_frames, write_y4m
from web.conftest import Web

pytestmark = [pytest.mark.evaldata, pytest.mark.slow]
FACES = "faces/face_recognition_examples"
FRAMES = "**/api/v1/sessions/*/frames"
COMPLETE = "**/api/v1/sessions/*/complete"
DOCUMENT = "**/api/v1/sessions/*/document"


@pytest.fixture(scope="module")
def holder(eval_data: Path) -> Any:
    return cv2.imread(str(eval_data / FACES / "by_identity/barack_obama/obama.jpg"))


@pytest.fixture(scope="module")
def still(holder: Any) -> list[np.ndarray]:
    """The holder's photo held still in front of the camera (10 s of frames, each with its own
    sensor noise): the server sees one face and, as it never smiles, fails the challenge."""
    return still_frames(holder[: holder.shape[1] * 3 // 4 - 2])


@pytest.fixture
def camera(still: list[np.ndarray], tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """``still`` with a corner block of the test's own: a frame already sent in another session
    is refused (FRAME_REPLAYED), so no two tests show the camera the same frames."""
    mark = zlib.crc32(request.node.name.encode()).to_bytes(4, "big")

    def marked() -> Iterator[np.ndarray]:
        for frame in still:
            out = frame.copy()
            for i, value in enumerate(mark):
                out[:8, 8 * i : 8 * i + 8] = value
            yield out

    return write_y4m(tmp_path / "still.y4m", marked())


def _frames_received(web: Web, session: dict[str, Any]) -> int:
    with web.api() as c:
        r = c.get(f"/api/v1/sessions/{session['session_id']}")
    assert r.status_code == 200, r.text
    return int(r.json()["frames_received"])


def _wait_for_more_frames(web: Web, session: dict[str, Any], than: int, page: Any) -> int:
    """The server's count of frames once it exceeds ``than`` (the page streams again)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        count = _frames_received(web, session)
        if count > than:
            return count
        page.wait_for_timeout(250)
    raise AssertionError(f"no frame reached the server after the retry (still {than})")


def _failing(hits: list[str], status: int, code: str, message: str) -> Any:
    def handler(route: Any) -> None:
        hits.append(route.request.url)
        route.fulfill(status=status, json={"error": {"code": code, "message": message}})

    return handler


def _streaming_page(web: Web, browser: Any, user: str, holder: Any, **context: Any) -> Any:
    """A page of a fresh session (document attached) whose camera streams and whose first frames
    the server has answered."""
    session = web.start_session(user)
    web.attach_document(session, holder)
    ctx = page_context(browser, **context)
    page = ctx.new_page()
    page.goto(f"{web.base_url}/capture/{session['session_token']}")
    page.locator(".kyc-actions button.kyc-primary").click()  # "Start the camera", any language
    page.wait_for_selector("[data-phase]", timeout=30_000)  # a frame's answer is shown
    return session, ctx, page


def _shows_error(page: Any, kind: str, heading: str, message: str, timeout: int = 15_000) -> None:
    """The page reaches the error state ``kind`` and its alert says so in the customer's language."""
    page.wait_for_selector(f"[data-error={kind}]", timeout=timeout)
    alert = page.get_by_role("alert")
    assert alert.get_by_role("heading").inner_text() == heading
    assert message in alert.inner_text()


def _retry_resumes_streaming(web: Web, session: Any, page: Any, before: int, button: str) -> None:
    """The error's retry button goes straight back to the camera and the same session gets frames."""
    page.get_by_role("button", name=button).click()
    page.locator("video.kyc-video").wait_for(timeout=15_000)
    _wait_for_more_frames(web, session, before, page)
    assert page.locator("[data-error]").count() == 0


def test_network_lost_while_streaming_is_explained_and_resumes(
    web: Web, holder: Any, camera: Path, shots: Any
) -> None:
    with chromium(camera) as browser:
        session, context, page = _streaming_page(web, browser, "network-lost", holder)
        context.set_offline(True)
        _shows_error(
            page, "network", "Connection lost", "The connection was lost. Check your internet"
        )
        shots(page, "error-network")
        before = _frames_received(web, session)
        assert before > 0
        # back online, one click carries on with the camera (no introduction, no new session)
        context.set_offline(False)
        _retry_resumes_streaming(web, session, page, before, "Try again")


def test_server_error_on_frames_is_retried_then_explained_in_german(
    web: Web, holder: Any, camera: Path, shots: Any
) -> None:
    hits: list[str] = []
    with chromium(camera) as browser:
        session, _, page = _streaming_page(web, browser, "frames-500", holder, locale="de-DE")
        page.route(FRAMES, _failing(hits, 500, "INTERNAL_ERROR", "an unexpected error"))
        _shows_error(
            page,
            "server",
            "Vorübergehendes Problem",
            "Bei unserem Dienst ist ein Problem aufgetreten",
        )
        shots(page, "error-server-de")
        # three attempts with back-off, then no more until the customer asks
        assert len(hits) == 3, hits
        page.wait_for_timeout(1500)
        assert len(hits) == 3, hits
        before = _frames_received(web, session)
        page.unroute(FRAMES)
        _retry_resumes_streaming(web, session, page, before, "Erneut versuchen")


def test_completion_unavailable_is_retried_then_the_retry_shows_the_decision(
    web: Web, holder: Any, camera: Path, shots: Any
) -> None:
    hits: list[str] = []
    with chromium(camera) as browser:
        page = page_context(browser).new_page()
        page.route(COMPLETE, _failing(hits, 503, "MODEL_UNAVAILABLE", "a model is missing"))
        session = web.start_session("complete-503")
        web.attach_document(session, holder)
        page.goto(f"{web.base_url}/capture/{session['session_token']}")
        page.get_by_role("button", name="Start the camera").click()
        # the still photo never smiles: the challenge times out (8 s), the page asks for the decision
        _shows_error(
            page,
            "server",
            "Temporary problem",
            "Our service had a problem. Please try again in a moment.",
            40_000,
        )
        assert len(hits) == 3, hits
        with web.api() as c:
            assert c.get(f"/api/v1/sessions/{session['session_id']}").json()["status"] == "active"
        page.unroute(COMPLETE)
        page.get_by_role("button", name="Try again").click()
        page.wait_for_selector(".kyc-result", timeout=60_000)
        shown = page.locator(".kyc-result").get_attribute("data-status")
    with web.api() as c:
        state = c.get(f"/api/v1/sessions/{session['session_id']}").json()
    assert state["status"] == "completed"
    assert shown == state["result"]["status"] == "rejected"


def test_a_final_refusal_of_a_frame_is_not_retried(web: Web, holder: Any, camera: Path) -> None:
    hits: list[str] = []
    with chromium(camera) as browser:
        _, _, page = _streaming_page(web, browser, "frames-410", holder)
        page.route(FRAMES, _failing(hits, 410, "SESSION_EXPIRED", "the session has expired"))
        page.wait_for_selector("[data-error=expired]", timeout=15_000)
        page.wait_for_timeout(1500)
        assert len(hits) == 1, hits
        assert page.get_by_role("button", name="Try again").count() == 0


def test_document_upload_failing_keeps_the_photo_for_the_retry(
    web: Web, holder: Any, tmp_path: Path
) -> None:
    photo = tmp_path / "document.jpg"
    cv2.imwrite(str(photo), holder)
    hits: list[str] = []
    session = web.start_session("document-503")
    with chromium(None) as browser:
        page = page_context(browser).new_page()
        page.route(DOCUMENT, _failing(hits, 503, "MODEL_UNAVAILABLE", "a model is missing"))
        page.goto(f"{web.base_url}/capture/{session['session_token']}")
        page.get_by_role("button", name="Start").click()
        page.set_input_files("#kyc-file-front", str(photo))
        page.get_by_role("button", name="Use this photo").click()
        page.wait_for_selector("[data-error=server]", timeout=15_000)
        assert len(hits) == 3, hits
        page.unroute(DOCUMENT)
        # the retry shows the same photo again, ready to send (nothing to retake)
        page.get_by_role("button", name="Try again").click()
        page.get_by_role("img", name="Front of the document").wait_for(timeout=5_000)
        page.get_by_role("button", name="Use this photo").click()
        page.get_by_role("button", name="Start the camera").wait_for(timeout=60_000)
    with web.api() as c:
        state = c.get(f"/api/v1/sessions/{session['session_id']}").json()
    assert state["document_portrait"] is True
