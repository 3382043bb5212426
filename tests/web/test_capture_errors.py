"""The capture page's camera error states in Debian's Chromium: a phone held sideways, no camera, a
camera too slow, several faces in view. Each shows its plain explanation (and a retry)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from web.browser import chromium, page_context, still_frames, write_y4m
from web.conftest import Web

pytestmark = [pytest.mark.evaldata, pytest.mark.slow]
FACES = "faces/face_recognition_examples"


@pytest.fixture(scope="module")
def holder(eval_data: Path) -> Any:
    return cv2.imread(str(eval_data / FACES / "by_identity/barack_obama/obama.jpg"))


def _ready_session(web: Web, user: str, holder: Any) -> dict[str, Any]:
    session = web.start_session(user)
    web.attach_document(session, holder)
    return session


def test_phone_held_sideways_asks_to_turn_it_back(
    web: Web, holder: Any, tmp_path: Path, shots: Any
) -> None:
    camera = write_y4m(tmp_path / "still.y4m", still_frames(holder[:682], count=30))
    session = _ready_session(web, "errors-rotated", holder)
    with chromium(camera) as browser:
        context = page_context(
            browser, viewport={"width": 780, "height": 360}, is_mobile=True, has_touch=True
        )
        page = context.new_page()
        page.goto(f"{web.base_url}/capture/{session['session_token']}")
        page.get_by_role("button", name="Start the camera").click()
        page.wait_for_selector("[data-error=rotated]", timeout=30_000)
        shots(page, "error-rotated")
        assert "Turn your device back to portrait" in page.get_by_role("alert").inner_text()
        # turned back upright, the retry opens the camera
        page.set_viewport_size({"width": 360, "height": 780})
        page.get_by_role("button", name="Try again").click()
        page.locator("video.kyc-video").wait_for(timeout=30_000)


def test_no_camera_is_explained(web: Web, holder: Any, shots: Any) -> None:
    session = _ready_session(web, "errors-no-camera", holder)
    with chromium(None) as browser:  # no fake device: this machine has no camera
        page = page_context(browser).new_page()
        page.goto(f"{web.base_url}/capture/{session['session_token']}")
        page.get_by_role("button", name="Start the camera").click()
        page.wait_for_selector("[data-error=no_camera]", timeout=30_000)
        shots(page, "error-no-camera")
        assert "No camera was found" in page.get_by_role("alert").inner_text()
        assert page.get_by_role("button", name="Try again").is_visible()


def test_camera_below_the_minimum_frame_rate_is_refused(
    web: Web, holder: Any, tmp_path: Path, shots: Any
) -> None:
    camera = write_y4m(tmp_path / "slow.y4m", still_frames(holder[:682], count=10), fps=4)
    session = _ready_session(web, "errors-slow", holder)
    with chromium(camera) as browser:
        page = page_context(browser).new_page()
        page.goto(f"{web.base_url}/capture/{session['session_token']}")
        page.get_by_role("button", name="Start the camera").click()
        page.wait_for_selector("[data-error=camera_too_slow]", timeout=30_000)
        shots(page, "error-camera-too-slow")
        assert "fps" in page.get_by_role("alert").inner_text()
    with web.api() as c:
        assert c.get(f"/api/v1/sessions/{session['session_id']}").json()["frames_received"] == 0


def test_several_faces_get_the_servers_guidance(
    web: Web, holder: Any, tmp_path: Path, shots: Any
) -> None:
    # two heads side by side (a real portrait twice: in 640 px, the faces of the shared group
    # photo are too small for the detector)
    head = holder[: holder.shape[1]]
    camera = write_y4m(tmp_path / "two.y4m", still_frames(np.hstack([head, head])))
    session = _ready_session(web, "errors-two-faces", holder)
    with chromium(camera) as browser:
        page = page_context(browser).new_page()
        page.goto(f"{web.base_url}/capture/{session['session_token']}")
        page.get_by_role("button", name="Start the camera").click()
        guidance = page.locator("#kyc-guidance")
        try:
            page.wait_for_function(
                "() => document.querySelector('#kyc-guidance')?.textContent.includes('Only one person')",
                timeout=90_000,
            )
        finally:
            shots(page, "several-faces-last")
        assert guidance.get_attribute("aria-live") == "polite"
        shots(page, "error-several-faces", readme=True)
        page.close()
