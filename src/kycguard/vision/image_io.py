"""Safe image decoding: every way an upload can be bad becomes a precise InvalidImage error.

Checks run cheapest first (size, magic bytes, header dimensions) so a decompression bomb is refused
before a pixel is decoded.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from kycguard.errors import InvalidImage, PayloadTooLarge, UnsupportedMediaType

_MAGIC = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"RIFF": "WEBP",  # followed by size and "WEBP" at offset 8
}
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")


def sniff_format(data: bytes) -> str | None:
    for magic, fmt in _MAGIC.items():
        if data.startswith(magic):
            if fmt == "WEBP" and data[8:12] != b"WEBP":
                return None
            return fmt
    return None


def decode_image(
    data: bytes,
    *,
    field: str,
    max_bytes: int,
    max_pixels: int,
    min_side: int = 1,
) -> np.ndarray:
    """Decode an upload into an RGB uint8 array with EXIF orientation applied."""
    if not data:
        raise InvalidImage(f"{field} is an empty file", code="EMPTY_FILE", field=field)
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"{field} is {len(data)} bytes; the limit is {max_bytes}",
            field=field,
            details={"bytes": len(data), "max_bytes": max_bytes},
        )
    fmt = sniff_format(data)
    if fmt is None:
        raise UnsupportedMediaType(
            f"{field} is not a JPEG, PNG or WebP image",
            code="UNSUPPORTED_IMAGE_TYPE",
            field=field,
            details={"accepted": list(ACCEPTED_FORMATS)},
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=[fmt])
            width, height = img.size
            if width * height > max_pixels:
                raise PayloadTooLarge(
                    f"{field} is {width}x{height} = {width * height} pixels; the limit is {max_pixels}",
                    code="IMAGE_TOO_MANY_PIXELS",
                    field=field,
                    details={"width": width, "height": height, "max_pixels": max_pixels},
                )
            img.load()
    except PayloadTooLarge:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PayloadTooLarge(
            f"{field} looks like a decompression bomb: {exc}",
            code="IMAGE_TOO_MANY_PIXELS",
            field=field,
        ) from exc
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise InvalidImage(
            f"{field} could not be decoded as {fmt}: {exc}",
            code="IMAGE_TRUNCATED" if "truncated" in str(exc).lower() else "IMAGE_CORRUPT",
            field=field,
        ) from exc
    ImageOps.exif_transpose(img, in_place=True)  # in place: no copy of an upright image
    if min(img.size) < min_side:
        raise InvalidImage(
            f"{field} is {img.size[0]}x{img.size[1]}; each side must be at least {min_side} pixels",
            code="IMAGE_TOO_SMALL",
            field=field,
        )
    rgb = img if img.mode == "RGB" else img.convert("RGB")  # convert copies even RGB to RGB
    return np.ascontiguousarray(np.asarray(rgb))


def downscale(image: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink so the longest side is at most ``max_side``; analysis gains nothing above that."""
    import cv2

    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return image
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
