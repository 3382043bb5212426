"""MediaPipe FaceLandmarker behind kycguard's own options/result types.

One landmarker instance is not thread-safe, so calls are serialised by a lock; the service keeps one
instance per process (loading costs ~100 ms, a call ~10 ms).
"""

from __future__ import annotations

import sys
import threading
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from kycguard.vision.model_files import FACE_LANDMARKER, resolve
from kycguard.vision.types import DLIB5_FROM_MEDIAPIPE, BoundingBox, Face, HeadPose


@dataclass(frozen=True)
class FaceLandmarkerOptions:
    model_path: Path | None = None  # None: the packaged face_landmarker.task
    max_faces: int = 4
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    running_mode: Literal["image", "video"] = "image"


class FaceLandmarker:
    """478 landmarks, 52 blendshapes and the head pose of every face in an RGB image."""

    def __init__(self, options: FaceLandmarkerOptions, task: object) -> None:
        self.options = options
        self._task = task
        self._lock = threading.Lock()

    @classmethod
    def create_from_options(cls, options: FaceLandmarkerOptions) -> FaceLandmarker:
        vision = tasks_vision()
        from mediapipe.tasks.python import BaseOptions

        path = resolve(FACE_LANDMARKER, options.model_path)
        mode = (
            vision.RunningMode.VIDEO
            if options.running_mode == "video"
            else vision.RunningMode.IMAGE
        )
        mp_options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=mode,
            num_faces=options.max_faces,
            min_face_detection_confidence=options.min_detection_confidence,
            min_face_presence_confidence=options.min_presence_confidence,
            min_tracking_confidence=options.min_tracking_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        return cls(options, vision.FaceLandmarker.create_from_options(mp_options))

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 image (IMAGE mode)."""
        import mediapipe as mp

        frame = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
        with self._lock:
            result = self._task.detect(frame)  # type: ignore[attr-defined]
        return _faces(result, image.shape)

    def detect_for_video(self, image: np.ndarray, timestamp_ms: int) -> list[Face]:
        """Faces in one frame of a stream (VIDEO mode: tracks between frames, timestamps must increase)."""
        import mediapipe as mp

        frame = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
        with self._lock:
            result = self._task.detect_for_video(frame, timestamp_ms)  # type: ignore[attr-defined]
        return _faces(result, image.shape)

    def close(self) -> None:
        # mediapipe 1.2.2 prints a traceback at interpreter exit unless closed explicitly.
        with self._lock:
            if self._task is not None:
                self._task.close()  # type: ignore[attr-defined]
                self._task = None

    def __enter__(self) -> FaceLandmarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def tasks_vision() -> Any:
    """``mediapipe.tasks.python.vision``, imported without matplotlib.

    That package imports its drawing helpers, which import ``matplotlib.pyplot`` at import time
    (~40 MiB of RSS and ~2 s of start-up per worker) for a plotting function the service never
    calls. While mediapipe loads, empty placeholder modules stand in for matplotlib (only those
    drawing helpers keep a reference); they are removed right after, so ``import matplotlib``
    anywhere else (the benchmarks' plots) gets the real package."""
    if "mediapipe.tasks.python.vision" not in sys.modules and "matplotlib" not in sys.modules:
        placeholders = {
            name: types.ModuleType(name) for name in ("matplotlib", "matplotlib.pyplot")
        }
        placeholders["matplotlib"].pyplot = placeholders["matplotlib.pyplot"]  # type: ignore[attr-defined]
        sys.modules.update(placeholders)
        try:
            import mediapipe.tasks.python.vision  # noqa: F401
        finally:
            for name, module in placeholders.items():
                if sys.modules.get(name) is module:
                    del sys.modules[name]
    from mediapipe.tasks.python import vision

    return vision


def _faces(result: object, shape: tuple[int, ...]) -> list[Face]:
    h, w = shape[:2]
    faces: list[Face] = []
    blendshape_sets = getattr(result, "face_blendshapes", None) or []
    matrices = getattr(result, "facial_transformation_matrixes", None) or []
    for i, marks in enumerate(getattr(result, "face_landmarks", [])):
        pts = np.array([(p.x * w, p.y * h, p.z * w) for p in marks], dtype=np.float32)
        shapes = (
            {c.category_name: float(c.score) for c in blendshape_sets[i]}
            if i < len(blendshape_sets)
            else {}
        )
        pose = HeadPose.from_matrix(np.asarray(matrices[i])) if i < len(matrices) else None
        faces.append(
            Face(
                box=BoundingBox.around(pts[:, :2]),
                keypoints5=pts[list(DLIB5_FROM_MEDIAPIPE), :2].copy(),
                landmarks=pts,
                blendshapes=shapes,
                pose=pose,
            )
        )
    return faces
