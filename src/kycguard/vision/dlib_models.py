"""dlib's HOG detector, 5-point shape predictor and ResNet embedding, loaded from packaged files."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kycguard.vision.model_files import DLIB_RESNET, DLIB_SHAPE5, resolve
from kycguard.vision.types import BoundingBox, Face


@dataclass(frozen=True)
class DlibHogDetectorOptions:
    upsample: int = 1
    shape_predictor_path: Path | None = None


class DlibHogDetector:
    """The face_recognition library's default detector: HOG + linear SVM, then dlib's 5 points."""

    def __init__(
        self, options: DlibHogDetectorOptions, detector: object, predictor: object
    ) -> None:
        self.options = options
        self._detector = detector
        self._predictor = predictor

    @classmethod
    def create_from_options(cls, options: DlibHogDetectorOptions) -> DlibHogDetector:
        import dlib

        predictor = dlib.shape_predictor(str(resolve(DLIB_SHAPE5, options.shape_predictor_path)))
        return cls(options, dlib.get_frontal_face_detector(), predictor)

    def detect(self, image: np.ndarray) -> list[Face]:
        faces = []
        for rect in self._detector(image, self.options.upsample):  # type: ignore[operator]
            shape = self._predictor(image, rect)  # type: ignore[operator]
            pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
            box = BoundingBox(rect.left(), rect.top(), rect.width(), rect.height())
            faces.append(Face(box=box, keypoints5=pts))
        return sorted(faces, key=lambda f: f.size, reverse=True)


@dataclass(frozen=True)
class DlibResNetEmbedderOptions:
    model_path: Path | None = None
    chip_size: int = 150
    chip_padding: float = 0.25


class DlibResNetEmbedder:
    """dlib's ResNet-29 metric network: 128-D embedding of a 150x150 chip aligned on 5 points."""

    dimension = 128

    def __init__(self, options: DlibResNetEmbedderOptions, net: object) -> None:
        self.options = options
        self._net = net
        self._lock = threading.Lock()

    @classmethod
    def create_from_options(cls, options: DlibResNetEmbedderOptions) -> DlibResNetEmbedder:
        import dlib

        return cls(
            options, dlib.face_recognition_model_v1(str(resolve(DLIB_RESNET, options.model_path)))
        )

    def chip(self, image: np.ndarray, face: Face) -> np.ndarray:
        import dlib

        b = face.box
        rect = dlib.rectangle(int(b.x), int(b.y), int(b.x + b.width), int(b.y + b.height))
        points = [dlib.point(round(float(x)), round(float(y))) for x, y in face.keypoints5]
        shape = dlib.full_object_detection(rect, points)
        return np.asarray(
            dlib.get_face_chip(
                np.ascontiguousarray(image),  # dlib refuses views (crops, flips)
                shape,
                size=self.options.chip_size,
                padding=self.options.chip_padding,
            )
        )

    def embed_chips(self, chips: list[np.ndarray]) -> np.ndarray:
        """Mean embedding of aligned chips (one chip, or a chip and its mirror image)."""
        with self._lock:
            vectors = self._net.compute_face_descriptor(chips)  # type: ignore[attr-defined]
        return np.mean(np.asarray([np.asarray(v) for v in vectors], dtype=np.float32), axis=0)
