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


SUBPIXEL_CONTRAST = 0.35  # how strongly the sub-pixel stripes show through the camera's optics
SENSOR_SUPERSAMPLING = 3


def _scaled(hmat: np.ndarray, factor: int) -> np.ndarray:
    """The homography to a canvas ``factor`` times larger."""
    return np.diag([factor, factor, 1.0]) @ hmat


def screen_replay(
    frames: list[np.ndarray],
    times_ms: list[float],
    *,
    out_size: tuple[int, int] = (640, 480),
    screen_share: float = 0.78,
    flicker_amplitude: float = 0.04,
    flicker_hz: float = 9.7,
    seed: int = 0,
) -> list[np.ndarray]:
    """A real clip shown on a display and filmed by a camera: a SIMULATION, not a recording.

    Every step stands for one physical effect of a screen replay: the clip fills a screen of
    ``screen_share`` of the camera's width inside a dark bezel on a wall-coloured background; each
    display pixel is drawn as R, G and B sub-pixel stripes (with a dark gap) at 3x3 texels and that
    grid is point-sampled by the camera's pixels through a slight perspective, which aliases into
    moire exactly as a sensor grid beats with a display grid; the display shows the clip with its
    black raised and saturation reduced (gamma/gamut compression); the brightness beats at
    ``flicker_hz`` (refresh vs. exposure) by ``flicker_amplitude``; a static reflection gradient
    lies on the glass; the hand holding the phone shakes slightly; sensor noise is added last.
    """
    rng = np.random.default_rng(seed)
    ow, oh = out_size
    sw = int(ow * screen_share)
    sh = int(sw * frames[0].shape[0] / frames[0].shape[1])
    sh = min(sh, int(oh * 0.9))
    # display pixels: one per 1.2 camera pixels, 3x3 texels each (R|G|B stripes, last row dark)
    dw, dh = int(sw / 1.2), int(sh / 1.2)
    stripes = np.zeros((3, 3, 3), np.float32)
    for c in range(3):
        stripes[:2, c, c] = 4.5  # 2 of the 9 texels lit per colour: mean 1
    mask = 1.0 - SUBPIXEL_CONTRAST + SUBPIXEL_CONTRAST * stripes
    tiled = np.tile(mask, (dh, dw, 1))
    yy, xx = np.mgrid[:oh, :ow].astype(np.float32)
    background = np.stack(
        [170 + 20 * xx / ow, 160 + 15 * yy / oh, 140 + 10 * xx / ow], axis=-1
    ).astype(np.float32)
    x0, y0 = (ow - sw) // 2, (oh - sh) // 2
    bezel = 14
    reflection = 28.0 * np.clip(1.0 - (xx / ow + yy / oh), 0, 1)[..., None]
    out = []
    for rgb, t in zip(frames, times_ms, strict=True):
        shown = cv2.resize(rgb, (dw, dh), interpolation=cv2.INTER_AREA).astype(np.float32)
        luma = shown.mean(axis=2, keepdims=True)
        shown = 0.8 * shown + 0.2 * luma  # gamut: less saturated
        shown = 18.0 + shown * (225.0 / 255.0)  # a display's black is grey
        gain = 1.0 + flicker_amplitude * math.sin(2 * math.pi * flicker_hz * t / 1000.0)
        texels = np.repeat(np.repeat(shown, 3, axis=0), 3, axis=1) * tiled * gain
        # the screen plane as the camera sees it: slight tilt plus a tremor of the hand
        src = np.array([[0, 0], [dw * 3, 0], [dw * 3, dh * 3], [0, dh * 3]], np.float32)
        jitter = rng.normal(0, 0.6, (4, 2)).astype(np.float32)
        dst = (
            np.array(
                [[x0 + 4, y0], [x0 + sw - 4, y0 + 3], [x0 + sw, y0 + sh - 2], [x0, y0 + sh]],
                np.float32,
            )
            + jitter
        )
        hmat = cv2.getPerspectiveTransform(src, dst)
        frame = background.copy()
        cv2.fillConvexPoly(
            frame,
            (dst + np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32) * bezel).astype(
                np.int32
            ),
            (22, 22, 25),
        )
        # the camera: lens blur and each sensor pixel integrating a 3x3 patch of the optical image
        big = cv2.warpPerspective(
            texels,
            _scaled(hmat, SENSOR_SUPERSAMPLING),
            (ow * SENSOR_SUPERSAMPLING, oh * SENSOR_SUPERSAMPLING),
            flags=cv2.INTER_LINEAR,
        )
        big = cv2.GaussianBlur(big, (0, 0), 0.7)
        screen = cv2.resize(big, (ow, oh), interpolation=cv2.INTER_AREA)
        inside = cv2.warpPerspective(
            np.ones(texels.shape[:2], np.float32), hmat, (ow, oh), flags=cv2.INTER_NEAREST
        )[..., None]
        frame = np.where(inside > 0, screen + reflection, frame)
        frame += rng.normal(0.0, 2.0, frame.shape).astype(np.float32)
        out.append(np.clip(frame, 0, 255).astype(np.uint8))
    return out
