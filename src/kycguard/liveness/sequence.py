"""Liveness, deepfake and injection scores of a frame sequence (a video session).

Frames are split into face tracks first: a track ends where the face is lost, jumps, or the scene
cuts, because every temporal cue assumes one continuous view of one face. Each family's cues are
fused like the single-image ones (:func:`kycguard.liveness.fusion.fused_score`):

- liveness (100 = live): ``planar_motion`` and ``static_scene`` (geometry), ``pulse`` (rPPG),
  when a :class:`PassiveLivenessDetector` is given, ``passive_frames`` (its median over a few frames),
  and the screen-replay cues of :mod:`kycguard.liveness.replay` (flicker, persistent moire, black
  level, bezel edges over the frames; challenge reaction timing when the session's onsets are given);
- deepfake (100 = synthetic): see :mod:`kycguard.liveness.deepfake`;
- injection (100 = injected): see :mod:`kycguard.liveness.injection`.

A liveness verdict of "live" needs at least one geometric cue to have measured something: without
motion evidence the session is "uncertain", never live by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import cv2
import numpy as np

from kycguard.liveness.config import LivenessSettings
from kycguard.liveness.deepfake import (
    blending_boundary,
    blink_pattern,
    frequency_artifacts,
    identity_drift,
    landmark_jitter,
    sample,
)
from kycguard.liveness.fusion import Ramp, fused_score, inverse_score, make_signal
from kycguard.liveness.geometry import planar_motion, static_scene
from kycguard.liveness.injection import duplicate_frames, frame_timing, sensor_noise
from kycguard.liveness.learned import calibrated_score, clip_features, load_model
from kycguard.liveness.replay import REPLAY_CUES, challenge_timing, replay_signals
from kycguard.liveness.rppg import pulse
from kycguard.liveness.types import FamilyScore, FrameSample, SequenceAssessment, Signal
from kycguard.vision.embedder import FaceEmbedder
from kycguard.vision.types import BoundingBox, Face

if TYPE_CHECKING:
    from kycguard.liveness.passive import PassiveLivenessDetector

MIN_TRACK_IOU = 0.3
MAX_SIZE_JUMP = 1.5
CUT_THUMB_DIFF = 40.0  # mean |difference| of 32x32 grey thumbnails that marks a scene cut
IMAGE_CUE_FRAMES = 16
PASSIVE_FRAMES = 5
PASSIVE_RAMP = Ramp(clear=60.0, alarm=20.0)  # median passive liveness score of sampled frames


def rescale(frame: FrameSample, max_side: int) -> FrameSample:
    """Downscale a frame and its face coordinates together (cues are tuned at <= 640 px)."""
    h, w = frame.rgb.shape[:2]
    s = max_side / max(h, w)
    if s >= 1:
        return frame
    rgb = cv2.resize(frame.rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    face = frame.face
    if face is not None:
        marks = None
        if face.landmarks is not None:
            marks = face.landmarks * np.array([s, s, s], np.float32)
        b = face.box
        face = replace(
            face,
            box=BoundingBox(b.x * s, b.y * s, b.width * s, b.height * s),
            keypoints5=face.keypoints5 * s,
            landmarks=marks,
        )
    return replace(frame, rgb=rgb, face=face)


def _thumb(rgb: np.ndarray) -> np.ndarray:
    return cv2.resize(
        cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (32, 32), interpolation=cv2.INTER_AREA
    ).astype(np.float32)


def _continues(prev: Face, face: Face) -> bool:
    ratio = face.size / max(prev.size, 1e-6)
    return face.box.iou(prev.box) >= MIN_TRACK_IOU and 1 / MAX_SIZE_JUMP <= ratio <= MAX_SIZE_JUMP


def split_tracks(frames: Sequence[FrameSample], min_frames: int) -> list[list[FrameSample]]:
    """Runs of frames showing one continuous face (landmarks present), at least ``min_frames`` long."""
    tracks: list[list[FrameSample]] = []
    current: list[FrameSample] = []
    prev_thumb: np.ndarray | None = None
    for f in frames:
        thumb = _thumb(f.rgb)
        cut = prev_thumb is not None and float(np.mean(np.abs(thumb - prev_thumb))) > CUT_THUMB_DIFF
        prev_thumb = thumb
        usable = f.face is not None and f.face.landmarks is not None
        if current and (not usable or cut or not _continues(current[-1].face, f.face)):  # type: ignore[arg-type]
            tracks.append(current)
            current = []
        if usable:
            current.append(f)
    if current:
        tracks.append(current)
    return [t for t in tracks if len(t) >= min_frames]


def _passive_frames(
    tracks: Sequence[Sequence[FrameSample]],
    passive: PassiveLivenessDetector | None,
    options: LivenessSettings,
) -> Signal:
    w = options.sequence_weights
    if passive is None:
        return Signal.inactive(
            "passive_frames", "liveness", w["passive_frames"], "no passive detector given"
        )
    frames = sample([f for t in tracks for f in t], PASSIVE_FRAMES)
    scores = [passive.assess(f.rgb, f.face).score for f in frames if f.face is not None]
    model = passive.learned
    return make_signal(
        "passive_frames", "liveness", float(np.median(scores)), PASSIVE_RAMP, w,
        "median single-image liveness score of sampled frames", frames=len(scores),
        fusion="learned_pad" if model is not None else "weighted_cues",
        pad_model=model.describe() if model is not None else None,
    )  # fmt: skip


def _picked(tracks: Sequence[Sequence[FrameSample]]) -> list[FrameSample]:
    """The frames the image-based cues look at: about IMAGE_CUE_FRAMES spread over the tracks."""
    return [f for t in tracks for f in sample(t, max(2, IMAGE_CUE_FRAMES // len(tracks)))]


def deepfake_features(
    frames: Sequence[FrameSample], options: LivenessSettings
) -> dict[str, float] | None:
    """The learned clip model's inputs, exactly as :func:`assess_sequence` computes them (training
    uses this); None when no face track is long enough."""
    scaled = [rescale(f, options.sequence_max_side_px) for f in frames]
    tracks = split_tracks(scaled, options.min_sequence_frames)
    if not tracks:
        return None
    w = options.sequence_weights
    picked = _picked(tracks)
    cues = {
        "frequency_artifacts": frequency_artifacts(picked, w),
        "blending_boundary": blending_boundary(picked, w),
        "landmark_jitter": landmark_jitter(tracks, w),
    }
    return clip_features(picked, cues)


def _learned_deepfake(
    picked: Sequence[FrameSample], fake: dict[str, Signal], options: LivenessSettings
) -> tuple[Signal, float]:
    """The trained clip model's P(fake) and the deepfake score it sets (its threshold lands on
    ``deepfake_threshold``); the hand-made deepfake cues stay in the answer as its inputs."""
    assert options.deepfake_model_path is not None
    model = load_model(options.deepfake_model_path, options.deepfake_model_sha256, "deepfake")
    features = clip_features(picked, fake)
    p = model.probability(features)
    signal = Signal(
        name="learned_deepfake",
        family="deepfake",
        value=p,
        suspicion=p,
        weight=0.0,  # not fused: when present it *is* the deepfake score
        detail=(
            f"trained clip model P(fake) = {p:.3f} over {len(picked)} sampled frames, operating "
            f"threshold {model.threshold:.3f} (mapped to the deepfake threshold "
            f"{options.deepfake_threshold:g}); the other deepfake cues are its inputs"
        ),
        extra={"model": model.describe(), "top_features": model.contributions(features)},
    )
    return signal, calibrated_score(p, model.threshold, options.deepfake_threshold, liveness=False)


def _family(signals: dict[str, Signal], score: float, verdict: str) -> FamilyScore:
    return FamilyScore(score=score, verdict=verdict, signals=signals)


def assess_sequence(
    frames: Sequence[FrameSample],
    options: LivenessSettings,
    *,
    embedder: FaceEmbedder | None = None,
    passive: PassiveLivenessDetector | None = None,
    onsets_s: Sequence[float] | None = None,
) -> SequenceAssessment:
    """Score a session's frames. ``embedder`` enables identity drift, ``passive`` per-frame PAD,
    ``onsets_s`` (seconds from each challenge's prompt to its first clear progress) the
    challenge-timing cue."""
    w = options.sequence_weights
    scaled = [rescale(f, options.sequence_max_side_px) for f in frames]
    tracks = split_tracks(scaled, options.min_sequence_frames)
    with_face = sum(f.face is not None for f in scaled)

    if tracks:
        live = {
            "planar_motion": planar_motion(tracks, options.min_motion_interocular, w),
            "static_scene": static_scene(tracks, w),
            "pulse": pulse(tracks, w),
            "passive_frames": _passive_frames(tracks, passive, options),
            **replay_signals(tracks, onsets_s, w),
        }
        picked = _picked(tracks)
        fake = {
            "frequency_artifacts": frequency_artifacts(picked, w),
            "blending_boundary": blending_boundary(picked, w),
            "landmark_jitter": landmark_jitter(tracks, w),
            "identity_drift": identity_drift(tracks, embedder, options.embedding_frames, w),
            "blink_pattern": blink_pattern(tracks, w),
        }
    else:
        reason = f"no face track of {options.min_sequence_frames} frames"
        live = {
            n: Signal.inactive(n, "liveness", w[n], reason)
            for n in ("planar_motion", "static_scene", "pulse", "passive_frames", *REPLAY_CUES)
        }
        live["challenge_timing"] = challenge_timing(onsets_s, w)
        fake = {
            n: Signal.inactive(n, "deepfake", w[n], reason)
            for n in (
                "frequency_artifacts",
                "blending_boundary",
                "landmark_jitter",
                "identity_drift",
                "blink_pattern",
            )
        }
    inject = {
        "duplicate_frames": duplicate_frames(scaled, w),
        "frame_timing": frame_timing(scaled, w),
        "sensor_noise": sensor_noise(scaled, w)
        if scaled
        else Signal.inactive("sensor_noise", "injection", w["sensor_noise"], "no frames"),
    }

    live_score = fused_score(live.values())
    geometric = any(live[n].active for n in ("planar_motion", "static_scene"))
    if live_score < options.attack_threshold:
        live_verdict = "attack"
    elif live_score >= options.live_threshold and geometric:
        live_verdict = "live"
    else:
        live_verdict = "uncertain"
    fake_score = inverse_score(fake.values())
    if options.deepfake_model_path is not None and tracks:
        fake["learned_deepfake"], fake_score = _learned_deepfake(picked, fake, options)
    fake_verdict = (
        "unknown"
        if not any(s.active for s in fake.values())
        else "fake"
        if fake_score >= options.deepfake_threshold
        else "real"
    )
    inject_score = inverse_score(inject.values())
    inject_verdict = "injected" if inject_score >= options.injection_threshold else "clean"
    return SequenceAssessment(
        liveness=_family(live, live_score, live_verdict),
        deepfake=_family(fake, fake_score, fake_verdict),
        injection=_family(inject, inject_score, inject_verdict),
        frames_used=len(scaled),
        frames_with_face=with_face,
        segments=len(tracks),
    )
