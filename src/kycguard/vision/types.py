"""Result dataclasses shared by every vision component."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# Indices into MediaPipe's 478-point mesh.
MP_RIGHT_EYE_OUTER, MP_RIGHT_EYE_INNER = 33, 133  # the eye on the image's left
MP_LEFT_EYE_INNER, MP_LEFT_EYE_OUTER = 362, 263
MP_NOSE_BOTTOM, MP_NOSE_TIP = 2, 1
MP_MOUTH_LEFT, MP_MOUTH_RIGHT = 61, 291  # image-left and image-right mouth corners
# dlib's 5-point convention (what its ResNet chips are aligned with), as MediaPipe indices.
DLIB5_FROM_MEDIAPIPE = (
    MP_LEFT_EYE_OUTER,
    MP_LEFT_EYE_INNER,
    MP_RIGHT_EYE_OUTER,
    MP_RIGHT_EYE_INNER,
    MP_NOSE_BOTTOM,
)


@dataclass(frozen=True)
class BoundingBox:
    x: float
    y: float
    width: float
    height: float

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.width / 2, self.y + self.height / 2

    def expanded(self, margin: float, shape: tuple[int, ...]) -> BoundingBox:
        """This box grown by ``margin`` x its size on every side, clipped to an image of ``shape``."""
        h, w = shape[:2]
        x0 = max(0.0, self.x - margin * self.width)
        y0 = max(0.0, self.y - margin * self.height)
        x1 = min(float(w), self.x + self.width * (1 + margin))
        y1 = min(float(h), self.y + self.height * (1 + margin))
        return BoundingBox(x0, y0, x1 - x0, y1 - y0)

    def as_int(self) -> tuple[int, int, int, int]:
        return round(self.x), round(self.y), round(self.width), round(self.height)

    def iou(self, other: BoundingBox) -> float:
        ix = max(0.0, min(self.x + self.width, other.x + other.width) - max(self.x, other.x))
        iy = max(0.0, min(self.y + self.height, other.y + other.height) - max(self.y, other.y))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    @staticmethod
    def around(points: np.ndarray) -> BoundingBox:
        x0, y0 = points[:, 0].min(), points[:, 1].min()
        x1, y1 = points[:, 0].max(), points[:, 1].max()
        return BoundingBox(float(x0), float(y0), float(x1 - x0), float(y1 - y0))


@dataclass(frozen=True)
class HeadPose:
    """Degrees; yaw > 0 is the head turned to the image's right, pitch > 0 is chin down."""

    yaw: float
    pitch: float
    roll: float

    @staticmethod
    def from_matrix(matrix: np.ndarray) -> HeadPose:
        r = matrix[:3, :3]
        sy = math.hypot(r[0, 0], r[1, 0])
        pitch = math.degrees(math.atan2(r[2, 1], r[2, 2]))
        yaw = math.degrees(math.atan2(-r[2, 0], sy))
        roll = math.degrees(math.atan2(r[1, 0], r[0, 0]))
        return HeadPose(yaw=yaw, pitch=pitch, roll=roll)


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face, in pixel coordinates of the image it was found in."""

    box: BoundingBox
    keypoints5: (
        np.ndarray
    )  # (5, 2), dlib order: outer/inner corner of image-right eye, image-left eye, nose
    score: float = 1.0
    landmarks: np.ndarray | None = None  # (478, 3) MediaPipe mesh, x/y in pixels
    blendshapes: dict[str, float] = field(default_factory=dict)
    pose: HeadPose | None = None

    @property
    def interocular(self) -> float:
        right = self.keypoints5[0:2].mean(axis=0)
        left = self.keypoints5[2:4].mean(axis=0)
        return float(np.linalg.norm(right - left))

    @property
    def size(self) -> float:
        """Face width in pixels, measured the same way for every detector: 2.4 x eye distance."""
        return 2.4 * self.interocular
