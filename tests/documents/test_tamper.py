"""Tampering signs on forgeries made the way forgers make them, and on untouched documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from documents.render import (
    MrzEdit,
    Rendered,
    camera,
    jpeg,
    on_table,
    paste_face,
    render_td3,
    screen_photo,
)
from PIL import Image

from kycguard.documents.mrz.read import ReadOptions, read_mrz
from kycguard.documents.tamper import mrz_geometry, portrait_replacement, screen_capture


@pytest.fixture(scope="module")
def other_face(astronaut: np.ndarray) -> np.ndarray:
    """Another picture for the portrait: the astronaut mirrored and cropped differently."""
    return np.ascontiguousarray(astronaut[20:380, 300:40:-1])


@pytest.fixture(scope="module")
def page(td3: Rendered) -> np.ndarray:
    return jpeg(camera(td3.image), 85)  # the genuine page as a phone saved it


@pytest.mark.parametrize("quality", [95, 85, 60])
def test_untouched_portrait_is_not_suspicious(td3: Rendered, quality: int) -> None:
    signal = portrait_replacement(jpeg(camera(td3.image), quality), td3.portrait_box)
    # quality 95 leaves too weak a block grid to compare: inconclusive is the honest answer there
    assert (
        (signal.suspicion is None)
        if quality == 95
        else (signal.suspicion is not None and signal.suspicion < 0.5)
    ), signal.detail


# a face pasted from a JPEG of quality 80 or more leaves too weak a grid to be caught (not claimed)
@pytest.mark.parametrize(("face_quality", "offset"), [(60, (3, 5)), (70, (5, 0)), (50, (4, 4))])
def test_portrait_pasted_from_another_jpeg_is_suspicious(
    td3: Rendered,
    page: np.ndarray,
    other_face: np.ndarray,
    face_quality: int,
    offset: tuple[int, int],
) -> None:
    forged = jpeg(paste_face(page, td3.portrait_box, other_face, face_quality, offset), 90)
    signal = portrait_replacement(forged, td3.portrait_box)
    assert signal.suspicion is not None and signal.suspicion >= 0.5, signal.detail
    assert "compressed separately" in signal.detail


def test_portrait_pasted_into_a_losslessly_saved_page(
    td3: Rendered, other_face: np.ndarray
) -> None:
    clean_page = camera(td3.image)  # never JPEG'd, e.g. a PNG scan
    forged = paste_face(clean_page, td3.portrait_box, other_face, 70, (2, 3))
    signal = portrait_replacement(forged, td3.portrait_box)
    assert signal.suspicion is not None and signal.suspicion >= 0.5, signal.detail
    assert (
        portrait_replacement(clean_page, td3.portrait_box).suspicion is None
    )  # nothing to compare


def test_resized_page_is_inconclusive_not_clean(td3: Rendered, page: np.ndarray) -> None:
    small = cv2.resize(page, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
    box = tuple(int(v * 0.7) for v in td3.portrait_box)
    signal = portrait_replacement(small, box)  # type: ignore[arg-type]
    assert signal.suspicion is None and "inconclusive" in signal.detail


@pytest.mark.parametrize(
    "edit",
    [MrzEdit(1, 13, 19, 1.12, 3), MrzEdit(1, 0, 9, 1.08, 0), MrzEdit(1, 13, 19, 1.0, 5)],
    ids=["birth-date-bigger-and-lower", "number-wider", "birth-date-lower"],
)
def test_edited_mrz_characters_break_the_print_geometry(
    ocr_engine: Any, astronaut: np.ndarray, ocrb: str, edit: MrzEdit
) -> None:
    doc = render_td3(astronaut, mrz_edit=edit)
    reading = read_mrz(
        np.ascontiguousarray(jpeg(camera(doc.image), 90)[..., ::-1]),
        ocr_engine,
        ReadOptions(use_tesseract=False),
    )
    assert reading.fields is not None
    signal = mrz_geometry(reading.lines)
    assert signal.suspicion is not None and signal.suspicion >= 0.5, signal.evidence


def test_untouched_mrz_geometry_under_perspective(ocr_engine: Any, td3: Rendered) -> None:
    image = jpeg(on_table(camera(td3.image), tilt=0.2, angle_deg=10), 80)
    reading = read_mrz(
        np.ascontiguousarray(image[..., ::-1]), ocr_engine, ReadOptions(use_tesseract=False)
    )
    signal = mrz_geometry(reading.lines)
    assert signal.suspicion is not None and signal.suspicion < 0.5, signal.evidence


def test_screen_photo_is_flagged_and_camera_photo_is_not(td3: Rendered) -> None:
    shown = screen_capture(screen_photo(td3.image))
    assert shown.suspicion is not None and shown.suspicion >= 0.6 and "moire" in shown.detail
    for image in (jpeg(camera(td3.image), 90), jpeg(on_table(camera(td3.image), 0.1, 5), 75)):
        signal = screen_capture(image)
        assert signal.suspicion is not None and signal.suspicion < 0.6, signal.detail


def test_digital_renderings_are_flagged(documents_data: Path, td3: Rendered) -> None:
    # the ICAO specimens are illustrations, and our render saved losslessly has no sensor noise
    for name in ("td3.jpg", "mrvb.jpg"):
        image = np.asarray(
            Image.open(documents_data / "mrz_specimens" / "images" / name).convert("RGB")
        )
        assert (screen_capture(image).suspicion or 0) >= 0.6, name
    assert (screen_capture(td3.image).suspicion or 0) >= 0.6
