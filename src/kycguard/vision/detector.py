"""Face detectors: one Protocol, the MediaPipe detector the service uses, dlib HOG for baselines.

MediaPipe's BlazeFace sees the image at 128x128, so a face under ~15 % of the frame (the portrait on
a photographed ID card, a selfie taken from afar) is missed on the whole image. ``search="pyramid"``
also runs it on overlapping tiles of 1/2 and 1/3 the image, which finds such faces at ~10 ms a tile.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

import numpy as np

from kycguard.vision.landmarker import FaceLandmarker, FaceLandmarkerOptions
from kycguard.vision.types import BoundingBox, Face


class FaceDetector(Protocol):
    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 image, largest first."""
        ...


@dataclass(frozen=True)
class MediaPipeDetectorOptions:
    landmarker: FaceLandmarkerOptions = field(default_factory=FaceLandmarkerOptions)
    search: Literal["full", "pyramid"] = "full"
    tile_levels: tuple[int, ...] = (2, 3)  # tile side = image side / level, 50 % overlap
    dedupe_iou: float = 0.3


class MediaPipeFaceDetector:
    def __init__(self, options: MediaPipeDetectorOptions, landmarker: FaceLandmarker) -> None:
        self.options = options
        self.landmarker = landmarker

    @classmethod
    def create_from_options(cls, options: MediaPipeDetectorOptions) -> MediaPipeFaceDetector:
        return cls(options, FaceLandmarker.create_from_options(options.landmarker))

    def detect(
        self, image: np.ndarray, search: Literal["full", "pyramid"] | None = None
    ) -> list[Face]:
        faces = self.landmarker.detect(image)
        if faces or (search or self.options.search) == "full":
            return _largest_first(faces)
        for level in self.options.tile_levels:
            found = [f for tile in _tiles(image.shape, level) for f in self._detect_in(image, tile)]
            if found:
                return _largest_first(_dedupe(found, self.options.dedupe_iou))
        return []

    def _detect_in(self, image: np.ndarray, tile: tuple[int, int, int, int]) -> list[Face]:
        x, y, w, h = tile
        return [_shift(f, x, y) for f in self.landmarker.detect(image[y : y + h, x : x + w])]

    def close(self) -> None:
        self.landmarker.close()


def _tiles(shape: tuple[int, ...], level: int) -> list[tuple[int, int, int, int]]:
    h, w = shape[:2]
    side = max(h, w) // level
    step = max(1, side // 2)
    xs = list(range(0, max(1, w - side) + 1, step))
    ys = list(range(0, max(1, h - side) + 1, step))
    if xs[-1] + side < w:
        xs.append(w - side)
    if ys[-1] + side < h:
        ys.append(h - side)
    return [(x, y, min(side, w - x), min(side, h - y)) for y in ys for x in xs]


def _shift(face: Face, dx: int, dy: int) -> Face:
    offset2 = np.array([dx, dy], dtype=np.float32)
    marks = None
    if face.landmarks is not None:
        marks = face.landmarks.copy()
        marks[:, :2] += offset2
    b = face.box
    return replace(
        face,
        box=BoundingBox(b.x + dx, b.y + dy, b.width, b.height),
        keypoints5=face.keypoints5 + offset2,
        landmarks=marks,
    )


def _dedupe(faces: list[Face], iou: float) -> list[Face]:
    kept: list[Face] = []
    for face in sorted(faces, key=lambda f: f.box.area, reverse=True):
        if all(face.box.iou(k.box) < iou for k in kept):
            kept.append(face)
    return kept


def _largest_first(faces: list[Face]) -> list[Face]:
    return sorted(faces, key=lambda f: f.size, reverse=True)
