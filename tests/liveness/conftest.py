"""Fixtures of the liveness tests: real inputs decoded, tracked and scored once per session.

Clips are decoded and tracked once (about 15 s for the six of them), single-image faces detected
once, MiniFASNet converted once (needs torch, the optional extra; CI installs it).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from liveness.helpers import largest_face, read_rgb
from support.env import missing

from kycguard.liveness.config import LivenessSettings
from kycguard.liveness.sequence import assess_sequence
from kycguard.liveness.simulate import flat_replay, static_replay
from kycguard.liveness.types import FrameSample, SequenceAssessment
from kycguard.liveness.video import load_clip, track_faces
from kycguard.vision.detector import MediaPipeDetectorOptions, MediaPipeFaceDetector
from kycguard.vision.image_io import downscale
from kycguard.vision.types import Face

GHOST_CLIPS = ("orig.webm", "elon.webm", "khabenskii.webm", "mark.webm", "obama_short.mp4")
REAL_CLIPS = ("orig.webm", "obama_short.mp4", "short_hamilton_clip.mp4")
FAKE_CLIPS = ("elon.webm", "khabenskii.webm", "mark.webm")


@pytest.fixture(scope="session")
def face_detector() -> Iterator[MediaPipeFaceDetector]:
    det = MediaPipeFaceDetector.create_from_options(MediaPipeDetectorOptions(search="pyramid"))
    yield det
    det.close()


@pytest.fixture(scope="session")
def silent_face(
    eval_data: Path, face_detector: MediaPipeFaceDetector
) -> dict[str, tuple[np.ndarray, Face]]:
    """image_F1 (print), image_F2 (tablet replay), image_T1 (live): RGB and largest face."""
    out = {}
    for name in ("image_F1", "image_F2", "image_T1"):
        rgb = read_rgb(eval_data / "pad" / "silent_face" / "images" / f"{name}.jpg")
        out[name] = (rgb, largest_face(face_detector, rgb))
    return out


@pytest.fixture(scope="session")
def minifasnet_model(eval_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The upstream weights converted by `kycguard models import` (torch: the optional extra)."""
    if importlib.util.find_spec("torch") is None:
        missing("torch is not installed (pip install torch==2.13.0, the 'models' extra)")
    from kycguard.cli import main

    out = tmp_path_factory.mktemp("models")
    weights = sorted((eval_data / "pad" / "silent_face" / "models").glob("*.pth"))
    assert len(weights) == 2
    assert main(["models", "import", *map(str, weights), "--out", str(out)]) == 0
    return out / "minifasnet.onnx"


@pytest.fixture(scope="session")
def clip_paths(eval_data: Path) -> dict[str, Path]:
    ghost = eval_data / "deepfake" / "ghost_faceswap" / "videos"
    paths = {name: ghost / name for name in GHOST_CLIPS}
    paths["short_hamilton_clip.mp4"] = (
        eval_data / "faces" / "face_recognition_examples" / "video" / "short_hamilton_clip.mp4"
    )
    return paths


@pytest.fixture(scope="session")
def clips(clip_paths: dict[str, Path]) -> dict[str, list[FrameSample]]:
    """Every clip decoded at <= 640 px and its face tracked (MediaPipe VIDEO mode)."""
    return {name: load_clip(path, max_side=640) for name, path in clip_paths.items()}


@pytest.fixture(scope="session")
def assessments(clips: dict[str, list[FrameSample]]) -> dict[str, SequenceAssessment]:
    options = LivenessSettings()
    return {name: assess_sequence(frames, options) for name, frames in clips.items()}


@pytest.fixture(scope="session")
def replays(
    silent_face: dict[str, tuple[np.ndarray, Face]], clips: dict[str, list[FrameSample]]
) -> dict[str, list[FrameSample]]:
    """Real stills replayed as a flat object: swung as a plane (perspective-warped, fresh noise per
    frame), held still (noise only) and looped byte-identical. Sources: the live silent_face selfie
    and a frame of the Obama interview."""
    stills = {
        "T1": downscale(silent_face["image_T1"][0], 640),
        "obama": clips["obama_short.mp4"][60].rgb,
    }
    out = {}
    for name, still in stills.items():
        variants = {
            "flat": flat_replay(still, 40),
            "still": flat_replay(still, 40, yaw_amplitude=0, pitch_amplitude=0, shift_px=0),
            "loop": static_replay(still, 40),
        }
        for kind, images in variants.items():
            out[f"{kind}_{name}"] = track_faces([(im, i * 40.0) for i, im in enumerate(images)])
    return out
