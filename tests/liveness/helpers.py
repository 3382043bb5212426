"""Helpers shared by the liveness tests and their fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kycguard.vision.detector import MediaPipeFaceDetector
from kycguard.vision.image_io import decode_image
from kycguard.vision.types import Face


def read_rgb(path: Path) -> np.ndarray:
    """Decode like the API does (EXIF orientation applied: the silent_face images need it)."""
    return decode_image(
        path.read_bytes(), field=path.name, max_bytes=50_000_000, max_pixels=60_000_000
    )


def largest_face(detector: MediaPipeFaceDetector, rgb: np.ndarray) -> Face:
    faces = detector.detect(rgb)
    assert faces, "no face found"
    return faces[0]
