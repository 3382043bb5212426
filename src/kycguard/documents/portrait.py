"""Finding the holder's portrait on a photographed ID document.

The printed portrait is small (often < 15 % of the frame), low-contrast and patterned, and the card
may be photographed sideways or upside down. Steps:
1. search the whole image and overlapping tiles (MediaPipe's pyramid search); if nothing is found,
   the image turned by 90, 270 and 180 degrees;
2. crop the largest face with a margin and upscale it so the face is about ``_TARGET_FACE_PX`` wide;
   equalise contrast (CLAHE on lightness) when the crop is flat;
3. MediaPipe also fits faces lying sideways or upside down (poorly, but with a plausible-looking
   mesh), so it cannot tell which way is up. dlib's HOG face detector only fires on upright faces:
   its score on the crop turned four ways decides (measured on rendered cards: ~1.0 upright, below
   -0.7 in the three other orientations, ~25 ms each). When HOG sees nothing at all (a heavily
   stylised print), the most level eye line of MediaPipe's mesh decides instead. The winner turns
   the whole document upright as well;
4. the face re-detected in the upright crop carries far more precise landmarks than at document scale.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from kycguard.errors import FaceNotUsable
from kycguard.vision.detector import MediaPipeFaceDetector
from kycguard.vision.types import BoundingBox, Face

ROTATIONS = (0, 90, 270, 180)  # degrees counter-clockwise, most likely first
_TARGET_FACE_PX = 220
_CROP_MARGIN = 0.7
_FLAT_CONTRAST_STD = 40.0  # grey-level standard deviation below which the crop gets CLAHE


@dataclass(frozen=True)
class Portrait:
    document: np.ndarray  # the document image turned upright
    rotation: int  # degrees counter-clockwise applied to the upload to make it upright
    box: BoundingBox  # the portrait face in ``document`` coordinates
    crop: np.ndarray  # upright, upscaled (and maybe equalised) portrait region
    face: Face  # the face re-detected in ``crop``
    enhanced: bool
    faces_on_document: int


def rotate(image: np.ndarray, degrees: int) -> np.ndarray:
    """Turn counter-clockwise by a multiple of 90 degrees."""
    return np.ascontiguousarray(np.rot90(image, k=(degrees // 90) % 4)) if degrees % 360 else image


def rotate_box(box: BoundingBox, shape: tuple[int, ...], degrees: int) -> BoundingBox:
    """Where ``box`` of an image of ``shape`` lands after :func:`rotate` by ``degrees``."""
    h, w = shape[:2]
    corners = np.array([[box.x, box.y], [box.x + box.width, box.y + box.height]])
    for _ in range((degrees // 90) % 4):  # one quarter turn CCW: (x, y) -> (y, w - x)
        corners = np.column_stack([corners[:, 1], w - corners[:, 0]])
        h, w = w, h
    return BoundingBox.around(corners)


def eye_line_angle(face: Face) -> float:
    """Absolute angle of the line between the eyes, in degrees (0 = level, upright face)."""
    right_in_image = face.keypoints5[0:2].mean(axis=0)
    left_in_image = face.keypoints5[2:4].mean(axis=0)
    dx, dy = right_in_image - left_in_image
    return abs(math.degrees(math.atan2(dy, dx)))


def equalise(image: np.ndarray) -> np.ndarray:
    """CLAHE on the L channel of Lab: lifts a faded print without shifting colours."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4))
    lab[:, :, 0] = clahe.apply(lab[:, :, 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


class PortraitFinder:
    """Finds the portrait with the service's MediaPipe detector; dlib HOG arbitrates orientation."""

    def __init__(self, detector: MediaPipeFaceDetector, upright_detector: Any) -> None:
        self.detector = detector
        self._hog = upright_detector
        # dlib's object_detector keeps its feature pyramid in the instance: concurrent calls are
        # unsafe (dlib's docs), and two /verify calls at once crashed a worker (segfault in dlib)
        self._hog_lock = threading.Lock()

    @classmethod
    def create(cls, detector: MediaPipeFaceDetector) -> PortraitFinder:
        import dlib

        return cls(detector, dlib.get_frontal_face_detector())

    def find(self, image: np.ndarray) -> Portrait | None:
        for base in ROTATIONS:
            turned = rotate(image, base)
            faces = self.detector.detect(turned, search="pyramid")
            if not faces:
                continue
            found = self._upright_crop(turned, faces[0])
            if found is None:
                continue
            crop, face, extra, enhanced = found
            total = (base + extra) % 360
            return Portrait(
                document=rotate(image, total),
                rotation=total,
                box=rotate_box(faces[0].box, turned.shape, extra),
                crop=crop,
                face=face,
                enhanced=enhanced,
                faces_on_document=len(faces),
            )
        return None

    def require(self, image: np.ndarray, min_face_px: float) -> Portrait:
        """:meth:`find`, or the precise error a caller shows the customer."""
        portrait = self.find(image)
        if portrait is None:
            raise FaceNotUsable(
                "no face was found on the identity document: photograph the side with the portrait, "
                "flat and fully in the frame",
                code="NO_FACE_IN_DOCUMENT",
                field="id_document",
            )
        if portrait.face.size < min_face_px:
            raise FaceNotUsable(
                "the portrait on the document is too small to compare: photograph the document closer",
                code="FACE_TOO_SMALL",
                field="id_document",
                details={"face_px": round(portrait.face.size), "min_face_px": min_face_px},
            )
        return portrait

    def upright_score(self, image: np.ndarray) -> float:
        """Best HOG face score in ``image`` (-inf when nothing comes near a face)."""
        with self._hog_lock:
            _, scores, _ = self._hog.run(image, 0, -1.0)
        return max(scores, default=-math.inf)

    def _upright_crop(
        self, document: np.ndarray, face: Face
    ) -> tuple[np.ndarray, Face, int, bool] | None:
        x, y, w, h = face.box.expanded(_CROP_MARGIN, document.shape).as_int()
        crop = np.ascontiguousarray(document[y : y + h, x : x + w])
        scale = _TARGET_FACE_PX / max(face.size, 1.0)
        if scale > 1.0:
            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        flat = float(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).std()) < _FLAT_CONTRAST_STD
        attempts = [equalise(crop)] if flat else [crop, equalise(crop)]
        for attempt in attempts:
            candidates = []
            for degrees in ROTATIONS:
                turned = rotate(attempt, degrees)
                found = self.detector.detect(turned)
                if found:
                    # higher HOG score first; among equals (none seen by HOG), the most level eyes
                    key = (self.upright_score(turned), -eye_line_angle(found[0]))
                    candidates.append((key, degrees, turned, found[0]))
            if candidates:
                _, degrees, turned, best = max(candidates, key=lambda c: c[0])
                return turned, best, degrees, attempt is not crop
        return None
