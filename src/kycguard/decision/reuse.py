"""Is the selfie the document's own picture? Two tests on pixels, no model.

1. The same picture: the whole selfie and the whole document image have (nearly) the same perceptual
   hash (64-bit DCT hash of a 32x32 grey thumbnail: robust to resizing, re-encoding and small edits).
2. The portrait re-cropped: the two faces, aligned on the eyes into the same 96x96 grey chip, have
   nearly the same perceptual hash *and* correlate pixel for pixel. Two different photos of one person
   (what a genuine selfie and its ID portrait are) differ in pose, light and expression, so their
   chips do not; a crop of the same photo, however rescaled or recompressed, does.

``kycguard bench reuse`` measures both on genuine same-person pairs and on simulated reuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from kycguard.decision.config import EvidenceSettings
from kycguard.decision.findings import Finding, Severity
from kycguard.vision.types import (
    MP_LEFT_EYE_INNER,
    MP_LEFT_EYE_OUTER,
    MP_RIGHT_EYE_INNER,
    MP_RIGHT_EYE_OUTER,
    Face,
)

CHIP = 96
_EYES_AT = np.array([[0.32 * CHIP, 0.38 * CHIP], [0.68 * CHIP, 0.38 * CHIP]])


@dataclass(frozen=True)
class ReuseCheck:
    image_hash_distance: int  # bits of 64 between the whole pictures' hashes
    face_hash_distance: int  # bits of 64 between the aligned faces' hashes
    face_correlation: float  # Pearson correlation of the aligned face chips' pixels
    same_picture: bool
    recropped_portrait: bool

    @property
    def reused(self) -> bool:
        return self.same_picture or self.recropped_portrait

    def to_dict(self) -> dict[str, Any]:
        return {
            "image_hash_distance": self.image_hash_distance,
            "face_hash_distance": self.face_hash_distance,
            "face_correlation": round(self.face_correlation, 3),
            "reused": self.reused,
        }


def phash(gray: np.ndarray) -> np.ndarray:
    """64-bit DCT perceptual hash (the 8x8 lowest frequencies but DC, against their median)."""
    small = cv2.resize(gray.astype(np.float32), (32, 32), interpolation=cv2.INTER_AREA)
    low = np.asarray(cv2.dct(small)[:8, :8], dtype=np.float64).ravel()[1:]
    return np.append(low > float(np.median(low)), False)


def hamming(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.count_nonzero(a != b))


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb


def face_chip(image_rgb: np.ndarray, face: Face) -> np.ndarray:
    """The face aligned on its eye centres (or its box without landmarks), grey, 96x96, float32."""
    gray = _gray(image_rgb)
    if face.landmarks is not None:
        lm = face.landmarks[:, :2]
        eyes = np.array(
            [
                (lm[MP_RIGHT_EYE_OUTER] + lm[MP_RIGHT_EYE_INNER]) / 2,  # the image's left eye
                (lm[MP_LEFT_EYE_OUTER] + lm[MP_LEFT_EYE_INNER]) / 2,
            ],
            dtype=np.float32,
        )
        matrix, _ = cv2.estimateAffinePartial2D(eyes, _EYES_AT.astype(np.float32))
    else:
        matrix = None
    if matrix is None:
        b = face.box
        src = np.array([[b.x, b.y], [b.x + b.width, b.y], [b.x, b.y + b.height]], np.float32)
        dst = np.array([[0, 0], [CHIP, 0], [0, CHIP]], np.float32)
        matrix = cv2.getAffineTransform(src, dst)
    chip = cv2.warpAffine(
        gray, matrix, (CHIP, CHIP), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )
    return cv2.GaussianBlur(chip.astype(np.float32), (0, 0), 1.0)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 0 else 0.0


def check_reuse(
    selfie_rgb: np.ndarray,
    selfie_face: Face,
    document_rgb: np.ndarray,
    portrait_rgb: np.ndarray,
    portrait_face: Face,
    settings: EvidenceSettings,
) -> ReuseCheck:
    """``portrait_face`` is in ``portrait_rgb`` coordinates (the document's portrait crop)."""
    image_distance = hamming(phash(_gray(selfie_rgb)), phash(_gray(document_rgb)))
    a, b = face_chip(selfie_rgb, selfie_face), face_chip(portrait_rgb, portrait_face)
    face_distance = hamming(phash(a), phash(b))
    corr = correlation(a, b)
    return ReuseCheck(
        image_hash_distance=image_distance,
        face_hash_distance=face_distance,
        face_correlation=corr,
        same_picture=image_distance <= settings.reuse_image_hash_distance,
        recropped_portrait=face_distance <= settings.reuse_face_hash_distance
        and corr >= settings.reuse_face_correlation,
    )


def reuse_findings(check: ReuseCheck) -> list[Finding]:
    if check.same_picture:
        what = f"the selfie and the document are the same picture (hash distance {check.image_hash_distance}/64)"
    elif check.recropped_portrait:
        what = (
            "the selfie face is the document portrait cut out again (aligned faces: hash distance "
            f"{check.face_hash_distance}/64, pixel correlation {check.face_correlation:.3f})"
        )
    else:
        return []
    return [Finding("SELFIE_REUSED_FROM_DOCUMENT", what, Severity.REJECT)]
