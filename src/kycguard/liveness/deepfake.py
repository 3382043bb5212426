"""Is the face synthetic or swapped? Cues a face-swap generator leaves in a video.

A swap (GHOST, SimSwap, DeepFaceLab...) generates the inner face at a fixed resolution (often 256 px)
frame by frame and feathers it into the original frame. Measured cues:

- ``frequency_artifacts`` (after Durall et al. 2020): share of the face's spectral power in the top
  octave (0.25-0.5 cycles/pixel) relative to 0.06-0.25, at the session's analysis resolution. Generated
  and re-sampled faces lack the finest detail that the camera put everywhere else.
- ``blending_boundary`` (after Shiohara & Yamasaki's Self-Blended Images, 2022): texture
  discontinuity at the face mask, i.e. the mean |Laplacian| of skin inside the face oval over that of
  the head and surroundings outside it. A pasted, smoother face is below its own surroundings.
  The colour step across the oval is reported too: GHOST matches colour, so it did not separate here.
- ``landmark_jitter``: frame-to-frame acceleration of the mesh relative to its centroid, in eye
  distances; per-frame generation can make landmarks tremble.
- ``identity_drift``: mean distance between face embeddings (dlib ResNet) of consecutive sampled
  frames; per-frame generation can make identity flicker.
- ``blink_pattern``: blinks per minute from MediaPipe's eyeBlink blendshapes over tracks >= 8 s.

Measured on the shared clips (1 real + 3 GHOST swaps of the same clip, 2 other real clips):
only the first two separate swaps from real footage; jitter, drift and blinks do not (GHOST swaps
are temporally smooth and keep a *steadier* identity than the real clip). Their anchors are set so
that they stay silent on all real clips and would only fire on much cruder fakes. The first two are
fitted on a matched set of 4 clips: the same clip swapped, so only the face differs. On the 87 bona fide
still photos of the shared sets resized like session frames, frequency_artifacts would fire on 4 and
blending_boundary on 19: phone beautification, retouching and heavy compression also smooth faces
(the live silent_face selfie itself scores 0.43-0.48 on blending_boundary, below every swap).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from kycguard.liveness.fusion import Ramp, make_signal
from kycguard.liveness.regions import FacePatch
from kycguard.liveness.types import FrameSample, Signal
from kycguard.vision.embedder import FaceEmbedder

FREQUENCY_RAMP = Ramp(clear=0.016, alarm=0.008)  # top-octave / mid-band power of the face
BLENDING_RAMP = Ramp(clear=0.74, alarm=0.55)  # |Laplacian| skin / outside the oval
JITTER_RAMP = Ramp(
    clear=0.05, alarm=0.12
)  # median landmark acceleration, eye distances per frame^2
DRIFT_RAMP = Ramp(clear=0.45, alarm=0.7)  # dlib ResNet distance between consecutive sampled frames
BLINK_RAMP = Ramp(clear=4.0, alarm=0.0)  # blinks per minute (people: ~8-20)
MIN_BLINK_SPAN_S = 8.0
MIN_FACE_PX = 48


def sample(track: Sequence[FrameSample], n: int) -> list[FrameSample]:
    """Up to ``n`` frames spread evenly over a track."""
    if len(track) <= n:
        return list(track)
    return [track[int(i)] for i in np.linspace(0, len(track) - 1, n).round()]


def top_octave_share(gray: np.ndarray) -> float:
    n = min(gray.shape[:2])
    g = gray[:n, :n].astype(np.float32)
    g -= g.mean()
    window = np.outer(np.hanning(n), np.hanning(n)).astype(np.float32)
    power = np.abs(np.fft.fftshift(np.fft.fft2(g * window))) ** 2
    yy, xx = np.mgrid[:n, :n]
    radius = np.hypot(yy - n / 2, xx - n / 2) / n  # cycles per pixel
    top = power[(radius > 0.25) & (radius < 0.5)].sum()
    mid = power[(radius > 0.06) & (radius <= 0.25)].sum()
    return float(top / max(mid, 1e-9))


def _face_square(frame: FrameSample) -> np.ndarray | None:
    """Central 60 % of the face box (cheeks, eyes, nose, mouth: the swapped part), native pixels."""
    assert frame.face is not None
    box = frame.face.box
    side = int(min(box.width, box.height) * 0.6)
    if side < MIN_FACE_PX * 0.6:
        return None
    cx, cy = (int(v) for v in box.center)
    x0, y0 = max(0, cx - side // 2), max(0, cy - side // 2)
    crop = cv2.cvtColor(frame.rgb[y0 : y0 + side, x0 : x0 + side], cv2.COLOR_RGB2GRAY)
    return crop if min(crop.shape[:2]) >= MIN_FACE_PX * 0.6 else None


def frequency_artifacts(frames: Sequence[FrameSample], weights: Mapping[str, float]) -> Signal:
    shares = [top_octave_share(c) for f in frames if (c := _face_square(f)) is not None]
    if not shares:
        return Signal.inactive(
            "frequency_artifacts", "deepfake", weights["frequency_artifacts"], "face too small"
        )
    return make_signal(
        "frequency_artifacts", "deepfake", float(np.median(shares)), FREQUENCY_RAMP, weights,
        "median top-octave share of the face spectrum", frames=len(shares),
    )  # fmt: skip


def blending_boundary(frames: Sequence[FrameSample], weights: Mapping[str, float]) -> Signal:
    ratios, colour_steps = [], []
    for f in frames:
        assert f.face is not None
        if f.face.box.width < MIN_FACE_PX:
            continue
        patch = FacePatch.of(f.rgb, f.face, width=160, margin=0.35)
        outside = ~patch.oval
        if not patch.skin.any() or not outside.any():
            continue
        lap = np.abs(cv2.Laplacian(patch.gray, cv2.CV_32F))
        ratios.append(float(lap[patch.skin].mean() / max(float(lap[outside].mean()), 1e-6)))
        lab = cv2.cvtColor(patch.rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
        ring = _dilate(patch.oval, 6) & ~patch.oval
        if ring.any():
            colour_steps.append(
                float(np.linalg.norm(lab[patch.skin][:, 1:].mean(0) - lab[ring][:, 1:].mean(0)))
            )
    if not ratios:
        return Signal.inactive(
            "blending_boundary", "deepfake", weights["blending_boundary"], "face too small"
        )
    return make_signal(
        "blending_boundary", "deepfake", float(np.median(ratios)), BLENDING_RAMP, weights,
        "median skin/surroundings texture ratio", frames=len(ratios),
        colour_step_ab=float(np.median(colour_steps)) if colour_steps else None,
    )  # fmt: skip


def _dilate(mask: np.ndarray, px: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


def landmark_jitter(
    tracks: Sequence[Sequence[FrameSample]], weights: Mapping[str, float]
) -> Signal:
    values = []
    for t in tracks:
        marks = np.stack(
            [
                f.face.landmarks[:, :2]
                for f in t
                if f.face is not None and f.face.landmarks is not None
            ]
        )
        iod = np.array([f.face.interocular for f in t if f.face is not None])
        if len(marks) < 3:
            continue
        rel = marks - marks.mean(axis=1, keepdims=True)
        acc = rel[2:] - 2 * rel[1:-1] + rel[:-2]
        values += list(np.linalg.norm(acc, axis=2).mean(axis=1) / np.maximum(iod[1:-1], 1.0))
    if not values:
        return Signal.inactive(
            "landmark_jitter", "deepfake", weights["landmark_jitter"], "fewer than 3 frames"
        )
    return make_signal(
        "landmark_jitter", "deepfake", float(np.median(values)), JITTER_RAMP, weights,
        "median landmark acceleration (eye distances)",
    )  # fmt: skip


def identity_drift(
    tracks: Sequence[Sequence[FrameSample]],
    embedder: FaceEmbedder | None,
    per_track: int,
    weights: Mapping[str, float],
) -> Signal:
    if embedder is None:
        return Signal.inactive(
            "identity_drift", "deepfake", weights["identity_drift"], "no face embedder given"
        )
    steps = []
    for t in tracks:
        picked = [
            f
            for f in sample(t, per_track)
            if f.face is not None and f.face.box.width >= MIN_FACE_PX
        ]
        vecs = [embedder.embed(f.rgb, f.face) for f in picked if f.face is not None]
        steps += [float(np.linalg.norm(a - b)) for a, b in itertools.pairwise(vecs)]
    if not steps:
        return Signal.inactive(
            "identity_drift", "deepfake", weights["identity_drift"], "no usable face pairs"
        )
    return make_signal(
        "identity_drift", "deepfake", float(np.mean(steps)), DRIFT_RAMP, weights,
        "mean embedding distance between consecutive sampled frames", pairs=len(steps),
    )  # fmt: skip


def blink_pattern(tracks: Sequence[Sequence[FrameSample]], weights: Mapping[str, float]) -> Signal:
    """Blinks per minute over tracks long enough to expect one; blink durations in ``extra``."""
    span = sum((t[-1].timestamp_ms - t[0].timestamp_ms) / 1000.0 for t in tracks if len(t) > 1)
    if span < MIN_BLINK_SPAN_S:
        return Signal.inactive(
            "blink_pattern",
            "deepfake",
            weights["blink_pattern"],
            f"{span:.1f} s of face; blinks need {MIN_BLINK_SPAN_S:g} s",
        )
    durations: list[float] = []
    for t in tracks:
        closed_since: float | None = None
        for f in t:
            shapes = f.face.blendshapes if f.face is not None else {}
            closed = (shapes.get("eyeBlinkLeft", 0.0) + shapes.get("eyeBlinkRight", 0.0)) / 2 > 0.5
            if closed and closed_since is None:
                closed_since = f.timestamp_ms
            elif not closed and closed_since is not None:
                durations.append(f.timestamp_ms - closed_since)
                closed_since = None
    rate = 60.0 * len(durations) / span
    return make_signal(
        "blink_pattern", "deepfake", rate, BLINK_RAMP, weights, "blinks per minute",
        blink_ms=[round(d) for d in durations],
    )  # fmt: skip
