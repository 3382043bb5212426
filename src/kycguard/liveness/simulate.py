"""Simulated flat replays of a real photo, for the geometry cues' tests and benchmark.

A print or a tablet is a plane. Moving a plane in front of a camera moves its image by a homography,
so warping a real photo by the homographies of a plane turning in front of a pinhole camera is the
exact geometry of a handheld print attack. It is NOT evidence for photometric cues (no paper texture,
no screen glow, no print gamut): benchmarks label these samples ``simulated``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def plane_homography(
    shape: tuple[int, ...], yaw_deg: float, pitch_deg: float, shift: tuple[float, float] = (0, 0)
) -> np.ndarray:
    """Homography of the image plane turned by yaw/pitch about its centre, seen by a camera with a
    focal length equal to the image width (a phone's ~65 degree field of view), then shifted."""
    h, w = shape[:2]
    f, cx, cy = float(w), w / 2.0, h / 2.0
    cy_, sy_ = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    cp, sp = math.cos(math.radians(pitch_deg)), math.sin(math.radians(pitch_deg))
    rot = np.array([[cy_, 0, sy_], [0, 1, 0], [-sy_, 0, cy_]]) @ np.array(
        [[1, 0, 0], [0, cp, -sp], [0, sp, cp]]
    )
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    plane = np.column_stack([corners[:, 0] - cx, corners[:, 1] - cy, np.zeros(4)])  # at depth f
    moved = plane @ rot.T + np.array([0, 0, f])
    projected = np.column_stack(
        [f * moved[:, 0] / moved[:, 2] + cx, f * moved[:, 1] / moved[:, 2] + cy]
    )
    projected += np.asarray(shift, np.float64)
    return cv2.getPerspectiveTransform(corners.astype(np.float32), projected.astype(np.float32))


def flat_replay(
    image: np.ndarray,
    frames: int,
    *,
    yaw_amplitude: float = 20.0,
    pitch_amplitude: float = 8.0,
    shift_px: float = 3.0,
    noise_sigma: float = 2.0,
    seed: int = 0,
) -> list[np.ndarray]:
    """``image`` seen as a plane swinging (one sine period of yaw, half of pitch) with fresh sensor
    noise in every frame, so frames are never byte-identical (that would be a different cue)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(frames):
        phase = 2 * math.pi * i / max(frames - 1, 1)
        hmat = plane_homography(
            image.shape,
            yaw_amplitude * math.sin(phase),
            pitch_amplitude * math.sin(phase / 2),
            (shift_px * math.sin(phase), 0),
        )
        warped = cv2.warpPerspective(
            image, hmat, (image.shape[1], image.shape[0]), borderMode=cv2.BORDER_REFLECT
        )
        noise = np.asarray(rng.normal(0.0, noise_sigma, warped.shape), np.float32)
        noisy = warped.astype(np.float32) + noise
        out.append(np.clip(noisy, 0, 255).astype(np.uint8))
    return out


def static_replay(image: np.ndarray, frames: int) -> list[np.ndarray]:
    """The same image repeated: what a virtual camera fed one picture sends."""
    return [image.copy() for _ in range(frames)]
