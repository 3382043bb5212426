"""``/api/v1/verify`` end to end: a real server process, real photos, rendered ID cards, SQLite and
PostgreSQL. Every bad input gets a 4xx in the one error shape, and leaves nothing in the store."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from documents.render import Identity, camera, on_table, render_td1
from PIL import Image
from sqlalchemy import create_engine, text
from support.env import missing
from support.imagefiles import bomb_png, encode
from support.servers import Server

HOLDER = Identity(surname="OBAMA", given_names="BARACK HUSSEIN", document_number="D23145890")
DECLARED = {
    "full_name": "Barack Obama",
    "date_expiration": "2034-04-15",
    "date_of_birth": "19740812",
}


def photo(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def card(fr_test_images: Path) -> bytes:
    try:
        rendered = render_td1(photo(fr_test_images / "obama.jpg"), HOLDER)
    except FileNotFoundError as exc:
        missing(str(exc))
    return encode(camera(on_table(rendered.image, tilt=0.05, angle_deg=-2)))


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=120, headers=server.headers()) as c:
        yield c


def stored_count(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM verifications")).scalar_one())
    finally:
        engine.dispose()


def verify(
    client: httpx.Client, document: bytes, selfie: bytes, data: dict[str, Any] | None = None
) -> httpx.Response:
    form = {"structured_data": json.dumps(data)} if data is not None else {}
    return client.post(
        "/api/v1/verify",
        files={
            "id_document": ("id.jpg", document, "image/jpeg"),
            "selfie": ("selfie.jpg", selfie, "image/jpeg"),
        },
        data=form,
    )


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and len(body["error"]["message"]) > 10
    return body["error"]  # type: ignore[no-any-return]


def test_health_reports_every_model(client: httpx.Client) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["models"]["face_landmarker"] == "loaded"
    assert body["models"]["face_embedder"].startswith("loaded")


def test_config_exposes_the_thresholds(client: httpx.Client, server: Server) -> None:
    auditor = server.headers("auditor", None)
    settings = client.get("/api/v1/config", headers=auditor).json()["settings"]
    assert settings["decision"]["approve_at"] == 85 and settings["decision"]["review_at"] == 75
    assert (
        0 < settings["face_match"]["tolerance"] < settings["face_match"]["clear_mismatch_distance"]
    )
    assert settings["quality"]["min_blur_score"] > 0


def test_genuine_holder_is_accepted_and_stored(
    client: httpx.Client, card: bytes, fr_test_images: Path, database_url: str
) -> None:
    before = stored_count(database_url)
    r = verify(client, card, (fr_test_images / "obama2.jpg").read_bytes(), DECLARED)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] in ("approved", "manual_review"), body
    assert body["face_match"]["is_match"] is True and body["face_match"]["confidence"] > 85
    assert body["face_match"]["distance"] < body["face_match"]["threshold"]
    assert "FACE_MISMATCH" not in body["reasons"]
    assert body["quality"]["selfie"]["face_count"] == 1
    assert {"blur", "exposure", "face_size", "pose"} <= set(body["quality"]["selfie"])
    assert body["document_authenticity"]["portrait"]["found"] is True
    assert body["api_version"] == "v1" and body["processing_time_ms"] > 0
    assert isinstance(body["warnings"], list) and body["recommendation"]
    assert stored_count(database_url) == before + 1
    again = client.get(f"/api/v1/verifications/{body['verification_id']}")
    assert again.status_code == 200 and again.json() == body


def test_different_person_is_rejected(
    client: httpx.Client, card: bytes, fr_test_images: Path
) -> None:
    body = verify(client, card, (fr_test_images / "biden.jpg").read_bytes(), DECLARED).json()
    assert body["status"] == "rejected"
    assert body["face_match"]["is_match"] is False
    assert "FACE_MISMATCH" in body["reasons"]
    assert body["overall_confidence"] < 75


def test_expired_document_is_rejected_whatever_the_face(
    client: httpx.Client, fr_test_images: Path
) -> None:
    """The MRZ says the card expired: a hard reject, even though the face matches."""
    expired = replace(HOLDER, expiry_date=dt.date(2021, 3, 1), issue_date=dt.date(2011, 3, 2))
    card = encode(camera(render_td1(photo(fr_test_images / "obama.jpg"), expired).image))
    body = verify(
        client,
        card,
        (fr_test_images / "obama2.jpg").read_bytes(),
        DECLARED | {"date_expiration": "20210301"},
    ).json()
    assert body["status"] == "rejected", body
    assert body["reasons"][0] == "DOCUMENT_EXPIRED"
    assert body["face_match"]["is_match"] is True


def test_expiry_from_structured_data_when_the_document_shows_none(
    client: httpx.Client, fr_test_images: Path
) -> None:
    """A photo with a face and no printed dates (no MRZ, no visual zone): the declared expiry date
    is all there is to check, and it decides. (A card that prints its own expiry is checked against
    the print instead, and a contradicting declaration is a mismatch, not an expiry.)"""
    document = (fr_test_images / "obama.jpg").read_bytes()
    selfie = (fr_test_images / "obama2.jpg").read_bytes()
    response = verify(client, document, selfie, {"date_expiration": "2020-01-01"})
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "rejected", body
    assert "DOCUMENT_EXPIRED" in body["reasons"]
    assert body["face_match"]["is_match"] is True
    response = verify(client, document, selfie, {"date_expiration": "2099-01-01"})
    assert response.status_code == 200, response.text
    assert "DOCUMENT_EXPIRED" not in response.json()["reasons"]


def test_unknown_verification_is_404(client: httpx.Client) -> None:
    assert_error(client.get("/api/v1/verifications/does-not-exist"), 404, "VERIFICATION_NOT_FOUND")
    assert_error(client.get("/api/v1/nothing-here"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("empty_selfie", 422, "EMPTY_FILE"),
        ("pdf_selfie", 415, "UNSUPPORTED_IMAGE_TYPE"),
        ("truncated_selfie", 422, "IMAGE_TRUNCATED"),
        ("bomb_document", 413, "IMAGE_TOO_MANY_PIXELS"),
        ("blank_selfie", 422, "NO_FACE_IN_SELFIE"),
        ("blank_document", 422, "NO_FACE_IN_DOCUMENT"),
        ("tiny_face_selfie", 422, "FACE_TOO_SMALL"),
        ("group_selfie", 422, "MULTIPLE_FACES_IN_SELFIE"),
        ("bad_json", 422, "INVALID_STRUCTURED_DATA"),
        ("bad_date", 422, "INVALID_STRUCTURED_DATA"),
        ("unknown_key", 422, "INVALID_STRUCTURED_DATA"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_stores_nothing(
    client: httpx.Client,
    card: bytes,
    fr_test_images: Path,
    astronaut: np.ndarray,
    eval_data: Path,
    database_url: str,
    case: str,
    status: int,
    code: str,
) -> None:
    selfie = (fr_test_images / "obama2.jpg").read_bytes()
    document = card
    form: dict[str, str] = {}
    blank = encode(np.full((480, 640, 3), 180, np.uint8))
    match case:
        case "empty_selfie":
            selfie = b""
        case "pdf_selfie":
            selfie = b"%PDF-1.4\n" + b"0" * 2000
        case "truncated_selfie":
            selfie = selfie[: len(selfie) // 3]
        case "bomb_document":
            document = bomb_png(10_000, 5_000)
        case "blank_selfie":
            selfie = blank
        case "blank_document":
            document = blank
        case "tiny_face_selfie":
            selfie = encode(np.asarray(Image.fromarray(astronaut).resize((150, 150))))
        case "group_selfie":
            selfie = (
                eval_data / "faces/face_recognition_examples/multi_face/obama_and_biden.jpg"
            ).read_bytes()
        case "bad_json":
            form = {"structured_data": "{not json"}
        case "bad_date":
            form = {"structured_data": json.dumps({"date_expiration": "20230231"})}
        case "unknown_key":
            form = {"structured_data": json.dumps({"passport_colour": "red"})}
    before = stored_count(database_url)
    r = client.post(
        "/api/v1/verify",
        files={
            "id_document": ("id", document, "application/octet-stream"),
            "selfie": ("s", selfie, "application/octet-stream"),
        },
        data=form,
    )
    error = assert_error(r, status, code)
    assert stored_count(database_url) == before
    if code.startswith(("IMAGE", "EMPTY", "UNSUPPORTED", "NO_FACE", "FACE_", "MULTIPLE")):
        assert error["field"] in ("selfie", "id_document")


def test_wrong_field_names_are_named_in_the_error(client: httpx.Client, card: bytes) -> None:
    r = client.post("/api/v1/verify", files={"id_document": ("a", card), "image": ("b", card)})
    error = assert_error(r, 422, "UNKNOWN_FIELD")
    assert error["field"] == "image" and "selfie" in error["message"]
    r = client.post("/api/v1/verify", files={"id_document": ("a", card)})
    assert assert_error(r, 422, "MISSING_FIELD")["details"]["missing"] == ["selfie"]
    r = client.post("/api/v1/verify", json={"id_document": "x"})
    assert_error(r, 415, "UNSUPPORTED_CONTENT_TYPE")
    r = client.post(
        "/api/v1/verify", files={"id_document": ("a", card)}, data={"selfie": "not a file"}
    )
    assert_error(r, 422, "INVALID_FIELD_TYPE")


def test_oversized_request_refused_before_parsing(client: httpx.Client) -> None:
    huge = b"\xff\xd8\xff" + b"\x00" * (40 * 1024 * 1024)
    r = client.post("/api/v1/verify", files={"id_document": ("a", huge), "selfie": ("b", b"x")})
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
