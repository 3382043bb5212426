"""A still photo held in front of the camera never completes a challenge.

Two attacks on real photos: the same image repeated (a frozen picture), and the same image moved as
a flat print moves: turned and tilted up to 40 degrees in every combination, circled, zoomed and
shifted (exact plane homographies, JPEG-compressed like camera frames; see ``warps.py``).

MediaPipe alone is fooled by the moved photo (the control test shows a challenge completing when the
pixel check is switched off), so these tests exercise the pixel check, not just thresholds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sessions.helpers import run_challenge
from sessions.warps import warped_frames

from kycguard.services.runtime import Vision
from kycguard.sessions.analysis import FrameAnalysis, analyse_image
from kycguard.sessions.config import Challenge
from kycguard.settings import Settings
from kycguard.vision.image_io import decode_image

Attack = tuple[list[str], list[FrameAnalysis]]
STILLS = ("astronaut", "lin_manuel_miranda", "rose_leslie")


@pytest.fixture(scope="module")
def photos(astronaut: np.ndarray, eval_data: Path) -> dict[str, np.ndarray]:
    people = eval_data / "faces/face_recognition_examples/by_identity"

    def read(path: Path) -> np.ndarray:
        return decode_image(
            path.read_bytes(), field=path.name, max_bytes=1 << 26, max_pixels=1 << 26
        )

    return {
        "astronaut": astronaut,
        "lin_manuel_miranda": read(people / "lin_manuel_miranda/lin-manuel-miranda.png"),
        "rose_leslie": read(people / "rose_leslie/img1.jpg"),
    }


@pytest.fixture(scope="module")
def moved(
    photos: dict[str, np.ndarray], vision: Vision, settings: Settings
) -> Callable[[str], Attack]:
    cache: dict[str, Attack] = {}

    def get(name: str) -> Attack:
        if name not in cache:
            labels, analyses = [], []
            for label, frame in warped_frames(photos[name]):
                labels.append(label)
                analyses.append(analyse_image(frame, vision.detector, settings))
            cache[name] = (labels, analyses)
        return cache[name]

    return get


@pytest.mark.evaldata
@pytest.mark.parametrize("name", STILLS)
def test_a_repeated_still_never_completes_anything(
    photos: dict[str, np.ndarray], vision: Vision, settings: Settings, name: str
) -> None:
    from sessions.warps import held_photo

    frame = analyse_image(held_photo(photos[name]), vision.detector, settings)
    assert frame.face is not None
    for challenge in Challenge:
        run = run_challenge([frame] * 90, challenge, settings.sessions, fps=30.0)
        assert run.baseline_frame == settings.sessions.baseline.frames - 1
        assert not run.completed, challenge
        assert run.pixel_checks == 0, "a frozen picture never even looks like the action"


@pytest.mark.evaldata
@pytest.mark.parametrize("challenge", list(Challenge), ids=[c.value for c in Challenge])
@pytest.mark.parametrize("name", STILLS)
def test_a_moved_photo_never_completes_a_challenge(
    moved: Callable[[str], Attack], settings: Settings, name: str, challenge: Challenge
) -> None:
    labels, analyses = moved(name)
    assert sum(a.face is not None for a in analyses) > 100, "the attack must show a face to test"
    run = run_challenge(analyses, challenge, settings.sessions, fps=30.0, labels=labels)
    assert run.baseline_frame is not None
    assert not run.completed, f"{challenge.value} completed by a moved photo at {run.labels}"


@pytest.mark.evaldata
def test_landmarks_alone_are_fooled_by_a_moved_photo(
    moved: Callable[[str], Attack], settings: Settings
) -> None:
    """The control: without the pixel check, MediaPipe's pose and expressions let the moved photos
    complete head-movement challenges (measured: astronaut turn_right, Lin-Manuel Miranda nod)."""
    fooled = []
    for name in STILLS:
        labels, analyses = moved(name)
        for challenge in Challenge:
            run = run_challenge(
                analyses, challenge, settings.sessions, fps=30.0, labels=labels, pixel_check=False
            )
            if run.completed:
                fooled.append((name, challenge.value, run.labels[0]))
    assert ("astronaut", "turn_right") in {(n, c) for n, c, _ in fooled}, fooled
    assert ("lin_manuel_miranda", "nod") in {(n, c) for n, c, _ in fooled}, fooled
