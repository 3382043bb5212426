"""One uploaded frame -> the face to follow and the image cues guidance needs. Stateless.

IMAGE-mode landmarks on every frame: consecutive frames of one session may reach different workers,
so nothing may depend on a tracker kept in one process's memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from kycguard.sessions.tracker import FrameInput
from kycguard.settings import Settings
from kycguard.vision.detector import FaceDetector
from kycguard.vision.image_io import decode_image, downscale
from kycguard.vision.quality import blur_score, face_crop
from kycguard.vision.types import Face


@dataclass
class FrameAnalysis:
    image: np.ndarray  # RGB, longest side at most sessions.analysis_max_side_px
    faces: list[Face]  # largest first
    face: Face | None  # the one usable face: None when none, several, or too small
    face_count: int  # faces competing to be the person (much smaller background faces excluded)
    too_small: bool
    brightness: float | None  # mean grey level of the face, 0-255
    sharpness: float | None  # variance of the Laplacian of the face at 160 px wide
    _gray: np.ndarray | None = field(default=None, repr=False)

    def gray(self) -> np.ndarray:
        if self._gray is None:
            self._gray = cv2.cvtColor(self.image, cv2.COLOR_RGB2GRAY)
        return self._gray

    def tracker_input(self, client_ms: float, server_ms: float) -> FrameInput:
        return FrameInput(client_ms, server_ms, self.face, self.face_count, self.sharpness)


def decode_frame(data: bytes, settings: Settings) -> np.ndarray:
    """An uploaded JPEG/PNG/WebP as RGB at analysis size; every bad upload is a precise 4xx."""
    image = decode_image(
        data,
        field="frame",
        max_bytes=settings.sessions.max_frame_bytes,
        max_pixels=settings.limits.max_pixels,
        min_side=settings.limits.min_side_px,
    )
    return downscale(image, settings.sessions.analysis_max_side_px)


def analyse_image(image: np.ndarray, detector: FaceDetector, settings: Settings) -> FrameAnalysis:
    faces = detector.detect(image)
    if not faces:
        return FrameAnalysis(image, [], None, 0, False, None, None)
    largest = faces[0]
    competing = [f for f in faces if f.size >= settings.quality.secondary_face_ratio * largest.size]
    too_small = largest.size < settings.sessions.min_face_px
    gray_face = cv2.cvtColor(face_crop(image, largest), cv2.COLOR_RGB2GRAY)
    brightness = float(gray_face.mean()) if gray_face.size else None
    sharpness = blur_score(gray_face) if gray_face.size else None
    usable = (
        largest if len(competing) == 1 and not too_small and largest.landmarks is not None else None
    )
    return FrameAnalysis(image, faces, usable, len(competing), too_small, brightness, sharpness)
