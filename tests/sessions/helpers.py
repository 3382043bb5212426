"""Helpers of the session tests: real clips decoded once, and a session tracker driven over frames
exactly as the service drives it (same analysis, same pixel check, same neutral reference)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kycguard.sessions.analysis import FrameAnalysis
from kycguard.sessions.config import Challenge, SessionSettings
from kycguard.sessions.planar import FrameProbe, PlanarReference, Region, make_reference
from kycguard.sessions.tracker import SessionTracker

CLIPS = {
    "obama": "deepfake/ghost_faceswap/videos/obama_short.mp4",  # 1280x720, 29.97 fps, 208 frames
    "hamilton": "faces/face_recognition_examples/video/short_hamilton_clip.mp4",  # 640x360, 275
    "orig": "deepfake/ghost_faceswap/videos/orig.webm",  # 464x560, 25 fps, 66 frames
}


@dataclass
class Clip:
    name: str
    fps: float
    frames: list[np.ndarray]  # RGB, longest side at most 640 px


def decode(path: Path, name: str, max_side: int = 640) -> Clip:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise RuntimeError(f"OpenCV cannot open {path}")
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        h, w = bgr.shape[:2]
        s = max_side / max(h, w)
        if s < 1:
            bgr = cv2.resize(bgr, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    if not frames:
        raise RuntimeError(f"OpenCV decoded no frame from {path}")
    return Clip(name, fps, frames)


def jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    return bytes(cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes())


@dataclass
class Run:
    """What happened when one challenge was run over a stretch of frames."""

    baseline_frame: int | None = None
    completed_frame: int | None = None
    result: dict[str, Any] = field(default_factory=dict)
    pixel_checks: int = 0  # calls of the moved-photo pixel check
    labels: list[str] = field(default_factory=list)  # labels of frames with a completion

    @property
    def completed(self) -> bool:
        return self.completed_frame is not None


def _no_pixel_check(region: Region) -> float:
    """Stands in for the pixel check to show what the landmarks alone would accept."""
    return -1.0


def run_challenge(
    analyses: Sequence[FrameAnalysis],
    challenge: Challenge,
    settings: SessionSettings,
    *,
    fps: float,
    start: int = 0,
    labels: Sequence[str] | None = None,
    pixel_check: bool = True,
) -> Run:
    """Feed frames ``start``.. to a tracker that has only ``challenge``; frame i is at i/fps s."""
    tracker = SessionTracker(settings)
    state = tracker.initial_state([challenge])
    reference: PlanarReference | None = None
    run = Run()
    d = settings.detectors
    stop_at: dict[Region, float] = {
        "eyes": d.planar_max_ncc_eyes,
        "mouth": d.planar_max_ncc_mouth,
        "face": d.planar_max_ncc_face,
    }

    def load() -> PlanarReference:
        assert reference is not None
        return reference

    for i in range(start, len(analyses)):
        a = analyses[i]
        t = 1_000.0 * i / fps
        probe: Any = _no_pixel_check
        if pixel_check and a.face is not None:
            probe = FrameProbe(load, a.gray, a.face, stop_at)
        out = tracker.step(state, a.tracker_input(t, t), probe)
        if isinstance(probe, FrameProbe):
            run.pixel_checks += probe.calls
        state = out.state
        if "baseline_established" in out.events:
            assert a.face is not None
            run.baseline_frame = i
            reference = make_reference(a.gray(), a.face)
        if "challenge_passed" in out.events:
            run.completed_frame = i
            if labels is not None:
                run.labels.append(labels[i])
            break
    run.result = state["results"][0]
    return run
