"""A real server for the browser tests, and the real inputs they show the camera."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.servers import Server

OBAMA_CLIP = "deepfake/ghost_faceswap/videos/obama_short.mp4"
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"


class Web:
    """The server and the helpers the page tests share."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.base_url = server.base_url

    def api(self, role: str = "integrator", tenant: str | None = "tests") -> httpx.Client:
        """A client with a key of ``role`` (of tenant ``tests``; None: every tenant)."""
        headers = self.server.headers(role, tenant)
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=60)

    def attach_document(self, session: dict[str, Any], photo_bgr: Any) -> None:
        """The ID document through the page's own route (session token only)."""
        import cv2

        ok, jpeg = cv2.imencode(".jpg", photo_bgr)
        assert ok
        r = httpx.post(
            f"{self.base_url}/api/v1/sessions/{session['session_id']}/document",
            files={"id_document": ("doc.jpg", jpeg.tobytes(), "image/jpeg")},
            headers={"X-Session-Token": session["session_token"]},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert r.json()["document_portrait"] is True

    def start_session(self, user_id: str, **body: Any) -> dict[str, Any]:
        with self.api() as c:
            r = c.post("/api/v1/sessions", json={"user_id": user_id, **body})
        assert r.status_code == 200, r.text
        return dict(r.json())


@pytest.fixture(scope="session")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """One server whose sessions ask for a single smile (the one action the clip performs in every
    loop: it smiles from frame 52) within 8 s, one attempt, so a still photo fails quickly."""
    folder = tmp_path_factory.mktemp("web_server")
    env = {
        "KYCGUARD_SESSIONS__CHALLENGE_POOL": "smile",
        "KYCGUARD_SESSIONS__MIN_CHALLENGES": "1",
        "KYCGUARD_SESSIONS__MAX_CHALLENGES": "1",
        "KYCGUARD_SESSIONS__CHALLENGE_TIMEOUT_S": "8",
        "KYCGUARD_SESSIONS__MAX_CHALLENGE_ATTEMPTS": "1",
        "KYCGUARD_SECURITY__RATE_LIMITS__PER_KEY": "100000",
        "KYCGUARD_SECURITY__RATE_LIMITS__PER_ADDRESS": "100000",
        "KYCGUARD_SECURITY__PURGE_INTERVAL_S": "0",
        "KYCGUARD_WEB__RETURN_URL": "http://localhost:9/kyc/done?session={session_id}&status={status}",
    }
    server = Server(env, folder)
    try:
        server.wait_ready()
        yield Web(server)
    finally:
        server.stop()


@pytest.fixture
def shots(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """``shots(page, name)``: a screenshot in the test's tmp dir (the artefact) and, for the README's
    main steps (``readme=True``), in docs/screenshots/."""

    def take(page: Any, name: str, readme: bool = False) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if readme:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            (SCREENSHOTS / f"{name}.png").write_bytes(path.read_bytes())
        return path

    return take
