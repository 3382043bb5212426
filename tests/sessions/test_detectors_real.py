"""Each challenge detector on real footage, with the frames found by looking at them.

Frames were exported as PNGs and inspected by eye (face crops, eye crops at full resolution). The
clips are natural speech and song, not KYC sessions, so each case runs ONE challenge over a stretch
of frames chosen to start with a steady face (the neutral baseline is the first 5 steady frames of
the stretch; the stretch start is written down). Frame numbers are 0-based decode order (OpenCV).

What the eye sees:
- obama_short.mp4 (29.97 fps): blinks with both eyes shut at 19-22, 51-55, 88-92, 123-126, 156-157,
  168-171, 189-192 (open at 16-18, 23, 50, 56-58, 87, 93-94, 122, 127, 153, 166, 173, 188, 193-194);
  a smile with raised corners and teeth at 54-66; head turned to HIS LEFT (nose towards the image's
  right) from 127 to 153, back facing the camera by 167; pitch stays within 4-10 degrees (no nod);
  mouth opens only for speech.
- short_hamilton_clip.mp4 (29.97 fps): the singer's face is usable from 82 to 210 (a small face,
  64-93 px in the 640-px frame); wide-open mouth while singing at 111-114 (closed again at 115); head
  turned to HIS RIGHT (nose towards the image's left) at 128-136, back by 138-140; a dip of the head,
  chin down, at 166-172 and back up by 178; a second turn to his right at 200-210 that the cut at 211
  interrupts before he turns back; no blink in 82-210.
- orig.webm (25 fps): a singer swaying with a steady head and no blink, smile or head turn.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sessions.helpers import Clip, run_challenge

from kycguard.sessions.analysis import FrameAnalysis
from kycguard.sessions.config import Challenge
from kycguard.settings import Settings

# (clip, first frame, last frame fed, challenge, baseline frame, frame the challenge completes at)
COMPLETES = [
    ("obama", 0, 60, Challenge.BLINK, 4, 23),  # shut 19-22, open again at 23
    ("obama", 24, 90, Challenge.BLINK, 32, 57),  # shut 51-55 (while starting to smile)
    ("obama", 78, 100, Challenge.BLINK, 82, 94),  # shut 88-92
    ("obama", 110, 140, Challenge.BLINK, 114, 127),  # shut 123-126 as the head starts turning
    ("obama", 160, 180, Challenge.BLINK, 164, 173),  # shut 168-171
    ("obama", 178, 208, Challenge.BLINK, 182, 196),  # shut 189-192
    ("obama", 0, 90, Challenge.SMILE, 4, 58),  # smiling from 52, held 200 ms
    ("obama", 60, 208, Challenge.TURN_LEFT, 64, 164),  # +21 deg yaw at 127-153, back at 164
    ("hamilton", 97, 150, Challenge.TURN_RIGHT, 105, 138),  # -17 deg from neutral at 132, back 138
    ("hamilton", 155, 200, Challenge.NOD, 159, 178),  # chin down 166-172 (+18 deg), up at 178
    ("hamilton", 98, 130, Challenge.OPEN_MOUTH, 105, 114),  # open 111-114, held 100 ms
]

# (clip, first frame, last frame fed, challenge, why it must not complete)
NEVER = [
    ("orig", 0, 66, Challenge.BLINK, "no blink in the clip"),
    ("hamilton", 82, 211, Challenge.BLINK, "no blink while the singer's face is visible"),
    ("obama", 0, 208, Challenge.NOD, "pitch stays within 4-10 degrees"),
    ("orig", 0, 66, Challenge.NOD, "steady head"),
    ("hamilton", 97, 150, Challenge.TURN_LEFT, "he turns to his right, not his left"),
    (
        "hamilton",
        180,
        211,
        Challenge.TURN_RIGHT,
        "turned at 200-210, the cut comes before he turns back",
    ),
    ("orig", 0, 66, Challenge.TURN_LEFT, "steady head"),
    ("orig", 0, 66, Challenge.TURN_RIGHT, "steady head"),
    ("obama", 0, 208, Challenge.OPEN_MOUTH, "speech opens the mouth a little, never wide"),
    (
        "hamilton",
        82,
        211,
        Challenge.SMILE,
        "brief smile-like mouth shapes in song (143-145, 176) are not held",
    ),
    ("orig", 0, 66, Challenge.SMILE, "no smile"),
]


@pytest.mark.evaldata
@pytest.mark.parametrize(
    ("name", "start", "stop", "challenge", "baseline", "done"),
    COMPLETES,
    ids=[f"{c[3].value}-{c[0]}-{c[1]}" for c in COMPLETES],
)
def test_detector_completes_where_the_action_is(
    analysed: Callable[[str], list[FrameAnalysis]],
    clip: Callable[[str], Clip],
    settings: Settings,
    name: str,
    start: int,
    stop: int,
    challenge: Challenge,
    baseline: int,
    done: int,
) -> None:
    run = run_challenge(
        analysed(name)[:stop], challenge, settings.sessions, fps=clip(name).fps, start=start
    )
    assert run.baseline_frame == baseline, run
    assert run.completed_frame == done, run
    # the reaction onset (first frame at 25 % progress) is recorded, never after the completion
    assert 0 <= run.result["onset_s"] <= run.result["seconds"], run.result
    if challenge in (Challenge.SMILE, Challenge.TURN_LEFT):  # gradual: progress builds up first
        assert run.result["onset_s"] < run.result["seconds"], run.result
    evidence = run.result["evidence"]
    # every completion was confirmed by the pixel check: no plane explains the change
    assert run.pixel_checks >= 1
    limit = {
        Challenge.BLINK: settings.sessions.detectors.planar_max_ncc_eyes,
        Challenge.SMILE: settings.sessions.detectors.planar_max_ncc_mouth,
        Challenge.OPEN_MOUTH: settings.sessions.detectors.planar_max_ncc_mouth,
    }.get(challenge, settings.sessions.detectors.planar_max_ncc_face)
    assert evidence["plane_ncc"] < limit
    if challenge is Challenge.BLINK:
        d = settings.sessions.detectors
        assert d.blink_min_ms <= evidence["closed_ms"] <= d.blink_max_ms


@pytest.mark.evaldata
@pytest.mark.parametrize(
    ("name", "start", "stop", "challenge", "why"),
    NEVER,
    ids=[f"{c[3].value}-{c[0]}-{c[1]}" for c in NEVER],
)
def test_detector_stays_silent_without_the_action(
    analysed: Callable[[str], list[FrameAnalysis]],
    clip: Callable[[str], Clip],
    settings: Settings,
    name: str,
    start: int,
    stop: int,
    challenge: Challenge,
    why: str,
) -> None:
    run = run_challenge(
        analysed(name)[:stop], challenge, settings.sessions, fps=clip(name).fps, start=start
    )
    assert run.baseline_frame is not None, (
        "the stretch must give a neutral baseline to test anything"
    )
    assert not run.completed, f"{challenge.value} completed at {run.completed_frame}: {why}"


@pytest.mark.evaldata
def test_a_blink_before_the_challenge_is_issued_does_not_count(
    analysed: Callable[[str], list[FrameAnalysis]], clip: Callable[[str], Clip], settings: Settings
) -> None:
    """From frame 14 the eyes start closing at 18: no steady neutral window exists until 28-32, so
    the 19-22 blink happens before the challenge is issued and must not count; the next one does."""
    run = run_challenge(
        analysed("obama")[:90], Challenge.BLINK, settings.sessions, fps=clip("obama").fps, start=14
    )
    assert run.baseline_frame == 32
    assert run.completed_frame == 57
