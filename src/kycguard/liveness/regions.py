"""Face-relative regions every cue measures on, so values do not depend on image resolution."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from kycguard.vision.types import Face

# MediaPipe mesh outline (silhouette) in order around the face.
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
    176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
LEFT_EYE = (362, 382, 381, 380, 374, 373, 390, 249, 263, 466, 388, 387, 386, 385, 384, 398)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
# Skin patches for colour/pulse (mesh indices; the region is their convex hull).
FOREHEAD = (67, 109, 10, 338, 297, 299, 337, 151, 108, 69, 104, 333)
LEFT_CHEEK = (280, 330, 347, 346, 352, 411, 425, 266, 376, 345)  # image-right cheek
RIGHT_CHEEK = (50, 101, 118, 117, 123, 187, 205, 36, 147, 116)  # image-left cheek


def polygon_mask(shape: tuple[int, ...], points: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    return mask.astype(bool)


def hull_mask(shape: tuple[int, ...], points: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 1)
    return mask.astype(bool)


def skin_patches(shape: tuple[int, ...], points: np.ndarray) -> np.ndarray:
    """Forehead and both cheeks: skin that is rarely covered by hair, glasses or a moving mouth."""
    mask = np.zeros(shape[:2], bool)
    for region in (FOREHEAD, LEFT_CHEEK, RIGHT_CHEEK):
        mask |= hull_mask(shape, points[list(region)])
    return mask


def landmarks_of(face: Face) -> np.ndarray:
    """(478, 2) pixel landmarks; every cue here needs MediaPipe's mesh."""
    if face.landmarks is None:
        raise ValueError("liveness cues need a face with MediaPipe landmarks")
    return face.landmarks[:, :2]


@dataclass(frozen=True, eq=False)
class FacePatch:
    """The face box (plus ``margin``) resampled to a fixed width, with masks in patch coordinates."""

    rgb: np.ndarray
    gray: np.ndarray  # float32 0..255
    points: np.ndarray  # (478, 2) landmarks in patch pixels
    skin: np.ndarray  # bool: face oval minus eyes and lips
    oval: np.ndarray  # bool: face oval
    scale: float  # patch pixels per image pixel

    @staticmethod
    def of(image: np.ndarray, face: Face, width: int = 160, margin: float = 0.0) -> FacePatch:
        pts = landmarks_of(face)
        box = face.box.expanded(margin, image.shape)
        x, y, w, h = box.as_int()
        w, h = max(w, 2), max(h, 2)
        scale = width / w
        crop = image[y : y + h, x : x + w]
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        rgb = cv2.resize(crop, (width, max(2, round(crop.shape[0] * scale))), interpolation=interp)
        p = (pts - np.array([x, y], np.float32)) * scale
        oval = polygon_mask(rgb.shape, p[list(FACE_OVAL)])
        holes = polygon_mask(rgb.shape, p[list(LEFT_EYE)]) | polygon_mask(
            rgb.shape, p[list(RIGHT_EYE)]
        )
        holes |= polygon_mask(rgb.shape, p[list(LIPS)])
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        return FacePatch(rgb, gray, p, oval & ~holes, oval, scale)
