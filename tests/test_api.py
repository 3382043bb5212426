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
from PIL import Image, ImageOps
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
    return np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))


def card_of(face: np.ndarray, holder: Identity = HOLDER) -> bytes:
    """An ID card with a valid MRZ around ``face``, photographed lying on a table."""
    try:
        rendered = render_td1(face, holder)
    except FileNotFoundError as exc:
        missing(str(exc))
    return encode(camera(on_table(rendered.image, tilt=0.05, angle_deg=-2)))


@pytest.fixture(scope="module")
def card(fr_test_images: Path) -> bytes:
    return card_of(photo(fr_test_images / "obama.jpg"))


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
    # identity evidence (the MRZ read with valid check digits) and a matching live face: approved
    assert body["status"] == "approved", (body["reasons"], body["errors"])
    assert body["reasons"] == [] and body["errors"] == [] and body["identity_verified"] is True
    assert body["document_authenticity"]["identity_evidence"]["source"] == "mrz"
    assert body["image_reuse"]["reused"] is False
    assert body["message"] == "Your identity has been verified."
    assert body["confidence"] == body["face_match"]["confidence"]
    assert 0.65 <= body["liveness_check"]["liveness_score"] <= 1
    assert body["liveness_check"]["liveness_score"] == round(
        body["liveness_check"]["score"] / 100, 3
    )
    authenticity = body["document_authenticity"]["authenticity_score"]
    assert authenticity == body["document_authenticity"]["score"] and 80 < authenticity <= 100
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
    assert again.status_code == 200
    # the stored answer, and the read view: no video session, so its own decision stands
    assert again.json() == body | {"video_session": None, "final_decision": body["status"]}


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


def test_the_selfie_sent_as_the_document_is_rejected(
    client: httpx.Client, fr_test_images: Path
) -> None:
    """The hole of issue 9: one selfie as both files was approved at 87.2."""
    selfie = (fr_test_images / "obama2.jpg").read_bytes()
    body = verify(client, selfie, selfie).json()
    assert body["status"] == "rejected", body["reasons"]
    assert "SELFIE_REUSED_FROM_DOCUMENT" in body["reasons"]
    assert "NOT_AN_IDENTITY_DOCUMENT" in body["reasons"]
    assert body["image_reuse"]["image_hash_distance"] == 0 and body["identity_verified"] is False
    assert body["message"].startswith("The selfie is the picture from your ID document")


def test_the_document_portrait_cut_out_as_the_selfie_is_rejected(
    client: httpx.Client, fr_test_images: Path
) -> None:
    """Someone holding only the card: the portrait cropped out of its photo, sent as the selfie."""
    rendered = render_td1(photo(fr_test_images / "obama.jpg"), HOLDER)
    sheet = camera(on_table(rendered.image))
    x, y, w, h = rendered.portrait_box
    # the sheet lies square in the middle of the table (render.on_table: an 18 % margin)
    (rows, cols), (out_rows, out_cols) = rendered.image.shape[:2], sheet.shape[:2]
    dx, dy = (out_cols - cols) // 2, (out_rows - rows) // 2
    crop = sheet[y + dy - 10 : y + dy + h + 10, x + dx - 10 : x + dx + w + 10]
    selfie = encode(
        np.asarray(Image.fromarray(crop).resize((2 * crop.shape[1], 2 * crop.shape[0])))
    )
    body = verify(client, encode(sheet), selfie).json()
    assert body["status"] == "rejected", (body["reasons"], body["image_reuse"])
    assert body["reasons"][0] == "SELFIE_REUSED_FROM_DOCUMENT", body["reasons"]
    assert body["image_reuse"]["face_correlation"] > 0.88
    # the card itself is genuine: its identity was read, only the selfie is not a selfie
    assert body["document_authenticity"]["identity_evidence"]["source"] == "mrz"


def test_a_plain_portrait_is_not_an_identity_document(
    client: httpx.Client, fr_test_images: Path
) -> None:
    """A portrait photo of the holder as the "document": no card, no printed field. It was approved
    as an ID before (the document score only dropped to 50)."""
    document = (fr_test_images / "obama.jpg").read_bytes()
    body = verify(client, document, (fr_test_images / "obama2.jpg").read_bytes()).json()
    assert body["status"] == "rejected", body["reasons"]
    # the hard rule first; the low authenticity score (50 < 60) is listed after it
    assert body["reasons"] == ["NOT_AN_IDENTITY_DOCUMENT", "DOCUMENT_AUTHENTICITY_LOW"]
    assert body["face_match"]["is_match"] is True and body["image_reuse"]["reused"] is False
    evidence = body["document_authenticity"]["identity_evidence"]
    assert evidence["source"] is None and evidence["face_fraction"] > 0.2
    assert any("not an identity document" in e for e in body["errors"])


def test_a_card_whose_identity_cannot_be_read_is_never_approved(
    client: httpx.Client, fr_test_images: Path
) -> None:
    """A card (portrait on a printed background) with its text and MRZ painted over: it is a
    document, but nothing on it says who the holder is, so a reviewer must look."""
    rendered = render_td1(photo(fr_test_images / "obama.jpg"), HOLDER)
    sheet = rendered.image.copy()
    x, y, w, h = rendered.portrait_box
    sheet[:, x + w + 20 :] = sheet[y + h + 10, x + w + 10]  # the visual zone, right of the portrait
    sheet[y + h + 40 :, :] = sheet[y + h + 10, x + w + 10]  # the back with the MRZ
    body = verify(
        client, encode(camera(on_table(sheet))), (fr_test_images / "obama2.jpg").read_bytes()
    ).json()
    assert body["status"] == "manual_review", body["reasons"]
    assert "DOCUMENT_NOT_RECOGNISED" in body["reasons"]
    assert body["face_match"]["is_match"] is True and body["identity_verified"] is False


def test_a_printed_photo_as_the_selfie_is_rejected_for_liveness(
    client: httpx.Client, eval_data: Path
) -> None:
    """The seed's own test: a printed photo held up to the camera (Silent-Face image_F1) is rejected
    with "liveness" among the errors. The card carries the same person's live photo (image_T1)."""
    pad = eval_data / "pad/silent_face/images"
    body = verify(client, card_of(photo(pad / "image_T1.jpg")), (pad / "image_F1.jpg").read_bytes())
    result = body.json()
    assert result["status"] == "rejected", result["reasons"]
    assert (
        "LIVENESS_FAILED" in result["reasons"] and result["liveness_check"]["verdict"] == "attack"
    )
    assert any("liveness" in e.lower() for e in result["errors"])
    assert result["liveness_check"]["liveness_score"] < 0.65


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
