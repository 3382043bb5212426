"""The document analysis end to end on rendered documents: reasons, hard rejects, bad input."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from documents.render import Identity, Rendered, camera, jpeg, render_td3, with_identity
from PIL import Image

from kycguard.documents.analyze import analyze_document
from kycguard.documents.config import DocumentSettings
from kycguard.documents.mrz.parse import check_digit

TODAY = dt.date(2025, 6, 1)
CLAIM = {
    "full_name": "Anna Maria Eriksson",
    "date_of_birth": "1974-08-12",
    "document_number": "L898902C3",
    "sex": "F",
}


def photo(doc: Rendered) -> np.ndarray:
    return jpeg(camera(doc.image), 90)


def run(
    analyzer: Any, image: np.ndarray, data: dict[str, Any] | None = None, box: Any = None
) -> dict[str, Any]:
    report = analyzer.analyze(image, structured_data=data, today=TODAY, portrait_box=box)
    out = report.to_dict()
    json.dumps(out)  # the API returns it as JSON
    return out


def check(out: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in out["checks"] if c["name"] == name)


def test_genuine_passport_photo_passes_everything(analyzer: Any, td3: Rendered) -> None:
    out = run(analyzer, photo(td3), CLAIM, td3.portrait_box)
    assert out["reasons"] == [], out["reasons"]
    assert not out["hard_reject"] and out["score"] >= 85
    assert out["mrz"]["raw"] == td3.mrz and out["mrz"]["all_check_digits_valid"]
    assert out["mrz"]["check_digits"]["composite"]["valid"]
    assert check(out, "mrz_vs_viz")["passed"] is True
    assert check(out, "document_vs_structured_data")["passed"] is True
    assert check(out, "portrait_tampering")["passed"] is True
    assert check(out, "mrz_geometry")["passed"] is True
    assert check(out, "screen_capture")["passed"] is True
    assert (
        out["identity"]["birth_date"] == "1974-08-12"
        and out["identity"]["sources"]["surname"] == "mrz"
    )
    for c in out["checks"]:
        assert c["detail"] and (c["score"] is None or 0 <= c["score"] <= 1)


def test_expired_and_underage_documents_are_hard_rejects(
    analyzer: Any, astronaut: np.ndarray, ocrb: str
) -> None:
    young_expired = with_identity(
        Identity(), birth_date=dt.date(2010, 3, 4), expiry_date=dt.date(2024, 12, 31)
    )
    out = run(analyzer, photo(render_td3(astronaut, young_expired)))
    assert {"DOCUMENT_EXPIRED", "HOLDER_UNDERAGE"} <= set(out["reasons"])
    assert out["hard_reject"] and out["score"] < 30
    assert "2024-12-31" in check(out, "document_expiry")["detail"]
    assert check(out, "holder_age")["evidence"]["age"] == 15


def test_minimum_age_is_configurable(ocr_engine: Any, astronaut: np.ndarray, ocrb: str) -> None:
    from kycguard.documents.analyze import DocumentAnalyzer

    teen = with_identity(Identity(), birth_date=dt.date(2009, 1, 1))
    image = photo(render_td3(astronaut, teen))
    lenient = DocumentAnalyzer(DocumentSettings(min_age_years=16, read_viz=False), ocr_engine)
    assert "HOLDER_UNDERAGE" not in run(lenient, image)["reasons"]
    strict = DocumentAnalyzer(DocumentSettings(min_age_years=21, read_viz=False), ocr_engine)
    assert "HOLDER_UNDERAGE" in run(strict, image)["reasons"]


def test_structured_data_mismatch(analyzer: Any, td3: Rendered) -> None:
    out = run(analyzer, photo(td3), {"full_name": "Peter Smith", "date_of_birth": "19800101"})
    assert "MRZ_DATA_MISMATCH" in out["reasons"]
    detail = check(out, "document_vs_structured_data")["detail"]
    assert "name similarity" in detail and "1980-01-01" in detail


def test_visual_zone_that_disagrees_with_the_mrz(
    analyzer: Any, astronaut: np.ndarray, ocrb: str
) -> None:
    printed = with_identity(
        Identity(), surname="ERIKKSON"
    )  # what the ICAO TD1 specimen itself does
    out = run(analyzer, photo(render_td3(astronaut, Identity(), viz_identity=printed)))
    assert "MRZ_VIZ_MISMATCH" in out["reasons"]
    assert "ERIKKSON" in check(out, "mrz_vs_viz")["detail"]
    assert not out["hard_reject"]


def test_inconsistent_check_digit_is_reported_and_rejected(
    analyzer: Any, astronaut: np.ndarray, ocrb: str, td3: Rendered
) -> None:
    line2 = td3.mrz[1]
    forged = line2[:13] + "6" + line2[14:]  # birth year 74 -> 64, check digits left as they were
    assert check_digit(forged[13:19]) != forged[19]
    out = run(analyzer, photo(render_td3(astronaut, mrz_lines=[td3.mrz[0], forged])))
    assert out["mrz"]["raw"][1] == forged
    assert "MRZ_CHECK_DIGIT_FAILED" in out["reasons"] and out["hard_reject"]
    assert not out["mrz"]["check_digits"]["birth_date"]["valid"]
    assert not out["mrz"]["check_digits"]["composite"]["valid"]


def test_no_document_gives_mrz_not_found_and_still_checks_structured_expiry(
    analyzer: Any, astronaut: np.ndarray
) -> None:
    out = run(analyzer, astronaut, {"date_expiration": "2023-01-31", "full_name": "Eileen Collins"})
    assert out["reasons"][0] == "MRZ_NOT_FOUND"
    assert "DOCUMENT_EXPIRED" in out["reasons"] and out["hard_reject"]
    assert "structured_data" in check(out, "document_expiry")["detail"]
    assert out["mrz"] is None


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((10, 10, 3), np.uint8),
        np.full((400, 300), 255, np.uint8),
        np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8),
        np.zeros((0, 0, 3), np.uint8),
    ],
    ids=["tiny", "grey-white", "noise", "empty"],
)
def test_bad_input_is_a_result_not_an_exception(image: np.ndarray) -> None:
    out = analyze_document(
        image, structured_data=None, settings=DocumentSettings(), today=TODAY
    ).to_dict()
    assert "MRZ_NOT_FOUND" in out["reasons"]
    assert check(out, "mrz_read")["passed"] is False


def test_driver_licence_back_reads_the_barcode(analyzer: Any) -> None:
    from documents.render import ELEMENTS, licence_back

    from kycguard.documents.aamva import build_aamva

    image = jpeg(camera(licence_back(build_aamva(ELEMENTS))), 88)
    out = run(
        analyzer,
        image,
        {"first_name": "Max", "last_name": "Mustermann", "date_of_birth": "1974-08-12"},
    )
    assert out["barcode"]["symbols"][0]["aamva"]["licence_number"] == "D1234567"
    assert check(out, "mrz_read")["passed"] is None  # a licence has no MRZ: not counted against it
    assert out["identity"]["sources"]["expiry_date"] == "barcode"
    assert "BARCODE_DATA_MISMATCH" in out["reasons"]  # Max is not Erika
    assert "MRZ_NOT_FOUND" not in out["reasons"]  # the document was read, from its barcode


def test_shared_td1_specimen_shows_its_known_defects(analyzer: Any, documents_data: Path) -> None:
    """The ICAO TD1 specimen prints ERIKKSON in the visual zone but ERIKSSON in the MRZ, expired in
    2012, and is a digital illustration, not a photo."""
    image = np.asarray(
        Image.open(documents_data / "mrz_specimens" / "images" / "td1.jpg").convert("RGB")
    )
    out = run(analyzer, image)
    assert {"DOCUMENT_EXPIRED", "MRZ_VIZ_MISMATCH", "SCREEN_CAPTURE_SUSPECTED"} <= set(
        out["reasons"]
    )
    assert "MRZ_CHECK_DIGIT_FAILED" not in out["reasons"]
