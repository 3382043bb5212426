"""Image quality of the face region: blur, exposure, face size, pose.

Measured on the face, not the whole picture: a sharp background behind a blurred face is a blurred
selfie. Each check returns its raw value, a 0-100 score and whether it passed, so a reviewer sees why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from kycguard.settings import QualitySettings
from kycguard.vision.types import Face

_NORMALISED_WIDTH = (
    160  # blur is measured on the face crop resized to this width (scale-independent)
)


@dataclass(frozen=True)
class QualityCheck:
    name: str
    value: float
    passed: bool
    score: float  # 0-100
    detail: str


@dataclass(frozen=True)
class QualityReport:
    face_count: int
    checks: tuple[QualityCheck, ...]

    @property
    def score(self) -> float:
        return round(min(c.score for c in self.checks), 1) if self.checks else 0.0

    def check(self, name: str) -> QualityCheck | None:
        return next((c for c in self.checks if c.name == name), None)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"face_count": self.face_count, "score": self.score}
        for c in self.checks:
            item = asdict(c)
            item.pop("name")
            item["value"] = round(c.value, 2)
            item["score"] = round(c.score, 1)
            out[c.name] = item
        return out


def _ramp(value: float, bad: float, good: float) -> float:
    """0 at ``bad``, 100 at ``good``, linear between (either direction)."""
    if good == bad:
        return 100.0 if value >= good else 0.0
    return float(np.clip((value - bad) / (good - bad), 0.0, 1.0) * 100.0)


def face_crop(image: np.ndarray, face: Face, margin: float = 0.0) -> np.ndarray:
    x, y, w, h = face.box.expanded(margin, image.shape).as_int()
    return image[y : y + h, x : x + w]


def blur_score(gray_face: np.ndarray) -> float:
    """Variance of the Laplacian on the face resized to a fixed width: high for sharp detail."""
    h, w = gray_face.shape[:2]
    if w < 2 or h < 2:
        return 0.0
    resized = cv2.resize(
        gray_face,
        (_NORMALISED_WIDTH, max(2, round(h * _NORMALISED_WIDTH / w))),
        interpolation=cv2.INTER_AREA,
    )
    return float(cv2.Laplacian(resized, cv2.CV_64F).var())


def assess(
    image: np.ndarray, face: Face, face_count: int, settings: QualitySettings, *, document: bool
) -> QualityReport:
    """Quality of one face in its image. ``document`` relaxes size and pose for printed portraits."""
    gray = cv2.cvtColor(face_crop(image, face), cv2.COLOR_RGB2GRAY)
    blur = blur_score(gray)
    brightness = float(gray.mean()) if gray.size else 0.0
    clipped = float(np.mean((gray <= 5) | (gray >= 250))) if gray.size else 1.0
    size = face.size

    checks = [
        QualityCheck(
            "blur",
            blur,
            blur >= settings.min_blur_score,
            _ramp(blur, settings.min_blur_score * 0.5, settings.min_blur_score * 2),
            "sharp"
            if blur >= settings.min_blur_score
            else "the face is blurred: hold still, clean the lens",
        ),
        _exposure(brightness, clipped, settings),
    ]
    min_px = settings.min_document_face_px if document else settings.min_selfie_face_px
    good_px = min_px * 2 if document else settings.good_selfie_face_px
    checks.append(
        QualityCheck(
            "face_size",
            size,
            size >= min_px,
            _ramp(size, min_px * 0.75, good_px),
            f"face is {size:.0f} px wide (minimum {min_px})"
            + ("" if size >= min_px else ": move closer"),
        )
    )
    if face.pose is not None and not document:
        turn = max(
            abs(face.pose.yaw) / settings.max_abs_yaw_deg,
            abs(face.pose.pitch) / settings.max_abs_pitch_deg,
        )
        checks.append(
            QualityCheck(
                "pose",
                round(max(abs(face.pose.yaw), abs(face.pose.pitch)), 1),
                turn <= 1.0,
                _ramp(-turn, -1.5, -0.5),
                f"yaw {face.pose.yaw:.0f}°, pitch {face.pose.pitch:.0f}°"
                + ("" if turn <= 1.0 else ": look straight at the camera"),
            )
        )
    return QualityReport(face_count=face_count, checks=tuple(checks))


def _exposure(brightness: float, clipped: float, s: QualitySettings) -> QualityCheck:
    if brightness < s.min_brightness:
        detail, ok = "too dark: find more light", False
    elif brightness > s.max_brightness:
        detail, ok = "overexposed: avoid direct light on the face", False
    elif clipped > s.max_clipped_fraction:
        detail, ok = "parts of the face are clipped to black or white (glare or shadow)", False
    else:
        detail, ok = "well exposed", True
    margin = min(
        brightness - s.min_brightness * 0.6,
        s.max_brightness + (255 - s.max_brightness) * 0.4 - brightness,
    )
    score = min(
        _ramp(margin, 0, 30),
        _ramp(-clipped, -s.max_clipped_fraction * 1.5, -s.max_clipped_fraction * 0.5),
    )
    return QualityCheck("exposure", brightness, ok, score, detail)
