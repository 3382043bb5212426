"""Documents the tests render AND photograph: reading, rectification and tampering signs.

Cards come from :mod:`kycguard.documents.specimens` (the renderer ``kycguard bench cards`` uses):
an ID-1 card with a valid TD1 MRZ in OCR-B and a real LFW photo as its portrait, lying on a table
and photographed (perspective, scale 0.9-1.3, lighting gradient, glare, shadow, blur, noise, JPEG).
The seeds here (3xxx) are not the ones the thresholds were tuned on (bench seed 0, probes 7 and 11).
A few cards only: the 60-card figures come from the benchmark.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kycguard.documents import checks
from kycguard.documents.config import DocumentSettings
from kycguard.documents.mrz.parse import FORMATS, compose_lines, parse
from kycguard.documents.rectify import rectify
from kycguard.documents.specimens import (
    CARD_SIZE,
    REFERENCE_DAY,
    Holder,
    Specimen,
    lfw_holders,
    specimen,
)
from kycguard.documents.tamper import portrait_replacement, screen_capture
from kycguard.documents.viz import VizLine, VizReading

SAMPLE = 8  # cards for the reading-rate target: small, but every miss shows


@pytest.fixture(scope="module")
def holders(eval_data: Path, ocrb: str) -> list[Holder]:
    return lfw_holders(str(eval_data / "faces/lfw_devtrain/deepfunneled_250"), SAMPLE + 1, 3)


@pytest.fixture(scope="module")
def cards(holders: list[Holder]) -> list[Specimen]:
    return [specimen(h, 3000 + i) for i, h in enumerate(holders[:SAMPLE])]


@pytest.fixture(scope="module")
def reports(analyzer: Any, cards: list[Specimen]) -> list[Any]:
    return [
        analyzer.analyze(
            c.photo.image,
            structured_data=None,
            today=REFERENCE_DAY,
            portrait_box=c.photo.portrait_box,
        )
        for c in cards
    ]


def test_photographs_are_deterministic_by_seed(holders: list[Holder]) -> None:
    a, b, c = specimen(holders[0], 5), specimen(holders[0], 5), specimen(holders[0], 6)
    assert a.photo.data == b.photo.data and a.rendered.mrz == b.rendered.mrz
    assert a.photo.data != c.photo.data
    assert 0.9 <= a.photo.params["scale"] <= 1.3 and abs(a.photo.params["angle_deg"]) <= 6
    h, w = a.photo.image.shape[:2]
    assert (a.photo.corners >= 0).all() and (a.photo.corners[:, 0] < w).all()
    assert (a.photo.corners[:, 1] < h).all()


def test_the_card_is_found_and_its_perspective_undone(cards: list[Specimen]) -> None:
    for card in cards[:4]:
        rect = rectify(card.photo.image)
        assert rect.rectified and rect.corners is not None, rect.detail
        assert np.abs(rect.corners - card.photo.corners).max() < 6  # px in a 1400 x 1050 photo
        h, w = rect.image.shape[:2]
        assert w / h == pytest.approx(CARD_SIZE[0] / CARD_SIZE[1], rel=0.01)


def test_no_outline_falls_back_to_the_photo_as_taken(astronaut: np.ndarray) -> None:
    rect = rectify(astronaut)  # a portrait photo: no card in it
    assert not rect.rectified and rect.image is astronaut
    assert rect.to_dict()["rectified"] is False and "no document outline" in rect.detail


def test_photographed_cards_read_with_valid_check_digits(
    cards: list[Specimen], reports: list[Any]
) -> None:
    mrz = [r.mrz or {} for r in reports]
    valid = [m.get("status") == "ok" and m.get("all_check_digits_valid") is True for m in mrz]
    assert sum(valid) / SAMPLE >= 0.95, [m.get("raw") for m in mrz]  # the target
    # valid check digits are not proof of a right reading: check-digit repair can turn a misread
    # number into another one whose check digit holds. Measured on this sample: 2 of 8 (a C read
    # as 0 plus a 1 "repaired" to 7; a name and number misread under glare); see README limits.
    # The data the check digits cover must be what was printed on all the others.
    covered = [
        m.get("document_number") == c.rendered.identity.document_number
        and m.get("birth_date") == c.rendered.identity.birth_date.strftime("%y%m%d")
        and m.get("expiry_date") == c.rendered.identity.expiry_date.strftime("%y%m%d")
        for c, m in zip(cards, mrz, strict=True)
    ]
    assert sum(covered) >= SAMPLE - 2, [
        (c.rendered.mrz, m.get("raw")) for c, m in zip(cards, mrz, strict=True)
    ]
    assert all(r.rectification and r.rectification["rectified"] for r in reports)


def test_no_tampering_sign_fires_on_genuine_photographed_cards(reports: list[Any]) -> None:
    fired = [
        [
            c.name
            for c in r.checks
            if c.name in ("portrait_tampering", "mrz_geometry", "screen_capture")
            and c.passed is False
        ]
        for r in reports
    ]
    assert sum(1 for f in fired if not f) / SAMPLE >= 0.98, fired
    measured = [r.check("mrz_geometry").passed for r in reports]
    assert measured.count(True) >= SAMPLE - 1  # geometry was really measured, on rectified lines
    assert not any(r.hard_reject for r in reports), [r.reasons for r in reports]


def test_screen_replay_of_a_card_is_flagged(holders: list[Holder]) -> None:
    for i in range(2):
        signal = screen_capture(specimen(holders[i], 3100 + i, "screen_replay").photo.image)
        assert signal.suspicion is not None and signal.suspicion >= 0.6, signal.evidence


def test_portrait_pasted_into_a_card_photo_is_flagged(holders: list[Holder]) -> None:
    for i in range(2):
        forged = specimen(holders[i], 3200 + i, "portrait_pasted", other=holders[-1])
        signal = portrait_replacement(forged.photo.image, forged.photo.portrait_box)
        assert signal.suspicion is not None and signal.suspicion >= 0.5, signal.detail


def test_edited_mrz_on_a_photographed_card_breaks_the_geometry(
    analyzer: Any, holders: list[Holder]
) -> None:
    forged = specimen(holders[0], 3300, "mrz_edited")
    report = analyzer.analyze(forged.photo.image, structured_data=None, today=REFERENCE_DAY)
    assert "MRZ_GEOMETRY_INCONSISTENT" in report.reasons, report.check("mrz_geometry").evidence


def test_altered_visual_zone_is_a_mismatch_not_an_ocr_confusion(
    analyzer: Any, holders: list[Holder]
) -> None:
    forged = specimen(holders[1], 3401, "viz_altered")
    report = analyzer.analyze(forged.photo.image, structured_data=None, today=REFERENCE_DAY)
    check = report.check("mrz_vs_viz")
    assert check is not None and "MRZ_VIZ_MISMATCH" in check.reason_codes, check.detail
    assert "ocr_confusion" not in check.evidence


# -- disagreements OCR explains: review findings carrying both readings ---------------------


def _td1(**values: str) -> Any:
    base = {
        "document_code": "I",
        "issuing_state": "UTO",
        "surname": "ERIKSSON",
        "given_names": "ANNA",
        "document_number": "OD5024059",
        "nationality": "UTO",
        "birth_date": "740812",
        "sex": "F",
        "expiry_date": "340415",
        "optional_data": "",
    }
    fmt = FORMATS["TD1"]
    return parse(compose_lines(fmt, base | values), fmt)


def _viz(*texts: str) -> VizReading:
    return VizReading([VizLine(t, 0.99, None) for t in texts])  # type: ignore[arg-type]


def test_number_differing_by_a_letter_read_as_digit_is_a_review_finding() -> None:
    mrz = _td1()
    check = checks.mrz_vs_viz(mrz, _viz("ERIKSSON", "ANNA", "0D5024059"), REFERENCE_DAY)
    assert check.passed is False and check.reason_codes == ["MRZ_VIZ_MISMATCH"]
    assert check.hard_reject is False and check.score is not None and check.score >= 0.9
    assert check.evidence["ocr_confusion"] == [
        {"field": "document_number", "mrz": "OD5024059", "printed": "0D5024059"}
    ]


def test_number_differing_by_real_digits_stays_a_plain_mismatch() -> None:
    check = checks.mrz_vs_viz(_td1(), _viz("ERIKSSON", "ANNA", "OD5024159"), REFERENCE_DAY)
    assert check.reason_codes == ["MRZ_VIZ_MISMATCH"] and "ocr_confusion" not in check.evidence
    assert check.score is not None and check.score < 0.9


def test_impossible_mrz_date_with_a_real_printed_date_is_review_with_both_readings() -> None:
    mrz = _td1(birth_date="741312")  # month 13, check digit computed for it: "printed" that way
    assert mrz.valid
    ident = checks.build_identity(mrz, None, None, REFERENCE_DAY)
    settings = DocumentSettings()
    printed = {"birth_date": dt.date(1974, 12, 13)}
    out = checks.date_checks(ident, mrz, {}, settings, REFERENCE_DAY, [], printed)
    check = next(c for c in out if c.name == "date_plausibility")
    assert check.reason_codes == ["IMPOSSIBLE_DATE"] and check.hard_reject is False
    assert check.evidence["readings"] == [
        {"field": "birth_date", "mrz": "741312", "printed": "1974-12-13"}
    ]
    alone = checks.date_checks(ident, mrz, {}, settings, REFERENCE_DAY, [])
    hard = next(c for c in alone if c.name == "date_plausibility")
    assert hard.reason_codes == ["IMPOSSIBLE_DATE"] and hard.hard_reject is True
