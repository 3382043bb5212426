"""Finding the holder's portrait on rendered ID documents carrying a real face photo."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from documents.render import camera, jpeg, on_table, render_td1, render_td3, rotate90
from PIL import Image
from support.env import missing

from kycguard.documents.portrait import PortraitFinder
from kycguard.services.runtime import Vision, build_vision
from kycguard.settings import Settings
from kycguard.vision.image_io import decode_image
from kycguard.vision.matcher import FaceSample


@pytest.fixture(scope="module")
def vision() -> Iterator[Vision]:
    v = build_vision(Settings())
    yield v
    v.close()


@pytest.fixture(scope="module")
def finder(vision: Vision) -> PortraitFinder:
    return PortraitFinder.create(vision.detector)


@pytest.fixture(scope="module")
def card(astronaut: np.ndarray) -> np.ndarray:
    try:
        rendered = render_td1(astronaut)
    except FileNotFoundError as exc:
        missing(str(exc))
    return camera(on_table(rendered.image, tilt=0.06, angle_deg=3))


@pytest.fixture(scope="module")
def obama_card(fr_test_images: Path) -> np.ndarray:
    photo = np.asarray(Image.open(fr_test_images / "obama.jpg").convert("RGB"))
    try:
        return camera(render_td1(photo).image)
    except FileNotFoundError as exc:
        missing(str(exc))
        raise


def inside(box: tuple[int, int, int, int], point: tuple[float, float]) -> bool:
    x, y, w, h = box
    return x <= point[0] <= x + w and y <= point[1] <= y + h


@pytest.mark.parametrize("quarter_turns", [0, 1, 2, 3])
@pytest.mark.parametrize("who", ["astronaut", "obama"])
def test_portrait_found_in_every_orientation(
    finder: PortraitFinder, card: np.ndarray, obama_card: np.ndarray, quarter_turns: int, who: str
) -> None:
    """Both photos: MediaPipe alone turned the upright Obama card upside down (its mesh fits an
    inverted face with level eyes); the HOG arbiter must get every orientation right."""
    card = card if who == "astronaut" else obama_card
    upload = rotate90(card, quarter_turns)
    portrait = finder.find(upload)
    assert portrait is not None
    # turning the upload back by the reported rotation gives the upright card
    assert portrait.document.shape == card.shape
    assert (portrait.rotation // 90 + quarter_turns) % 4 == 0
    assert portrait.face.size > 150  # re-detected in the upscaled crop


def test_portrait_matches_the_person_it_was_printed_from(
    finder: PortraitFinder, vision: Vision, astronaut: np.ndarray, card: np.ndarray
) -> None:
    portrait = finder.find(jpeg(card, 70))
    assert portrait is not None
    selfie = FaceSample(astronaut, vision.detector.detect(astronaut)[0])
    result = vision.matcher.compare(selfie, FaceSample(portrait.crop, portrait.face))
    assert result.is_match, result


def test_exif_rotated_photo_of_a_passport(
    finder: PortraitFinder, vision: Vision, fr_test_images: Path
) -> None:
    photo = np.asarray(Image.open(fr_test_images / "obama.jpg").convert("RGB"))
    try:
        page = render_td3(photo).image
    except FileNotFoundError as exc:
        missing(str(exc))
    sideways = rotate90(page, 1)
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera stored it sideways and says "rotate 90 CW to display"
    buf = io.BytesIO()
    Image.fromarray(sideways).save(buf, "JPEG", quality=85, exif=exif.tobytes())
    upright = decode_image(
        buf.getvalue(), field="id_document", max_bytes=1 << 25, max_pixels=1 << 26
    )
    portrait = finder.find(upright)
    assert portrait is not None and portrait.rotation == 0
    assert inside((40, 95, 300, 380), portrait.box.center)


def test_faded_portrait_is_equalised_and_still_found(
    finder: PortraitFinder, vision: Vision, astronaut: np.ndarray
) -> None:
    try:
        page = render_td3(astronaut).image.astype(np.float32)
    except FileNotFoundError as exc:
        missing(str(exc))
    faded = (page * 0.35 + 150).clip(0, 255).astype(np.uint8)  # washed-out print, little contrast
    portrait = finder.find(faded)
    assert portrait is not None and portrait.enhanced


def test_no_document_face(finder: PortraitFinder) -> None:
    blank = np.full((600, 900, 3), 200, np.uint8)
    assert finder.find(blank) is None
