"""``frame_edges``: straight edges of a print or a device framing the face on several sides.

A photo or a tablet held up to the camera puts the face inside a rectangle: paper border or bezel,
straight, close to the face, spanning it. Line segments (OpenCV's LSD) are collected on each side of
the face box, within ``REACH`` face sizes; fragments of one edge (LSD breaks edges at low contrast) are
merged by their offset from the face, and a side counts when one edge spans at least ``MIN_COVER`` of
the face's extent along it. Doors, windows and shelves also frame heads, so two sides are normal and
only three or four raise suspicion: a weak, context-dependent cue (weight in the settings).
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from kycguard.liveness.fusion import Ramp, make_signal
from kycguard.liveness.types import Signal
from kycguard.vision.types import BoundingBox, Face

REACH = 1.0  # search band beyond the face box, in face sizes
MAX_TILT_DEG = 30.0  # a held device is rarely rotated more than this
MIN_FRAGMENT = 0.15  # shortest segment kept, in face sizes
MIN_COVER = 0.6  # a side counts when one edge covers this fraction of the face's extent
OFFSET_BIN = 0.04  # fragments whose offsets from the face differ by less than this are one edge
SIDES_RAMP = Ramp(clear=2.0, alarm=4.0)
ANALYSIS_SIDE = 640


def _segments(image: np.ndarray) -> tuple[np.ndarray, float]:
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    scale = min(1.0, ANALYSIS_SIDE / max(gray.shape))
    if scale < 1:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    lines = cv2.createLineSegmentDetector(cv2.LSD_REFINE_STD).detect(gray)[0]
    segs = np.zeros((0, 4), np.float32) if lines is None else lines.reshape(-1, 4) / scale
    return segs, scale


def side_coverage(segs: np.ndarray, box: BoundingBox) -> dict[str, float]:
    """For each side of ``box``: the largest fraction of its extent spanned by one straight edge."""
    size = max(box.width, box.height)
    x0, y0, x1, y1 = box.x, box.y, box.x + box.width, box.y + box.height
    out: dict[str, float] = {}
    for side in ("left", "right", "top", "bottom"):
        vertical = side in ("left", "right")
        spans: dict[int, list[tuple[float, float]]] = {}
        for xa, ya, xb, yb in segs:
            length = float(np.hypot(xb - xa, yb - ya))
            if length < MIN_FRAGMENT * size:
                continue
            angle = float(np.degrees(np.arctan2(yb - ya, xb - xa))) % 180.0
            tilt = abs(angle - 90.0) if vertical else min(angle, 180.0 - angle)
            if tilt > MAX_TILT_DEG:
                continue
            across = (xa + xb) / 2 if vertical else (ya + yb) / 2
            offset = {
                "left": x0 - across,
                "right": across - x1,
                "top": y0 - across,
                "bottom": across - y1,
            }[side]
            if not 0 <= offset <= REACH * size:
                continue
            lo, hi = sorted((ya, yb) if vertical else (xa, xb))
            spans.setdefault(int(offset / (OFFSET_BIN * size)), []).append((lo, hi))
        start, end = (y0, y1) if vertical else (x0, x1)
        best = 0.0
        for key in spans:
            merged = spans[key] + spans.get(
                key + 1, []
            )  # neighbouring bins: an edge on a bin boundary
            covered = _union_length(merged, start, end)
            best = max(best, covered / max(end - start, 1e-6))
        out[side] = round(best, 3)
    return out


def _union_length(spans: list[tuple[float, float]], start: float, end: float) -> float:
    total, cursor = 0.0, start
    for lo, hi in sorted(spans):
        lo, hi = max(lo, cursor), min(hi, end)
        if hi > lo:
            total += hi - lo
            cursor = hi
    return total


def frame_edges(image: np.ndarray, face: Face, weights: Mapping[str, float]) -> Signal:
    segs, _ = _segments(image)
    cover = side_coverage(segs, face.box)
    sides = sum(v >= MIN_COVER for v in cover.values())
    return make_signal(
        "frame_edges", "liveness", float(sides), SIDES_RAMP, weights, "sides of the face framed by a straight edge",
        coverage=cover,
    )  # fmt: skip
