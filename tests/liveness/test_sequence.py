"""Sequence cues on real clips (ghost_faceswap, Obama, Hamilton) and on real stills replayed flat."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from liveness.conftest import FAKE_CLIPS, REAL_CLIPS

from kycguard.liveness.config import LivenessSettings
from kycguard.liveness.geometry import planar_motion
from kycguard.liveness.injection import frame_timing
from kycguard.liveness.sequence import assess_sequence, rescale, split_tracks
from kycguard.liveness.types import FrameSample, SequenceAssessment
from kycguard.vision.embedder import DlibEmbedder

OPTIONS = LivenessSettings()


def test_every_swap_scores_above_every_real_clip(
    assessments: dict[str, SequenceAssessment],
) -> None:
    fake = {n: assessments[n].deepfake_score for n in FAKE_CLIPS}
    real = {n: assessments[n].deepfake_score for n in REAL_CLIPS}
    assert min(fake.values()) > max(real.values()), (fake, real)
    assert all(assessments[n].deepfake.verdict == "fake" for n in FAKE_CLIPS), fake
    assert all(assessments[n].deepfake.verdict == "real" for n in REAL_CLIPS), real


def test_real_footage_is_live_and_not_planar(assessments: dict[str, SequenceAssessment]) -> None:
    for name in REAL_CLIPS:
        a = assessments[name]
        assert a.liveness.verdict == "live", (name, a.to_dict()["signals"])
        planar = a.liveness.signals["planar_motion"]
        assert planar.active and planar.value is not None and planar.value > 0.6, (
            name,
            planar.detail,
        )


@pytest.mark.parametrize("source", ["T1", "obama"])
def test_photo_swung_as_a_plane_is_flagged_by_geometry(
    replays: dict[str, list[FrameSample]], source: str
) -> None:
    a = assess_sequence(replays[f"flat_{source}"], OPTIONS)
    planar = a.liveness.signals["planar_motion"]
    assert planar.active and planar.value is not None and planar.value < 0.3, planar.detail
    assert a.liveness.verdict == "attack"
    assert a.injection.signals["duplicate_frames"].value == 0  # fresh noise: only geometry can tell


@pytest.mark.parametrize("source", ["T1", "obama"])
def test_photo_held_still_is_flagged_as_static(
    replays: dict[str, list[FrameSample]], source: str
) -> None:
    a = assess_sequence(replays[f"still_{source}"], OPTIONS)
    assert not a.liveness.signals[
        "planar_motion"
    ].active  # nothing moved: the plane test abstains...
    assert (
        a.liveness.signals["static_scene"].suspicion == 1.0
    )  # ...and stillness itself is the tell
    assert a.liveness.verdict == "attack"


@pytest.mark.parametrize("source", ["T1", "obama"])
def test_looped_still_is_flagged_as_attack_and_injection(
    replays: dict[str, list[FrameSample]], source: str
) -> None:
    a = assess_sequence(replays[f"loop_{source}"], OPTIONS)
    assert a.liveness.verdict == "attack"
    assert a.injection.signals["duplicate_frames"].value == 1.0
    assert a.injection.verdict == "injected"


def test_landmark_homography_residual_matches_the_measured_cue(
    assessments: dict[str, SequenceAssessment], replays: dict[str, list[FrameSample]]
) -> None:
    """The pre-project measurement (mesh homography residual / eye distance: flat 0.0087 vs real
    0.0776) holds in direction: every flat replay is below every real clip."""
    flat = [
        planar_motion(
            [replays[f"flat_{s}"]], OPTIONS.min_motion_interocular, OPTIONS.sequence_weights
        ).extra["landmark_homography_residual"]
        for s in ("T1", "obama")
    ]
    real = [
        assessments[n].liveness.signals["planar_motion"].extra["landmark_homography_residual"]
        for n in REAL_CLIPS
    ]
    assert max(flat) < min(real), (flat, real)


def test_scene_cuts_split_the_hamilton_clip(clips: dict[str, list[FrameSample]]) -> None:
    frames = clips["short_hamilton_clip.mp4"]
    tracks = split_tracks(frames, OPTIONS.min_sequence_frames)
    assert len(tracks) >= 2
    for t in tracks:  # no track spans a jump of the face
        for a, b in itertools.pairwise(t):
            assert a.face is not None and b.face is not None and a.face.box.iou(b.face.box) >= 0.3


def test_frame_timing_needs_arrival_times_and_flags_synthetic_clocks(
    clips: dict[str, list[FrameSample]],
) -> None:
    frames = clips["orig.webm"][:30]
    w = OPTIONS.sequence_weights
    assert not frame_timing(frames, w).active  # a file has no arrival times

    rng = np.random.default_rng(1)
    t = np.cumsum(rng.normal(40, 4, len(frames)))  # a camera: ~25 fps with ms jitter
    live = [
        replace(f, timestamp_ms=float(c), received_ms=float(c + 80 + rng.normal(0, 15)))
        for f, c in zip(frames, t, strict=True)
    ]
    assert frame_timing(live, w).suspicion == 0

    regular = [
        replace(f, timestamp_ms=40.0 * i, received_ms=float(c + 80))
        for i, (f, c) in enumerate(zip(frames, t, strict=True))
    ]
    assert frame_timing(regular, w).suspicion == 1.0  # timestamps made up, not captured

    pushed = [
        replace(f, timestamp_ms=float(c), received_ms=float(c / 4))
        for f, c in zip(frames, t, strict=True)
    ]
    assert (
        frame_timing(pushed, w).suspicion == 1.0
    )  # 4x faster than real time: a file pushed through


def test_rescale_keeps_face_and_image_together(clips: dict[str, list[FrameSample]]) -> None:
    frame = clips["obama_short.mp4"][10]
    assert frame.face is not None and frame.face.landmarks is not None
    half = rescale(frame, 320)
    assert half.rgb.shape[1] == 320 and half.face is not None and half.face.landmarks is not None
    assert np.allclose(half.face.landmarks[:, :2], frame.face.landmarks[:, :2] / 2, atol=1e-3)
    assert half.face.box.width == pytest.approx(frame.face.box.width / 2)


def test_identity_drift_runs_with_an_embedder(clips: dict[str, list[FrameSample]]) -> None:
    a = assess_sequence(clips["orig.webm"][:40], OPTIONS, embedder=DlibEmbedder.create())
    drift = a.deepfake.signals["identity_drift"]
    assert (
        drift.active and drift.value is not None and 0 < drift.value < 0.45
    )  # measured 0.21 on orig


def test_no_face_means_uncertain_never_live(clips: dict[str, list[FrameSample]]) -> None:
    faceless = [replace(f, face=None) for f in clips["orig.webm"][:20]]
    out = assess_sequence(faceless, OPTIONS).to_dict()
    assert out["verdicts"] == {"liveness": "uncertain", "deepfake": "unknown", "injection": "clean"}
    assert "planar_motion" in out["inactive_detectors"] and out["segments"] == 0


def test_assessment_dict_shape(assessments: dict[str, SequenceAssessment]) -> None:
    out = assessments["orig.webm"].to_dict()
    assert set(out) >= {
        "liveness_score",
        "deepfake_score",
        "injection_score",
        "verdicts",
        "signals",
    }
    for name in (
        "planar_motion",
        "static_scene",
        "frequency_artifacts",
        "blending_boundary",
        "duplicate_frames",
    ):
        assert set(out["signals"][name]) >= {"value", "score", "detail", "active"}
