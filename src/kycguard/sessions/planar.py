"""Is a frame's face just the neutral frame's face moved as a flat picture? (the photo attack)

MediaPipe fits a 3-D face to whatever it sees: a printed photo turned by 20 degrees comes back as a head
with 20 degrees of yaw, and a tilted photo can come back smiling (measured on the shared stills: yaw
changes up to 36 degrees, smile blendshape +0.67). The pixels cannot lie that way: every view of a
flat picture is a homography of every other. So when a detector sees the expression it waits for,
the region that should have changed (eyes, mouth, the whole face for turns and nods) is aligned to the
neutral frame with the best homography found (ECC, coarse to fine, from several starting points) and
compared by normalised cross-correlation (NCC). Measured: 6 real stills, each turned and tilted on a
5x5 grid up to 40 degrees (120 warped frames with a usable face), line up with NCC >= 0.91 (eyes),
>= 0.98 (mouth), >= 0.95 (whole face); the real actions of the shared clips where a detector asked
gave <= 0.68 (blinks), <= 0.80 (smile, open mouth) and <= 0.75 (turns, nod). The limits in the
settings sit between (0.8, 0.9, 0.8).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from kycguard.sessions.features import RIGID
from kycguard.vision.types import Face

Region = Literal["eyes", "mouth", "face"]

# Salient inner points (eye corners, nose): MediaPipe places these well even when it hallucinates a
# 3-D pose for a tilted photo, unlike the face outline. Second starting point for the alignment.
INNER = (33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 1, 98, 327)
EYE_RINGS = (
    (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7),
    (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249),
)
MOUTH_RING = (
    61,
    185,
    40,
    39,
    37,
    0,
    267,
    269,
    270,
    409,
    291,
    375,
    321,
    405,
    314,
    17,
    84,
    181,
    91,
    146,
)
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
EYE_DISTANCE_PX = 32.0  # the reference crop is scaled so the eyes are this far apart
CROP_EYE_DISTANCES = 3.2  # crop side, in eye distances
_ECC_ITERATIONS = 30


@dataclass(frozen=True)
class PlanarReference:
    """The neutral face, cropped and scaled, with its landmarks in crop coordinates."""

    crop: np.ndarray  # float32 grey
    points: np.ndarray  # (478, 2) float64

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            crop=np.clip(self.crop, 0, 255).astype(np.uint8),
            points=self.points.astype(np.float32),
        )
        return buf.getvalue()

    @staticmethod
    def from_bytes(data: bytes) -> PlanarReference:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return PlanarReference(npz["crop"].astype(np.float32), npz["points"].astype(np.float64))


def make_reference(gray: np.ndarray, face: Face) -> PlanarReference:
    """Crop the neutral face out of a grey frame at a fixed scale."""
    if face.landmarks is None:
        raise ValueError("the face has no landmarks (MediaPipe mesh required)")
    pts = face.landmarks[:, :2].astype(np.float64)
    eyes = np.linalg.norm((pts[33] + pts[133]) / 2 - (pts[362] + pts[263]) / 2)
    scale = EYE_DISTANCE_PX / max(float(eyes), 1e-6)
    centre = pts[list(FACE_OVAL)].mean(axis=0)
    size = round(EYE_DISTANCE_PX * CROP_EYE_DISTANCES)
    m = np.array(
        [[scale, 0.0, size / 2 - scale * centre[0]], [0.0, scale, size / 2 - scale * centre[1]]]
    )
    crop = cv2.warpAffine(
        gray, m, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )
    return PlanarReference(crop.astype(np.float32), pts @ m[:, :2].T + m[:, 2])


def plane_fit(
    ref: PlanarReference, gray: np.ndarray, face: Face, region: Region, stop_at: float | None = None
) -> float:
    """How well one homography maps this frame's ``region`` onto the reference: best NCC found.

    Tries the rigid-landmark and inner-landmark homographies as starting points, each refined by ECC
    directly and after an optical-flow estimate. ``stop_at``: return as soon as a fit reaches it.
    """
    if face.landmarks is None:
        raise ValueError("the face has no landmarks (MediaPipe mesh required)")
    cur = face.landmarks[:, :2].astype(np.float64)
    shape = ref.crop.shape
    face_mask = _mask(shape, ref.points, FACE_OVAL, 0.95)
    if region == "eyes":
        target = cv2.bitwise_or(
            _mask(shape, ref.points, EYE_RINGS[0], 1.6), _mask(shape, ref.points, EYE_RINGS[1], 1.6)
        )
    elif region == "mouth":
        target = _mask(shape, ref.points, MOUTH_RING, 1.4)
    else:
        target = face_mask
    best = -1.0
    for idx in (list(RIGID), list(INNER)):
        h, _ = cv2.findHomography(cur[idx], ref.points[idx], 0)
        if h is None or not np.all(np.isfinite(h)):
            continue
        warped = cv2.warpPerspective(gray, h, shape[::-1], flags=cv2.INTER_LINEAR).astype(
            np.float32
        )
        for start in ("landmarks", "flow"):
            init = _flow_estimate(ref.crop, warped, face_mask) if start == "flow" else None
            if start == "flow" and init is None:
                continue
            best = max(best, _aligned_ncc(ref.crop, warped, face_mask, target, init))
            if stop_at is not None and best >= stop_at:
                return best
    return best


def _aligned_ncc(
    ref: np.ndarray,
    cur: np.ndarray,
    align_mask: np.ndarray,
    target: np.ndarray,
    init: np.ndarray | None,
) -> float:
    """ECC homography (half resolution, then full) from ``init``; NCC of ``target`` after it."""
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, _ECC_ITERATIONS, 1e-4)
    half = np.diag([2.0, 2.0, 1.0]).astype(np.float32)
    warp: np.ndarray = np.eye(3, dtype=np.float32) if init is None else init.astype(np.float32)
    try:
        _, coarse = cv2.findTransformECC(
            cv2.resize(ref, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
            cv2.resize(cur, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
            (np.linalg.inv(half) @ warp @ half).astype(np.float32),
            cv2.MOTION_HOMOGRAPHY,
            crit,
            cv2.resize(align_mask, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_NEAREST),
            3,
        )
        warp = (half @ coarse @ np.linalg.inv(half)).astype(np.float32)
    except cv2.error:  # no convergence: keep the starting point
        pass
    with contextlib.suppress(cv2.error):  # no convergence: keep the coarse estimate
        _, fine = cv2.findTransformECC(ref, cur, warp, cv2.MOTION_HOMOGRAPHY, crit, align_mask, 3)
        warp = np.asarray(fine, dtype=np.float32)
    aligned = cv2.warpPerspective(
        cur, warp, ref.shape[::-1], flags=cv2.INTER_LINEAR + cv2.WARP_INVERSE_MAP
    )
    return _ncc(ref, aligned, target)


def _flow_estimate(ref: np.ndarray, cur: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """Homography from corners tracked by pyramidal Lucas-Kanade: a start ECC cannot reach alone."""
    a = np.clip(ref, 0, 255).astype(np.uint8)
    b = np.clip(cur, 0, 255).astype(np.uint8)
    p0 = cv2.goodFeaturesToTrack(a, 80, 0.01, 3, mask=mask)
    if p0 is None or len(p0) < 8:
        return None
    p1, status, _ = cv2.calcOpticalFlowPyrLK(a, b, p0, p0.copy(), winSize=(15, 15), maxLevel=3)
    good = status.ravel() == 1
    if good.sum() < 8:
        return None
    h, _ = cv2.findHomography(p0[good], p1[good], cv2.RANSAC, 2.0)
    return None if h is None else h.astype(np.float32)


def _mask(
    shape: tuple[int, ...], pts: np.ndarray, ring: tuple[int, ...], grow: float
) -> np.ndarray:
    poly = pts[list(ring)]
    centre = poly.mean(axis=0)
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(centre + (poly - centre) * grow).astype(np.int32)], 255)
    return mask


def _ncc(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    sel = mask > 0
    x = a[sel] - a[sel].mean()
    y = b[sel] - b[sel].mean()
    denom = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / denom) if denom > 1e-6 else 1.0


class FrameProbe:
    """The pixel check for one frame, as detectors call it: cached per region, reference loaded lazily."""

    def __init__(
        self,
        load_reference: Callable[[], PlanarReference],
        gray: Callable[[], np.ndarray],
        face: Face,
        stop_at: dict[Region, float],
    ) -> None:
        self._load = load_reference
        self._gray = gray
        self._face = face
        self._stop_at = stop_at
        self._ref: PlanarReference | None = None
        self._cache: dict[Region, float] = {}
        self.calls = 0

    def __call__(self, region: Region) -> float:
        if region not in self._cache:
            if self._ref is None:
                self._ref = self._load()
            self.calls += 1
            self._cache[region] = plane_fit(
                self._ref, self._gray(), self._face, region, stop_at=self._stop_at.get(region)
            )
        return self._cache[region]
