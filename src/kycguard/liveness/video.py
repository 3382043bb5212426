"""Turning a recorded clip into :class:`FrameSample` s: decode, downscale, track one face.

Used by the deepfake benchmark and the tests; a live session builds its FrameSamples from uploaded
frames instead. Decoding is OpenCV's bundled FFmpeg (H.264 and VP9 both read here).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from kycguard.liveness.types import FrameSample
from kycguard.vision.image_io import downscale
from kycguard.vision.landmarker import FaceLandmarker, FaceLandmarkerOptions
from kycguard.vision.types import Face


def read_video(
    path: Path, *, max_side: int = 640, step: int = 1, max_frames: int | None = None
) -> Iterator[tuple[np.ndarray, float]]:
    """(RGB frame, presentation time in ms) for every ``step``-th frame, downscaled to ``max_side``."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"cannot open video {path}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    index, produced = 0, 0
    try:
        while max_frames is None or produced < max_frames:
            ok, bgr = cap.read()
            if not ok:
                break
            if index % step == 0:
                pos = cap.get(cv2.CAP_PROP_POS_MSEC)
                ts = pos if pos > 0 or index == 0 else index * 1000.0 / fps
                yield downscale(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), max_side), float(ts)
                produced += 1
            index += 1
    finally:
        cap.release()


def _follow(faces: list[Face], previous: Face | None) -> Face | None:
    """The face continuing the track: best overlap with the previous one, else the largest."""
    if not faces:
        return None
    if previous is not None:
        best = max(faces, key=lambda f: f.box.iou(previous.box))
        if best.box.iou(previous.box) > 0.2:
            return best
    return max(faces, key=lambda f: f.size)


def track_faces(
    frames: Sequence[tuple[np.ndarray, float]],
    landmarker_options: FaceLandmarkerOptions | None = None,
) -> list[FrameSample]:
    """Landmarks of one followed face per frame (MediaPipe VIDEO mode), as FrameSamples."""
    opts = landmarker_options or FaceLandmarkerOptions(running_mode="video", max_faces=3)
    samples: list[FrameSample] = []
    previous: Face | None = None
    last_ts = -1
    with FaceLandmarker.create_from_options(opts) as landmarker:
        for rgb, ts in frames:
            ts_ms = max(round(ts), last_ts + 1)  # MediaPipe needs strictly increasing timestamps
            last_ts = ts_ms
            face = _follow(landmarker.detect_for_video(rgb, ts_ms), previous)
            previous = face or previous
            samples.append(FrameSample(rgb=rgb, face=face, timestamp_ms=float(ts)))
    return samples


def load_clip(
    path: Path, *, max_side: int = 640, step: int = 1, max_frames: int | None = None
) -> list[FrameSample]:
    """Decode and track a clip in one call (no server arrival times: a file has none)."""
    return track_faces(list(read_video(path, max_side=max_side, step=step, max_frames=max_frames)))
