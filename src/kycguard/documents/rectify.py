"""Find the card or page in a photo and undo the perspective before anything is read or measured.

A phone photo shows the document as a quadrilateral on a table: character height and pitch then
change along each MRZ line and between lines, which the print-geometry check would take for edited
characters, and the OCR reads slanted, shrunken text worse. The document's outline is the largest
convex four-cornered contour of the edge map (Canny at two sensitivities); its corners are mapped
onto an upright rectangle whose aspect ratio is the measured one, snapped to the ISO/IEC 7810 and
ICAO sizes (ID-1 card, ID-2, ID-3 passport page) when it is within a few percent of one.

No outline (document fills the frame, cluttered background, edge out of the picture) is not an
error: the image is analysed as it is and the report says it was not rectified.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

WORK_SIDE = 800  # the outline is searched on a copy this large: edges, not text, matter here
MIN_AREA = 0.12  # smallest outline, share of the image area
MAX_AREA = 0.92  # above this the document fills the frame: nothing to undo
# width / height of ID-1 (85.6 x 54), ID-2 (105 x 74) and ID-3 (125 x 88) documents
STANDARD_ASPECTS = (85.6 / 54, 105 / 74, 125 / 88)
SNAP = 0.06


@dataclass
class Rectification:
    """The image the document is read from, and how it relates to the photo."""

    image: np.ndarray  # RGB, upright document (or the photo itself when not rectified)
    rectified: bool
    detail: str
    corners: np.ndarray | None = None  # tl, tr, br, bl of the document in the photo
    homography: np.ndarray | None = None  # photo -> rectified image

    def to_dict(self) -> dict[str, Any]:
        return {
            "rectified": self.rectified,
            "detail": self.detail,
            "corners": None if self.corners is None else np.round(self.corners, 1).tolist(),
            "size": [int(self.image.shape[1]), int(self.image.shape[0])],
        }


def order_corners(pts: np.ndarray) -> np.ndarray:
    """tl, tr, br, bl of four points (by coordinate sums and differences)."""
    pts = pts.reshape(4, 2).astype(np.float32)
    s, d = pts.sum(axis=1), np.diff(pts, axis=1).ravel()
    return np.array([pts[s.argmin()], pts[d.argmin()], pts[s.argmax()], pts[d.argmax()]])


def find_quad(image_rgb: np.ndarray) -> np.ndarray | None:
    """The document's corners in ``image_rgb`` (tl, tr, br, bl), or None when no outline is found."""
    h, w = image_rgb.shape[:2]
    scale = min(1.0, WORK_SIDE / max(h, w))
    small = cv2.resize(image_rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    gray = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), (5, 5), 0)
    area = float(small.shape[0] * small.shape[1])
    best, best_area = None, 0.0
    for low, high in ((30, 90), (10, 40)):
        edges = cv2.dilate(cv2.Canny(gray, low, high), np.ones((3, 3), np.uint8))
        contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:5]:
            hull = cv2.convexHull(contour)
            a = cv2.contourArea(hull)
            if not MIN_AREA * area <= a <= MAX_AREA * area or a <= best_area:
                continue
            quad = cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True)
            if len(quad) == 4 and _plausible(order_corners(quad)):
                best, best_area = quad, a
        if best is not None:
            break
    if best is None:
        return None
    return order_corners(best) / scale


def _plausible(q: np.ndarray) -> bool:
    """A document seen from a few tens of degrees at most: opposite sides of similar length."""
    top, bottom = np.linalg.norm(q[1] - q[0]), np.linalg.norm(q[2] - q[3])
    left, right = np.linalg.norm(q[3] - q[0]), np.linalg.norm(q[2] - q[1])
    if min(top, bottom, left, right) < 20:
        return False
    return bool(
        max(top, bottom) / min(top, bottom) < 1.4 and max(left, right) / min(left, right) < 1.4
    )


def _output_size(q: np.ndarray) -> tuple[int, int]:
    width = (np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3])) / 2
    height = (np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) / 2
    aspect = float(width / height)
    landscape = aspect >= 1
    a = aspect if landscape else 1 / aspect
    near = min(STANDARD_ASPECTS, key=lambda s: abs(a / s - 1))
    if abs(a / near - 1) < SNAP:
        a = near
    long_side = float(max(width, height))  # keep the resolution the photo has
    if landscape:
        return round(long_side), round(long_side / a)
    return round(long_side / a), round(long_side)


def rectify(image_rgb: np.ndarray) -> Rectification:
    """The document of ``image_rgb`` seen from straight above, or the image itself (see module doc)."""
    quad = find_quad(image_rgb)
    if quad is None:
        return Rectification(
            image_rgb,
            False,
            "no document outline found (fills the frame, or its edges are not visible): "
            "read as photographed",
        )
    out_w, out_h = _output_size(quad)
    target = np.array([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]], np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    warped = cv2.warpPerspective(
        image_rgb, matrix, (out_w, out_h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    return Rectification(
        np.ascontiguousarray(warped),
        True,
        f"document outline found; perspective undone to {out_w}x{out_h} px",
        quad,
        matrix,
    )
