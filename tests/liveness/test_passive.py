"""Single-image liveness on real images: the silent_face attacks and live selfie, real photos."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from liveness.helpers import largest_face, read_rgb

from kycguard.errors import ModelUnavailable
from kycguard.liveness.config import MINIFASNET_ENSEMBLE_SHA256, LivenessSettings
from kycguard.liveness.image_cues import blur_check, print_attack, screen_moire
from kycguard.liveness.passive import PassiveLivenessDetector
from kycguard.liveness.regions import FacePatch
from kycguard.vision.detector import MediaPipeFaceDetector
from kycguard.vision.types import Face

SEED_SIGNALS = ("blur_check", "specular_reflection", "micro_texture", "print_attack")
WEIGHTS = LivenessSettings().passive_weights


@pytest.fixture(scope="module")
def signals_only() -> PassiveLivenessDetector:
    return PassiveLivenessDetector.create_from_options(LivenessSettings())


@pytest.fixture(scope="module")
def with_model(minifasnet_model: Path) -> PassiveLivenessDetector:
    return PassiveLivenessDetector.create_from_options(
        LivenessSettings(minifasnet_path=minifasnet_model)
    )


def test_silent_face_without_model_flags_both_attacks_and_passes_the_person(
    silent_face: dict[str, tuple[np.ndarray, Face]], signals_only: PassiveLivenessDetector
) -> None:
    verdicts = {name: signals_only.assess(*silent_face[name]).to_dict() for name in silent_face}
    # Measured: F1 34.7 and F2 33.5 (both just under the attack threshold 35), T1 100.
    assert verdicts["image_F1"]["verdict"] != "live" and not verdicts["image_F1"]["is_live"]
    assert verdicts["image_F2"]["verdict"] != "live" and not verdicts["image_F2"]["is_live"]
    assert verdicts["image_T1"]["verdict"] == "live"
    assert (
        verdicts["image_T1"]["score"]
        - max(verdicts["image_F1"]["score"], verdicts["image_F2"]["score"])
        > 40
    )
    assert "minifasnet" in verdicts["image_T1"]["inactive_detectors"]
    assert "minifasnet" not in verdicts["image_T1"]["active_detectors"]


def test_silent_face_with_minifasnet_rejects_both_attacks(
    silent_face: dict[str, tuple[np.ndarray, Face]], with_model: PassiveLivenessDetector
) -> None:
    res = {name: with_model.assess(*silent_face[name]).to_dict() for name in silent_face}
    assert res["image_F1"]["verdict"] == "attack"
    assert res["image_F2"]["verdict"] == "attack"
    assert res["image_T1"]["verdict"] == "live"
    p_real = {name: r["signals"]["minifasnet"]["value"] for name, r in res.items()}
    # Upstream's decision rule (P(real) >= 0.5 is real) on its own samples, through our ONNX graph.
    assert p_real["image_T1"] > 0.9 and p_real["image_F1"] < 0.5 and p_real["image_F2"] < 0.1
    assert "minifasnet" in res["image_T1"]["active_detectors"]


def test_result_shape_keeps_the_seed_signal_names(
    silent_face: dict[str, tuple[np.ndarray, Face]], signals_only: PassiveLivenessDetector
) -> None:
    out = signals_only.assess(*silent_face["image_T1"]).to_dict()
    assert set(out) >= {
        "is_live",
        "score",
        "threshold",
        "verdict",
        "signals",
        "active_detectors",
        "inactive_detectors",
    }
    for name in (*SEED_SIGNALS, "screen_moire", "frame_edges"):
        sig = out["signals"][name]
        assert set(sig) >= {"value", "score", "detail", "weight", "active"}
        assert sig["active"] and 0 <= sig["score"] <= 100 and sig["detail"]
    assert 0 <= out["score"] <= 100 and out["threshold"] == LivenessSettings().live_threshold


@pytest.mark.parametrize("detector", ["signals_only", "with_model"])
def test_real_photos_pass(
    fr_test_images: Path,
    astronaut: np.ndarray,
    face_detector: MediaPipeFaceDetector,
    request: pytest.FixtureRequest,
    detector: str,
) -> None:
    """Bona fide photos of other people and cameras (not selfies) are not flagged, with or without
    the model. Measured: every one scores 100 either way (MiniFASNet P(real) 0.97-1.0)."""
    det: PassiveLivenessDetector = request.getfixturevalue(detector)
    images = {
        n: read_rgb(fr_test_images / n)
        for n in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg")
    }
    images["astronaut"] = astronaut
    for name, rgb in images.items():
        out = det.assess(rgb, largest_face(face_detector, rgb)).to_dict()
        assert out["verdict"] == "live", (name, out["score"], out["signals"])


def test_each_cue_reacts_to_its_own_artefact(
    silent_face: dict[str, tuple[np.ndarray, Face]],
) -> None:
    """The live selfie is clean on these cues; the artefact each one claims to measure, added to
    the same selfie, raises exactly that cue (a check of the measurement, not of detection rates)."""
    rgb, face = silent_face["image_T1"]
    patch = FacePatch.of(rgb, face)
    assert print_attack(patch, WEIGHTS).suspicion == 0
    assert blur_check(patch, WEIGHTS).suspicion == 0
    assert screen_moire(rgb, face, WEIGHTS).suspicion == 0

    grey = np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    assert print_attack(FacePatch.of(grey, face), WEIGHTS).suspicion == 1.0  # no gamut at all

    blurred = cv2.GaussianBlur(rgb, (0, 0), 4.0)
    assert blur_check(FacePatch.of(blurred, face), WEIGHTS).suspicion == 1.0

    yy, xx = np.mgrid[: rgb.shape[0], : rgb.shape[1]]
    grating = 12 * np.sin(
        2 * np.pi * (xx / 5.3 + yy / 11.0)
    )  # a display grid beating with the sensor
    moire = np.clip(rgb + grating[..., None], 0, 255).astype(np.uint8)
    sig = screen_moire(moire, face, WEIGHTS)
    assert sig.suspicion == 1.0, sig.detail


def test_small_face_switches_texture_cues_off(
    silent_face: dict[str, tuple[np.ndarray, Face]], signals_only: PassiveLivenessDetector
) -> None:
    rgb, face = silent_face["image_T1"]
    s = 0.25
    small = cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    assert face.landmarks is not None
    shrunk = replace(
        face,
        box=replace(
            face.box,
            x=face.box.x * s,
            y=face.box.y * s,
            width=face.box.width * s,
            height=face.box.height * s,
        ),
        keypoints5=face.keypoints5 * s,
        landmarks=face.landmarks * s,
    )
    out = signals_only.assess(small, shrunk).to_dict()
    for name in ("blur_check", "micro_texture", "screen_moire"):
        assert (
            name in out["inactive_detectors"]
            and "texture cues need" in out["inactive_detectors"][name]
        )
    assert out["signals"]["print_attack"]["active"]


def test_model_with_wrong_hash_is_refused(minifasnet_model: Path) -> None:
    with pytest.raises(ModelUnavailable) as err:
        PassiveLivenessDetector.create_from_options(
            LivenessSettings(minifasnet_path=minifasnet_model, minifasnet_sha256="0" * 64)
        )
    assert err.value.code == "MODEL_HASH_MISMATCH"


def test_missing_model_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable) as err:
        PassiveLivenessDetector.create_from_options(
            LivenessSettings(minifasnet_path=tmp_path / "none.onnx")
        )
    assert err.value.code == "MODEL_FILE_MISSING"


def test_import_is_deterministic_and_matches_the_pin(minifasnet_model: Path) -> None:
    """`kycguard models import` writes the same bytes every time: the settings pin its hash."""
    from kycguard.vision.model_files import sha256_of

    assert sha256_of(minifasnet_model) == MINIFASNET_ENSEMBLE_SHA256
