"""Short instructions for the person in front of the camera, from the frame and the challenge state.

Codes are stable (a client may show its own wording or translate); messages are plain English.
Image problems come first: nobody can blink for a camera that does not see their face.
"""

from __future__ import annotations

from typing import Any

from kycguard.sessions.analysis import FrameAnalysis
from kycguard.settings import QualitySettings

MESSAGES: dict[str, str] = {
    "no_face": "No face found: look at the camera.",
    "one_person": "Only one person may be in view.",
    "move_closer": "Move closer to the camera.",
    "move_back": "Move back a little: the whole face must be in the picture.",
    "centre_face": "Centre your face in the picture.",
    "more_light": "More light, please: your face is too dark.",
    "less_light": "Too bright: avoid direct light on your face.",
    "hold_still": "Hold still: the picture is blurred.",
    "look_straight": "Look straight at the camera with a neutral face.",
    "face_lost": "Keep your face in view.",
    "blink": "Blink.",
    "open_eyes": "Open your eyes again.",
    "blink_shorter": "Close your eyes only briefly.",
    "blink_again": "Blink once more.",
    "turn_left": "Turn your head to your left, then back.",
    "turn_right": "Turn your head to your right, then back.",
    "wrong_direction": "The other way.",
    "face_camera": "Now look back at the camera.",
    "nod": "Nod: chin down, then back up.",
    "smile": "Smile.",
    "open_mouth": "Open your mouth.",
    "hold": "Hold it.",
    "relax_face": "Relax your face first.",
    "done": "All challenges done.",
    "finished": "The challenges are finished: nothing more to do.",
    "failed": "Time ran out too often: this session has failed.",
}


def guidance(frame: FrameAnalysis, hint: str | None, q: QualitySettings) -> list[dict[str, Any]]:
    """Ordered advice: what is wrong with the picture, then what to do for the challenge."""
    codes: list[str] = []
    h, w = frame.image.shape[:2]
    if not frame.faces:
        codes.append("no_face")
    elif frame.face_count > 1:
        codes.append("one_person")
    else:
        face = frame.faces[0]
        if frame.too_small or face.size < q.min_selfie_face_px:
            codes.append("move_closer")
        elif face.box.width > 0.8 * w or face.box.height > 0.9 * h:
            codes.append("move_back")
        cx, cy = face.box.center
        if abs(cx - w / 2) > 0.3 * w or abs(cy - h / 2) > 0.3 * h:
            codes.append("centre_face")
        if frame.brightness is not None and frame.brightness < q.min_brightness:
            codes.append("more_light")
        elif frame.brightness is not None and frame.brightness > q.max_brightness:
            codes.append("less_light")
        if frame.sharpness is not None and frame.sharpness < q.min_blur_score:
            codes.append("hold_still")
    if hint and hint not in codes and not (hint in ("face_lost", "one_person") and codes):
        codes.append(hint)
    return [{"code": c, "message": MESSAGES[c]} for c in codes]
