"""PDF417 barcodes (the back of North American driver licences) decoded with zxing-cpp."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kycguard.documents.aamva import AamvaData, parse_aamva


@dataclass
class BarcodeRead:
    """One decoded symbol: exact bytes, where it is, and the AAMVA fields when it holds them."""

    payload: bytes
    text: str
    format: str
    position: list[tuple[int, int]]
    aamva: AamvaData | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "bytes": len(self.payload),
            "text": self.text if self.aamva is None else None,
            "position": [list(p) for p in self.position],
            "aamva": self.aamva.to_dict() if self.aamva else None,
        }


def _read(array: np.ndarray) -> list[Any]:
    import zxingcpp

    return list(
        zxingcpp.read_barcodes(
            array,
            formats=zxingcpp.BarcodeFormat.PDF417,  # type: ignore[arg-type]  # a single format is accepted
            try_rotate=True,
            try_downscale=True,
            text_mode=zxingcpp.TextMode.Plain,
        )
    )


def _skewed_regions(gray: np.ndarray, max_regions: int = 2) -> list[tuple[np.ndarray, np.ndarray]]:
    """Straightened crops of dense dark rectangles (a barcode's bars merge into one under closing),
    with the affine matrix that maps the crop back to ``gray``.

    zxing-cpp finds PDF417 at multiples of 90 degrees; a licence photographed at 15 degrees needs
    this deskew first."""
    import cv2

    scale = min(1.0, 900 / max(gray.shape))
    small = (
        cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        if scale < 1
        else gray
    )
    # bars are where strong edges are dense: gradient energy, smoothed, thresholded, closed
    grad = cv2.magnitude(cv2.Sobel(small, cv2.CV_32F, 1, 0), cv2.Sobel(small, cv2.CV_32F, 0, 1))
    k = max(3, round(min(small.shape) / 60))
    density = cv2.blur(grad, (k, k))
    density = np.clip(density * (255.0 / max(float(density.max()), 1e-6)), 0, 255).astype(np.uint8)
    _, dense = cv2.threshold(density, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    closed = cv2.morphologyEx(
        dense, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    )
    contours, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    min_area = 0.01 * small.shape[0] * small.shape[1]
    regions = []
    for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:max_regions]:
        _, (w, h), angle = cv2.minAreaRect(contour)
        if w * h < min_area or abs(angle) % 90 < 2:
            continue  # axis-aligned regions were already tried on the whole image
        if cv2.contourArea(contour) < 0.6 * w * h or not 1.5 <= max(w, h) / max(min(w, h), 1) <= 12:
            continue  # not a filled rectangle of a PDF417's proportions
        # rotate the whole image (on a canvas that holds all of it): the bars' quiet zone survives
        h_img, w_img = gray.shape
        matrix = cv2.getRotationMatrix2D((w_img / 2, h_img / 2), angle, 1.0)
        cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
        out_w, out_h = int(h_img * sin + w_img * cos), int(h_img * cos + w_img * sin)
        matrix[:, 2] = matrix[:, 2] + np.array([(out_w - w_img) / 2, (out_h - h_img) / 2])
        crop = cv2.warpAffine(gray, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=255)
        regions.append((crop, matrix))
    return regions


def decode_pdf417(image: np.ndarray) -> list[BarcodeRead]:
    """Every PDF417 symbol in an RGB or grayscale image (any rotation), top-left first.

    The payload is ``bytes(result.bytes)``: byte-exact, unlike ``.text`` which escapes control
    characters unless asked for plain text.
    """
    import cv2

    array = np.ascontiguousarray(image)
    gray = cv2.cvtColor(array, cv2.COLOR_RGB2GRAY) if array.ndim == 3 else array
    found: list[tuple[Any, list[tuple[int, int]]]] = []
    for r in _read(gray):
        found.append((r, _corners(r, None)))
    if not found:
        for crop, matrix in _skewed_regions(gray):
            inverse = cv2.invertAffineTransform(matrix)
            found.extend((r, _corners(r, inverse)) for r in _read(crop))
            if found:
                break
    reads = []
    seen: set[bytes] = set()
    for r, corners in found:
        payload = bytes(r.bytes)
        if payload in seen and len(found) > 1:
            continue
        seen.add(payload)
        reads.append(BarcodeRead(payload, r.text, str(r.format), corners, parse_aamva(payload)))
    reads.sort(key=lambda b: (min(p[1] for p in b.position), min(p[0] for p in b.position)))
    return reads


def _corners(result: Any, inverse: np.ndarray | None) -> list[tuple[int, int]]:
    pos = result.position
    points = np.array(
        [(p.x, p.y) for p in (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)],
        float,
    )
    if inverse is not None:
        points = points @ inverse[:, :2].T + inverse[:, 2]
    return [(round(x), round(y)) for x, y in points]
