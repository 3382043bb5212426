"""Was the stream injected (virtual camera, replayed file) rather than captured live?

- ``duplicate_frames``: share of consecutive frames that are identical (fewer than 0.1 % of pixels
  changed by more than 2 grey levels; codecs copy static background exactly, so "mean difference"
  would call a talking head in front of a still background a duplicate). A sensor never delivers the same noise twice; a looped still or a virtual
  camera fed a picture does. (Video files converted between frame rates also repeat frames, so the
  ramp allows 10 %.)
- ``frame_timing``: needs the server's arrival times. Two signs: client capture intervals that are
  perfectly regular (a real camera pipeline jitters by milliseconds; synthetic timestamps do not),
  and client time running faster than arrival time (a recording pushed faster than real time).
  Recorded files have no arrival times: inactive.
- ``sensor_noise``: the camera's noise floor (Immerkaer's estimator, median over 32 px blocks of the
  grey frame). A rendered or heavily cleaned stream has almost none. Weak: phones denoise, codecs
  smooth, and downscaling averages noise away; measured values are reported so they can be judged.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from kycguard.liveness.fusion import Ramp, make_signal
from kycguard.liveness.types import FrameSample, Signal

DUPLICATE_RAMP = Ramp(clear=0.1, alarm=0.5)
CHANGED_LEVELS = 2  # a pixel "changed" when it moved by more than this many grey levels
MAX_CHANGED_SHARE = 0.001  # frames are duplicates when fewer than 0.1 % of pixels changed
JITTER_RAMP = Ramp(clear=1.0, alarm=0.05)  # std of client capture intervals, ms
CLOCK_RAMP = Ramp(clear=1.15, alarm=2.0)  # client time span / arrival time span
NOISE_RAMP = Ramp(clear=0.6, alarm=0.15)  # noise sigma, grey levels
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
MIN_TIMED_FRAMES = 8


def duplicate_frames(frames: Sequence[FrameSample], weights: Mapping[str, float]) -> Signal:
    grays = [cv2.cvtColor(f.rgb, cv2.COLOR_RGB2GRAY) for f in frames]
    pairs = [(a, b) for a, b in itertools.pairwise(grays) if a.shape == b.shape]
    if not pairs:
        return Signal.inactive(
            "duplicate_frames", "injection", weights["duplicate_frames"], "fewer than 2 frames"
        )
    same = [
        float(np.mean(cv2.absdiff(a, b) > CHANGED_LEVELS)) < MAX_CHANGED_SHARE for a, b in pairs
    ]
    return make_signal(
        "duplicate_frames", "injection", float(np.mean(same)), DUPLICATE_RAMP, weights,
        "share of consecutive frames that are identical", pairs=len(pairs),
    )  # fmt: skip


def frame_timing(frames: Sequence[FrameSample], weights: Mapping[str, float]) -> Signal:
    timed = [f for f in frames if f.received_ms is not None]
    w = weights["frame_timing"]
    if len(timed) < MIN_TIMED_FRAMES:
        return Signal.inactive(
            "frame_timing", "injection", w, "no server arrival times (a recorded file)"
        )
    client = np.array([f.timestamp_ms for f in timed])
    server = np.array([f.received_ms for f in timed], dtype=float)
    intervals = np.diff(client)
    jitter = float(np.std(intervals))
    clock = float((client[-1] - client[0]) / max(server[-1] - server[0], 1e-3))
    s_jitter, s_clock = JITTER_RAMP(jitter), CLOCK_RAMP(clock)
    value = max(s_jitter, s_clock)
    return Signal(
        "frame_timing",
        "injection",
        value,
        value,
        w,
        f"client interval std = {jitter:.3g} ms ({JITTER_RAMP.describe()}); client/arrival time ratio = "
        f"{clock:.3g} ({CLOCK_RAMP.describe()}); value = the larger suspicion",
        extra={"interval_std_ms": jitter, "clock_ratio": clock},
    )


def noise_sigma(gray: np.ndarray, block: int = 32) -> float:
    """Immerkaer (1996) noise estimate, median over blocks so texture and edges do not dominate."""
    response = np.abs(cv2.filter2D(gray.astype(np.float32), -1, _IMMERKAER))[1:-1, 1:-1]
    h, w = response.shape
    hb, wb = h // block, w // block
    if hb == 0 or wb == 0:
        return float(math.sqrt(math.pi / 2) / 6 * response.mean())
    blocks = response[: hb * block, : wb * block].reshape(hb, block, wb, block).mean(axis=(1, 3))
    return float(math.sqrt(math.pi / 2) / 6 * np.median(blocks))


def sensor_noise(frames: Sequence[FrameSample], weights: Mapping[str, float]) -> Signal:
    picked = frames[:: max(1, len(frames) // 10)]
    values = [noise_sigma(cv2.cvtColor(f.rgb, cv2.COLOR_RGB2GRAY)) for f in picked]
    return make_signal(
        "sensor_noise", "injection", float(np.median(values)), NOISE_RAMP, weights,
        "median noise sigma (grey levels)", frames=len(values),
    )  # fmt: skip
