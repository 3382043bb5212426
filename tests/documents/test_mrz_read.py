"""Reading MRZs from images: the shared specimens and documents we render and degrade."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from documents.render import Rendered, blur, camera, jpeg, on_table, rotate90
from PIL import Image, ImageOps

from kycguard.documents.mrz.parse import FORMATS
from kycguard.documents.mrz.read import ReadOptions, correct_by_position, read_mrz

OPTIONS = ReadOptions(use_tesseract=False)  # PP-OCR alone must get these right


def load_bgr(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        rgb = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    return np.ascontiguousarray(rgb[..., ::-1])


def expectations(documents_data: Path) -> dict[Path, list[str] | None]:
    out: dict[Path, list[str] | None] = {}
    for folder, name in (
        ("mrz_specimens", "expected_mrz.json"),
        ("passporteye_tests", "tests_data_expected.json"),
    ):
        data = json.loads((documents_data / folder / name).read_text())
        for file, entry in data.items():
            entry = data[entry["same_as"]] if "same_as" in entry else entry
            out[documents_data / folder / "images" / file] = entry["mrz"]
    return out


def test_every_shared_specimen_is_read_exactly(documents_data: Path, ocr_engine: Any) -> None:
    wrong = {}
    for path, expected in expectations(documents_data).items():
        reading = read_mrz(load_bgr(path), ocr_engine, OPTIONS)
        got = reading.text_lines if reading.status == "ok" else None
        if got != expected:
            wrong[path.name] = (reading.status, got, expected)
        elif expected is not None:
            assert reading.fields is not None and reading.fields.valid, path.name
    assert not wrong, wrong


@pytest.mark.parametrize("quarter_turns", [1, 2, 3])
def test_specimens_read_in_every_rotation(
    documents_data: Path, ocr_engine: Any, quarter_turns: int
) -> None:
    for path in (
        documents_data / "mrz_specimens" / "images" / "td1.jpg",
        documents_data / "passporteye_tests" / "images" / "passport-td3.jpg",
    ):
        expected = expectations(documents_data)[path]
        image = np.ascontiguousarray(np.rot90(load_bgr(path), quarter_turns))
        reading = read_mrz(image, ocr_engine, OPTIONS)
        assert reading.status == "ok" and reading.text_lines == expected, (
            path.name,
            reading.text_lines,
        )


DEGRADATIONS = {
    "photo": lambda im: jpeg(camera(im), 85),
    "rot90": lambda im: rotate90(camera(im), 1),
    "rot180": lambda im: rotate90(camera(im), 2),
    "rot270_jpeg30": lambda im: jpeg(rotate90(camera(im), 3), 30),
    "blur2": lambda im: blur(camera(im), 2.0),
    "perspective": lambda im: on_table(camera(im), tilt=0.2, angle_deg=10),
    "everything": lambda im: jpeg(
        blur(rotate90(on_table(camera(im), tilt=0.15, angle_deg=-7), 1), 1.2), 50
    ),
    "small": lambda im: cv2.resize(
        camera(im), None, fx=0.45, fy=0.45, interpolation=cv2.INTER_AREA
    ),
}


@pytest.mark.parametrize("kind", ["td3", "td1"])
@pytest.mark.parametrize("degradation", sorted(DEGRADATIONS))
def test_rendered_documents_survive_degradation(
    request: pytest.FixtureRequest, ocr_engine: Any, kind: str, degradation: str
) -> None:
    doc: Rendered = request.getfixturevalue(kind)
    image = DEGRADATIONS[degradation](doc.image)
    reading = read_mrz(np.ascontiguousarray(image[..., ::-1]), ocr_engine, OPTIONS)
    assert reading.status == "ok", reading.detail
    assert reading.text_lines == doc.mrz
    assert (
        reading.fields is not None and reading.fields.valid and reading.fields.format == doc.format
    )


def test_photos_without_mrz_give_not_found(
    documents_data: Path, ocr_engine: Any, astronaut: np.ndarray
) -> None:
    for image in (
        load_bgr(documents_data / "mrz_specimens" / "images" / "nomrz.jpg"),
        np.ascontiguousarray(astronaut[..., ::-1]),
    ):
        reading = read_mrz(image, ocr_engine, OPTIONS)
        assert reading.status == "not_found" and reading.fields is None


def test_heavily_blurred_mrz_is_unreadable_not_a_wrong_valid_reading(
    td3: Rendered, ocr_engine: Any
) -> None:
    image = blur(camera(td3.image), 7.0)
    reading = read_mrz(np.ascontiguousarray(image[..., ::-1]), ocr_engine, OPTIONS)
    assert (
        reading.status in ("unreadable", "not_found")
        or (reading.fields is not None and not reading.fields.valid)
        or reading.text_lines == td3.mrz
    )


def test_tesseract_style_text_is_corrected_by_position() -> None:
    classes = FORMATS["TD3"].position_classes()[44:]
    # tesseract-like: O for 0 in dates, S for 5, chevrons read as K, two fillers lost
    raw = "L898902C36UTO74O8122F12O4IS9ZE184226B<K<10"
    assert correct_by_position(raw, classes) == "L898902C36UTO7408122F1204159ZE184226B<<<<<10"
