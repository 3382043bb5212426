"""A printed photo held in front of a camera: the same picture seen under changing perspective.

``plane_homography`` is the exact image of a flat rectangle rotated about its centre and viewed by a
pinhole camera, so a sequence of these is what a camera sees when someone tilts and turns a photo.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import cv2
import numpy as np


def plane_homography(
    w: int, h: int, yaw: float, pitch: float, scale: float = 1.0, tx: float = 0.0, ty: float = 0.0
) -> np.ndarray:
    """The picture (w x h) turned by ``yaw`` / tilted by ``pitch`` degrees, zoomed and shifted."""
    f = 1.2 * max(w, h)
    ry, rp = math.radians(yaw), math.radians(pitch)
    rot_y = np.array([[math.cos(ry), 0, math.sin(ry)], [0, 1, 0], [-math.sin(ry), 0, math.cos(ry)]])
    rot_x = np.array([[1, 0, 0], [0, math.cos(rp), -math.sin(rp)], [0, math.sin(rp), math.cos(rp)]])
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    pts = np.array([[x - w / 2, y - h / 2, 0.0] for x, y in corners]) @ (rot_y @ rot_x).T
    pts[:, 2] += f / scale
    dst = np.stack(
        [f * pts[:, 0] / pts[:, 2] + w / 2 + tx * w, f * pts[:, 1] / pts[:, 2] + h / 2 + ty * h], 1
    ).astype(np.float32)
    return cv2.getPerspectiveTransform(corners, dst)


def held_photo(photo: np.ndarray, fill: float = 0.9) -> np.ndarray:
    """The photo on a grey 640x480 background, as large as ``fill`` of the frame allows."""
    canvas = np.full((480, 640, 3), 90, np.uint8)
    h, w = photo.shape[:2]
    s = min(640 * fill / w, 480 * fill / h)
    small = cv2.resize(photo, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    y0, x0 = (480 - small.shape[0]) // 2, (640 - small.shape[1]) // 2
    canvas[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
    return canvas


def _sweep(peak: float, step: float) -> list[float]:
    up = list(np.arange(0, peak + 1e-6, step))
    return up + up[::-1][1:] + [-v for v in up[1:]] + [-v for v in up[::-1][1:]]


def warp_trajectory(
    max_deg: float = 40.0, step: float = 5.0
) -> Iterator[tuple[float, float, float, float]]:
    """(yaw, pitch, scale, shift) poses: turn sweep, tilt sweep, a serpentine over every combination
    of the two in 10-degree steps, a circle, then a zoom with a shift."""
    for yaw in _sweep(max_deg, step):
        yield yaw, 0.0, 1.0, 0.0
    for pitch in _sweep(max_deg, step):
        yield 0.0, pitch, 1.0, 0.0
    grid = list(np.arange(-max_deg, max_deg + 1e-6, 10.0))
    for row, pitch in enumerate(grid):
        for yaw in grid if row % 2 == 0 else grid[::-1]:
            yield float(yaw), float(pitch), 1.0, 0.0
    for k in range(24):
        a = 2 * math.pi * k / 24
        yield 0.75 * max_deg * math.cos(a), 0.75 * max_deg * math.sin(a), 1.0, 0.0
    for k in range(12):
        z = math.sin(math.pi * k / 11)
        yield 0.0, 0.0, 1.0 + 0.3 * z, 0.08 * z


def warped_frames(photo: np.ndarray, max_deg: float = 40.0) -> Iterator[tuple[str, np.ndarray]]:
    """The held photo frozen for a moment, then moved along ``warp_trajectory``; JPEG like a camera."""
    base = held_photo(photo)
    for _ in range(8):
        yield "still", base
    for yaw, pitch, scale, shift in warp_trajectory(max_deg):
        matrix = plane_homography(640, 480, yaw, pitch, scale, shift, shift / 2)
        warped = cv2.warpPerspective(base, matrix, (640, 480), borderValue=(90, 90, 90))
        jpeg = cv2.imencode(".jpg", warped, [cv2.IMWRITE_JPEG_QUALITY, 85])[1]
        yield (
            f"yaw={yaw:+.0f} pitch={pitch:+.0f} scale={scale:.2f}",
            cv2.imdecode(jpeg, cv2.IMREAD_UNCHANGED),
        )
