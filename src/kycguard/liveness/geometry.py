"""Is the face flat? Planar-motion test across frames, the strongest cue against prints and screens.

Every point of a plane (a print, a phone or tablet screen) moves between two views by one homography.
A head is not flat: when it turns or the camera moves, the nose moves against the cheeks (parallax)
and expressions move parts independently, which no homography reproduces.

Measurement, per pair of frames of one face track:
- track corner features inside the face oval with pyramidal Lucas-Kanade (forward-backward checked);
- fit a similarity (rotation, scale, shift) and a homography to the tracked points by least squares;
- ``deformation`` = RMS residual of the similarity / eye distance: how much the face changed shape in
  the image beyond moving, turning in-plane and scaling;
- ``planarity`` = RMS residual of the homography / that of the similarity: the share of the
  deformation a plane cannot explain. Near 0: flat object; near 1: a 3D, live head.

Only pairs with ``deformation >= min_motion`` inform the test (below, residuals are tracking noise and
a still print looks like a still head); too few informative pairs: the cue abstains and says so (then
``static_scene`` covers a motionless attack). Measured on the shared clips: planarity 0.80-0.98 on
real footage, 0.14-0.24 on a real photo swung as a plane (``simulate.flat_replay``).

A replay of a *video* on a screen still contains a moving 3D head: this test does not catch it.
The landmark-based version of the same test (MediaPipe mesh, 478 points) is reported alongside; it is
noisier because the mesh is a model fit, not tracked texture.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from kycguard.liveness.fusion import Ramp
from kycguard.liveness.regions import FACE_OVAL, polygon_mask
from kycguard.liveness.types import FrameSample, Signal

PLANARITY_RAMP = Ramp(clear=0.6, alarm=0.3)
STATIC_RAMP = Ramp(clear=0.03, alarm=0.01)  # 90th percentile landmark motion, eye distances
PAIR_GAPS = (5, 10)  # frames apart (at ~25-30 fps: 0.2 and 0.4 s)
MAX_STARTS = 20
MIN_PAIRS = 3
MAX_FB_ERROR_PX = 0.5
LK_WINDOW, LK_LEVELS = (15, 15), 3
MIN_POINTS = 12


@dataclass(frozen=True)
class PairFit:
    deformation: float  # similarity RMS residual / eye distance
    homography_residual: float  # homography RMS residual / eye distance
    points: int

    @property
    def planarity(self) -> float:
        return self.homography_residual / max(self.deformation, 1e-9)


def similarity_residual(a: np.ndarray, b: np.ndarray) -> float:
    """RMS residual of the least-squares similarity a -> b (closed form in complex numbers)."""
    za = (a[:, 0] - a[:, 0].mean()) + 1j * (a[:, 1] - a[:, 1].mean())
    zb = (b[:, 0] - b[:, 0].mean()) + 1j * (b[:, 1] - b[:, 1].mean())
    k = (np.conj(za) @ zb) / max(float(np.real(np.conj(za) @ za)), 1e-12)
    return float(np.sqrt(np.mean(np.abs(k * za - zb) ** 2)))


def homography_residual(a: np.ndarray, b: np.ndarray) -> float:
    """RMS residual of the least-squares homography a -> b."""
    h, _ = cv2.findHomography(a, b, 0)
    if h is None:
        return float("nan")
    projected = cv2.perspectiveTransform(a[None].astype(np.float64), h)[0]
    return float(np.sqrt(np.mean(np.sum((projected - b) ** 2, axis=1))))


def _gray(frame: FrameSample) -> np.ndarray:
    return cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2GRAY)


def track_pair(a: FrameSample, b: FrameSample) -> PairFit | None:
    """Fit similarity and homography to face texture tracked from ``a`` to ``b``."""
    assert a.face is not None and a.face.landmarks is not None
    ga, gb = _gray(a), _gray(b)
    iod = max(a.face.interocular, 1.0)
    mask = polygon_mask(ga.shape, a.face.landmarks[list(FACE_OVAL), :2]).astype(np.uint8)
    p0 = cv2.goodFeaturesToTrack(ga, 200, 0.01, max(3.0, iod / 12), mask=mask)
    if p0 is None or len(p0) < MIN_POINTS:
        return None
    p1, st1, _ = cv2.calcOpticalFlowPyrLK(ga, gb, p0, None, winSize=LK_WINDOW, maxLevel=LK_LEVELS)  # type: ignore[call-overload]
    back, st2, _ = cv2.calcOpticalFlowPyrLK(gb, ga, p1, None, winSize=LK_WINDOW, maxLevel=LK_LEVELS)  # type: ignore[call-overload]
    ok = (
        (st1[:, 0] == 1)
        & (st2[:, 0] == 1)
        & (np.linalg.norm(back - p0, axis=2)[:, 0] < MAX_FB_ERROR_PX)
    )
    if ok.sum() < MIN_POINTS:
        return None
    src, dst = p0[ok, 0].astype(np.float64), p1[ok, 0].astype(np.float64)
    return PairFit(
        similarity_residual(src, dst) / iod, homography_residual(src, dst) / iod, int(ok.sum())
    )


def landmark_pair(a: FrameSample, b: FrameSample) -> PairFit:
    """The same fit on MediaPipe's 478 landmarks (the cue measured before the project: 0.0087 vs 0.0776)."""
    assert a.face is not None and b.face is not None
    assert a.face.landmarks is not None and b.face.landmarks is not None
    la = np.ascontiguousarray(a.face.landmarks[:, :2], np.float64)
    lb = np.ascontiguousarray(b.face.landmarks[:, :2], np.float64)
    iod = max((a.face.interocular + b.face.interocular) / 2, 1.0)
    return PairFit(similarity_residual(la, lb) / iod, homography_residual(la, lb) / iod, len(la))


