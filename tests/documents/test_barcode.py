"""PDF417 decoding (shared test images, byte-exact) and AAMVA parsing (barcodes we make)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from documents.render import ELEMENTS, camera, jpeg, licence_back

from kycguard.bench.barcode import expected_payloads, load_rgb
from kycguard.documents.aamva import build_aamva, parse_aamva, parse_aamva_date
from kycguard.documents.barcode import decode_pdf417


def test_every_asserted_payload_decodes_byte_exact(documents_data: Path) -> None:
    folder = documents_data / "pdf417"
    expected = json.loads((folder / "expected.json").read_text())
    checked = 0
    for name, entry in expected.items():
        want = expected_payloads(entry)
        if want is None:
            continue
        payloads = [r.payload for r in decode_pdf417(load_rgb(folder / "images" / name))]
        assert len(payloads) == entry["count"], name
        for forms in want:
            assert any(f in payloads for f in forms), (name, payloads)
        checked += 1
    assert checked == 8


@pytest.mark.parametrize("angle", [0, 15, 90, 180])
def test_licence_barcode_photo_gives_aamva_fields(angle: float) -> None:
    payload = build_aamva(ELEMENTS)
    card = licence_back(payload)
    if angle:
        h, w = card.shape[:2]
        side = int(np.hypot(h, w))
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        matrix[:, 2] += ((side - w) / 2, (side - h) / 2)
        card = cv2.warpAffine(card, matrix, (side, side), borderValue=(120, 100, 80))  # a table
    reads = decode_pdf417(jpeg(camera(card), 85))
    assert len(reads) == 1 and reads[0].payload == payload
    data = reads[0].aamva
    assert data is not None
    assert (data.family_name, data.given_names, data.licence_number, data.sex) == (
        "MUSTERMANN",
        "ERIKA ANNA",
        "D1234567",
        "F",
    )
    assert (data.birth_date, data.expiry_date, data.issue_date) == (
        dt.date(1974, 8, 12),
        dt.date(2029, 8, 12),
        dt.date(2020, 1, 15),
    )


def test_aamva_dates_follow_the_country() -> None:
    assert parse_aamva_date("08121974", "USA") == dt.date(1974, 8, 12)
    assert parse_aamva_date("19740812", "CAN") == dt.date(1974, 8, 12)
    assert parse_aamva_date("19740812", "") == dt.date(1974, 8, 12)  # not a US date, so Canadian
    assert parse_aamva_date("13401974", "USA") is None


def test_aamva_with_wrong_offsets_and_version_one_name() -> None:
    good = build_aamva(
        {"DAA": "DOE,JOHN,Q", "DBB": "19800101", "DCG": "CAN", "DAQ": "X1"}, version=1
    )
    broken = good.replace(b"DL0031", b"DL0099")  # a wrong subfile offset, as many issuers write
    data = parse_aamva(broken)
    assert data is not None
    assert (data.family_name, data.given_names, data.birth_date) == (
        "DOE",
        "JOHN Q",
        dt.date(1980, 1, 1),
    )
    assert any("offset" in p for p in data.problems)
    assert parse_aamva(b"Hello, not a licence") is None
