"""Per-frame measurements of one face, in the geometry of the person's own neutral frame.

Eye and mouth shapes are measured after mapping the frame's landmarks onto the neutral reference
with the homography that best fits the *rigid* landmarks (forehead, nose, eye corners, temples).
Why: tilting the head or the camera foreshortens the face; a homography undoes most of that, so an
eye squeezed by perspective is not mistaken for a closing eye, while a real blink or smile moves the
eyelids and lips against the rigid points and survives the mapping. (MediaPipe's mesh is not exact
enough to tell a moved photo from a face on its own: ``planar`` checks the pixels for that.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from kycguard.vision.types import Face

# MediaPipe mesh indices that expressions barely move: forehead, nose bridge and tip, nostrils,
# eye corners, temples and the upper face outline. Nose tip and outline lie at different depths,
# which is what makes a real head turn non-planar.
RIGID = (
    10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 2, 98, 327, 129, 358,
    33, 133, 362, 263, 127, 356, 234, 454, 93, 323,
    67, 297, 109, 338, 103, 332, 54, 284, 21, 251,
)  # fmt: skip
# Eyes: outer corner, inner corner, three upper-lid / lower-lid pairs (image-left eye first).
EYE_IMAGE_LEFT = (33, 133, ((160, 144), (159, 145), (158, 153)))
EYE_IMAGE_RIGHT = (263, 362, ((387, 373), (386, 374), (385, 380)))
MOUTH_CORNERS = (61, 291)
INNER_LIPS = ((13, 14), (82, 87), (312, 317))
EYE_CENTRES = ((33, 133), (362, 263))


@dataclass(frozen=True)
class FrameFeatures:
    """What the challenge detectors read from one face. Distances are in eye distances."""

    ear_left: float  # eye aspect ratio (opening / width) of the image-left eye
    ear_right: float
    mouth_width: float  # corner to corner
    mouth_gap: float  # inner lips, mean of three pairs
    yaw: float  # degrees, from MediaPipe's facial transformation matrix; > 0: nose to image right
    pitch: float  # degrees; > 0: chin down
    roll: float
    blink: float  # mean of eyeBlinkLeft/Right blendshapes, 0..1
    blink_min: float  # the less closed eye's blendshape (both eyes must close for a blink)
    smile: float  # mean of mouthSmileLeft/Right
    jaw_open: float
    face_px: float

    @property
    def ear(self) -> float:
        return (self.ear_left + self.ear_right) / 2

    def to_dict(self) -> dict[str, Any]:
        return {k: round(float(v), 4) for k, v in asdict(self).items()}


def rigid_points(face: Face) -> np.ndarray:
    """The rigid landmarks (x, y) of ``face``: what a later frame is mapped onto."""
    if face.landmarks is None:
        raise ValueError("the face has no landmarks (MediaPipe mesh required)")
    return face.landmarks[list(RIGID), :2].astype(np.float64)


def measure(face: Face, reference: np.ndarray | None = None) -> FrameFeatures:
    """Features of ``face``; with a ``reference`` (rigid points of the neutral frame) in its geometry."""
    if face.landmarks is None:
        raise ValueError("the face has no landmarks (MediaPipe mesh required)")
    pts = face.landmarks[:, :2].astype(np.float64)
    if reference is not None:
        homography, _ = cv2.findHomography(pts[list(RIGID)], reference, 0)
        if homography is not None and np.all(np.isfinite(homography)):
            pts = cv2.perspectiveTransform(pts[None], homography)[0]
    eye_dist = _interocular(pts)
    bs = face.blendshapes
    blink_l, blink_r = bs.get("eyeBlinkLeft", 0.0), bs.get("eyeBlinkRight", 0.0)
    pose = face.pose
    return FrameFeatures(
        ear_left=_ear(pts, EYE_IMAGE_LEFT),
        ear_right=_ear(pts, EYE_IMAGE_RIGHT),
        mouth_width=_dist(pts, *MOUTH_CORNERS) / eye_dist,
        mouth_gap=float(np.mean([_dist(pts, a, b) for a, b in INNER_LIPS])) / eye_dist,
        yaw=pose.yaw if pose else 0.0,
        pitch=pose.pitch if pose else 0.0,
        roll=pose.roll if pose else 0.0,
        blink=(blink_l + blink_r) / 2,
        blink_min=min(blink_l, blink_r),
        smile=(bs.get("mouthSmileLeft", 0.0) + bs.get("mouthSmileRight", 0.0)) / 2,
        jaw_open=bs.get("jawOpen", 0.0),
        face_px=face.size,
    )


def _dist(pts: np.ndarray, a: int, b: int) -> float:
    return float(np.linalg.norm(pts[a] - pts[b]))


def _interocular(pts: np.ndarray) -> float:
    (a, b), (c, d) = EYE_CENTRES
    return max(float(np.linalg.norm((pts[a] + pts[b]) / 2 - (pts[c] + pts[d]) / 2)), 1e-6)


def _ear(pts: np.ndarray, eye: tuple[int, int, tuple[tuple[int, int], ...]]) -> float:
    outer, inner, pairs = eye
    width = max(_dist(pts, outer, inner), 1e-6)
    return float(np.mean([_dist(pts, a, b) for a, b in pairs])) / width
