"""The pages' routes on a real server: headers, the static allow-list, the capture call, the
token-authenticated document upload, and the return-URL setting's validation."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError
from web.conftest import Web

from kycguard.web.config import WebSettings


def test_pages_are_static_html_with_a_self_only_csp(web: Web) -> None:
    for path in ("/capture/kgs_anything", "/console", "/console/dashboard"):
        r = httpx.get(web.base_url + path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "<script>" not in r.text  # no inline script: the CSP would block it
        assert 'type="module"' in r.text
    camera = httpx.get(web.base_url + "/capture/x").headers["permissions-policy"]
    assert "camera=(self)" in camera


@pytest.mark.parametrize(
    "name", ["capture.html", "../routes.py", "..%2Froutes.py", "nope.js", "config.py"]
)
def test_static_route_serves_only_shipped_assets(web: Web, name: str) -> None:
    r = httpx.get(f"{web.base_url}/static/{name}")
    assert r.status_code == 404
    assert r.json()["error"]["code"] in ("NOT_FOUND", "HTTP_404")


def test_static_assets_have_their_types(web: Web) -> None:
    for name, kind in (("kycguard-capture.js", "text/javascript"), ("capture.css", "text/css")):
        r = httpx.get(f"{web.base_url}/static/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind)
        assert r.headers["x-content-type-options"] == "nosniff"


def test_capture_session_needs_the_token_and_names_no_other_session(web: Web) -> None:
    session = web.start_session("pages-token")
    r = httpx.get(web.base_url + "/api/v1/capture/session")
    assert r.status_code == 401
    r = httpx.get(
        web.base_url + "/api/v1/capture/session",
        headers={"X-Session-Token": session["session_token"]},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["session_id"] == session["session_id"]
    assert body["document_portrait"] is False
    assert [c["instruction"] for c in body["challenges"]] == ["Smile."]
    assert body["return_url"].startswith("http://localhost:9/kyc/done")
    # an API key is not the page's credential
    r = httpx.get(web.base_url + "/api/v1/capture/session", headers=web.server.headers())
    assert r.status_code == 403


def test_document_upload_needs_its_own_session_token_and_a_face(web: Web) -> None:
    a = web.start_session("pages-doc-a")
    b = web.start_session("pages-doc-b")
    url = f"{web.base_url}/api/v1/sessions/{a['session_id']}/document"
    blank = _jpeg_blank()
    files = {"id_document": ("d.jpg", blank, "image/jpeg")}
    assert httpx.post(url, files=files).status_code == 401
    wrong = httpx.post(url, files=files, headers={"X-Session-Token": b["session_token"]})
    assert wrong.status_code == 401
    own = {"X-Session-Token": a["session_token"]}
    r = httpx.post(url, files=files, headers=own)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "NO_FACE_IN_DOCUMENT"
    r = httpx.post(url, files={"selfie": ("d.jpg", blank, "image/jpeg")}, headers=own)
    assert r.status_code == 422 and r.json()["error"]["code"] == "UNKNOWN_FIELD"
    r = httpx.get(
        web.base_url + "/api/v1/capture/session", headers={"X-Session-Token": a["session_token"]}
    )
    assert r.json()["document_portrait"] is False  # nothing half written


def _jpeg_blank() -> bytes:
    import cv2
    import numpy as np

    ok, buf = cv2.imencode(".jpg", np.full((480, 640, 3), 180, np.uint8))
    assert ok
    return buf.tobytes()


@pytest.mark.parametrize(
    "url",
    [
        "http://bank.example/done",  # plain http to a real host
        "javascript:alert(1)",
        "https://user:pw@bank.example/",
        "https://bank.example/{token}",  # only {session_id} and {status}
        "/relative/path",
    ],
)
def test_return_url_is_validated(url: str) -> None:
    with pytest.raises(ValidationError):
        WebSettings(return_url=url)


def test_return_url_accepts_https_and_local_development() -> None:
    assert WebSettings(return_url="https://bank.example/kyc?s={session_id}&r={status}").return_url
    assert WebSettings(return_url="http://localhost:3000/done").return_url


def test_every_text_is_translated() -> None:
    """German has every key English has (the page falls back to English, silently otherwise)."""
    import re
    from pathlib import Path

    import kycguard.web

    source = (Path(kycguard.web.__file__).parent / "static" / "i18n.js").read_text()
    en, de = source.split("\n  de: {", 1)
    key = re.compile(r'^\s+"?([\w.]+)"?: "', re.M)
    english, german = set(key.findall(en)), set(key.findall(de))
    assert len(english) > 90
    assert english == german, (english - german, german - english)