def frame_pairs(track: Sequence[FrameSample]) -> list[tuple[FrameSample, FrameSample]]:
    """Pairs ``PAIR_GAPS`` frames apart, starting every few frames (at most ``MAX_STARTS`` starts)."""
    stride = max(3, len(track) // MAX_STARTS)
    starts = range(0, len(track), stride)
    return [(track[i], track[i + g]) for i in starts for g in PAIR_GAPS if i + g < len(track)]


def planar_motion(
    tracks: Sequence[Sequence[FrameSample]], min_motion: float, weights: Mapping[str, float]
) -> Signal:
    """Median planarity over informative frame pairs of all face tracks."""
    fits = [f for t in tracks for a, b in frame_pairs(t) if (f := track_pair(a, b)) is not None]
    informative = [
        f for f in fits if f.deformation >= min_motion and np.isfinite(f.homography_residual)
    ]
    marks = [landmark_pair(a, b) for t in tracks for a, b in frame_pairs(t)]
    marks_informative = [m for m in marks if m.deformation >= min_motion]
    extra = {
        "pairs": len(fits),
        "informative_pairs": len(informative),
        "median_deformation": float(np.median([f.deformation for f in fits])) if fits else None,
        "landmark_homography_residual": (
            float(np.median([m.homography_residual for m in marks_informative]))
            if marks_informative
            else None
        ),
    }
    w = weights["planar_motion"]
    if len(informative) < MIN_PAIRS:
        return Signal(
            "planar_motion",
            "liveness",
            None,
            None,
            w,
            f"abstains: {len(informative)} frame pairs deform the face by >= {min_motion:g} eye distances "
            f"(need {MIN_PAIRS}); ask the person to turn the head",
            active=False,
            extra=extra,
        )
    value = float(np.median([f.planarity for f in informative]))
    extra["homography_residual"] = float(np.median([f.homography_residual for f in informative]))
    return Signal(
        "planar_motion",
        "liveness",
        value,
        PLANARITY_RAMP(value),
        w,
        f"share of face deformation a plane cannot explain = {value:.3g} over {len(informative)} pairs "
        f"({PLANARITY_RAMP.describe()}; flat objects ~0.2, real heads ~0.8-1)",
        extra=extra,
    )


def static_scene(tracks: Sequence[Sequence[FrameSample]], weights: Mapping[str, float]) -> Signal:
    """How far the face moves at all: 90th percentile of the RMS landmark distance from the track's
    median shape, in eye distances. A live person sways, breathes, blinks; a print on a stand or a
    looped still does not. Real clips here: 0.17-1.0 at the median; a still repeated: ~0."""
    dists: list[float] = []
    for t in tracks:
        marks = np.stack(
            [
                f.face.landmarks[:, :2]
                for f in t
                if f.face is not None and f.face.landmarks is not None
            ]
        )
        iod = float(np.median([f.face.interocular for f in t if f.face is not None]))
        median = np.median(marks, axis=0)
        dists += list(
            np.sqrt(np.mean(np.sum((marks - median) ** 2, axis=2), axis=1)) / max(iod, 1.0)
        )
    value = float(np.percentile(dists, 90))
    return Signal(
        "static_scene",
        "liveness",
        value,
        STATIC_RAMP(value),
        weights["static_scene"],
        f"90th percentile landmark motion = {value:.3g} eye distances ({STATIC_RAMP.describe()})",
    )
