"""Every way an upload can be bad gets a precise error before any pixel is decoded."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from support.imagefiles import bomb_png, encode

from kycguard.errors import InvalidImage, PayloadTooLarge, UnsupportedMediaType
from kycguard.vision.image_io import decode_image

LIMITS = {"max_bytes": 5_000_000, "max_pixels": 40_000_000, "min_side": 64}


def jpeg_bytes(image: np.ndarray, **kw: object) -> bytes:
    return encode(image, "JPEG", **kw)


def test_real_photo_decodes_to_rgb(astronaut: np.ndarray) -> None:
    out = decode_image(jpeg_bytes(astronaut), field="selfie", **LIMITS)
    assert out.shape == (512, 512, 3) and out.dtype == np.uint8
    assert abs(float(out.mean()) - float(astronaut.mean())) < 3


def test_exif_orientation_is_applied(astronaut: np.ndarray) -> None:
    tall = astronaut[:, :300]
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    out = decode_image(jpeg_bytes(tall, exif=exif.tobytes()), field="selfie", **LIMITS)
    assert out.shape[:2] == (300, 512)


@pytest.mark.parametrize(
    ("data", "error", "code"),
    [
        (b"", InvalidImage, "EMPTY_FILE"),
        (b"%PDF-1.7 not an image at all", UnsupportedMediaType, "UNSUPPORTED_IMAGE_TYPE"),
        (b"GIF89a" + b"\x00" * 100, UnsupportedMediaType, "UNSUPPORTED_IMAGE_TYPE"),
        (b"\xff\xd8\xff\xe0garbage that claims to be jpeg", InvalidImage, None),
    ],
)
def test_bad_bytes(data: bytes, error: type, code: str | None) -> None:
    with pytest.raises(error) as info:
        decode_image(data, field="selfie", **LIMITS)
    if code:
        assert info.value.code == code
    assert info.value.field == "selfie"
    assert 400 <= info.value.status_code < 500


def test_truncated_jpeg(astronaut: np.ndarray) -> None:
    data = jpeg_bytes(astronaut)
    with pytest.raises(InvalidImage) as info:
        decode_image(data[: len(data) // 2], field="id_document", **LIMITS)
    assert info.value.code == "IMAGE_TRUNCATED"


def test_fifty_megapixel_bomb_refused_before_decoding() -> None:
    data = bomb_png(10_000, 5_000)
    assert len(data) < 200_000  # tiny on the wire
    with pytest.raises(PayloadTooLarge) as info:
        decode_image(data, field="selfie", **LIMITS)
    assert info.value.code == "IMAGE_TOO_MANY_PIXELS"
    assert info.value.details["width"] == 10_000


def test_file_over_byte_limit(astronaut: np.ndarray) -> None:
    with pytest.raises(PayloadTooLarge):
        decode_image(jpeg_bytes(astronaut), field="selfie", max_bytes=1000, max_pixels=10**8)


def test_tiny_image_refused(astronaut: np.ndarray) -> None:
    with pytest.raises(InvalidImage) as info:
        decode_image(jpeg_bytes(astronaut[:32, :32]), field="selfie", **LIMITS)
    assert info.value.code == "IMAGE_TOO_SMALL"
