"""Screen replay of a moving head: a recorded video of the person played on a display to the camera.

The plane test (:mod:`kycguard.liveness.geometry`) cannot see this attack: the head on the screen
turns in 3-D. What gives it away is the second optical path, a display filmed by a camera, measured
over a session's kept frames at completion (nothing here runs per uploaded frame):

- ``screen_flicker``: a display's refresh (or PWM backlight) beats with the camera's exposure, so the
  whole screen brightens and darkens together from frame to frame. Measured as the *common* gain
  change of a grid of blocks around the face between consecutive frames (the median over blocks of
  log mean ratio: head motion changes a few blocks each way, a flicker all of them alike), as a
  robust spread (1.48 MAD) over the frame pairs, in %. The dominant frequency of that series is
  reported (aliased by the frame rate: a beat, not the refresh rate).
- ``screen_moire_persistent``: a display's sub-pixel grid aliased by the sensor is a sharp peak of the
  face texture spectrum at the *same* image frequency in every frame (the screen stays put while the
  head moves on it); natural texture peaks move and average out. Value: the strongest peak of the
  texture residual spectrum (:func:`image_cues.residual_spectrum`) averaged over frames.
- ``screen_gamut``: a display cannot show black and a reflection on its glass lifts it further: the
  darkest pixels around the face (pupils, nostrils, hair) stay grey. Value: median over frames of
  the 1st percentile of L* (0..100) in the face box widened by 30 %.
- ``screen_bezel``: the screen's edges frame the face on several sides, at any distance (a
  hand-held phone shows its whole bezel). Value: median over sampled frames of the number of sides
  of the face with a long straight edge (at least 1.5 face sizes) parallel to it. Doors and windows
  do this too: weak weight.
- ``challenge_timing``: a replay has to be switched to a clip of the prompted action, so it
  reacts late, and a scripted switch reacts with the same delay every time. Value: from the
  session's reaction onsets (seconds from prompt to the first clear progress of each challenge), the
  larger suspicion of the median onset (too long) and their spread (too regular, >= 3 challenges).

Anchors: the screen replays the tests *simulate* from real clips (:func:`simulate.screen_replay`,
no recorded replay exists in the shared data) and the 39 real clips of the shared data, whose
values were looked at while choosing the anchors (README gives both). Weights are below 1.05 each,
so no single one of these cues can reach "attack" alone (at most "uncertain": a review).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from kycguard.liveness.deepfake import sample
from kycguard.liveness.frame_edges import _segments
from kycguard.liveness.fusion import Ramp, make_signal
from kycguard.liveness.image_cues import residual_spectrum
from kycguard.liveness.types import FrameSample, Signal
from kycguard.vision.types import BoundingBox

FLICKER_RAMP = Ramp(clear=1.0, alarm=2.5)  # robust spread of the common gain change, %
MOIRE_PERSISTENT_RAMP = Ramp(clear=1.9, alarm=2.4)  # ln peak of the frame-averaged residual
GAMUT_RAMP = Ramp(clear=12.0, alarm=30.0)  # 1st percentile of L* around the face
BEZEL_RAMP = Ramp(clear=2.0, alarm=4.0)  # sides framed by a long straight edge
ONSET_RAMP = Ramp(clear=3.0, alarm=7.0)  # median reaction onset, s
REGULARITY_RAMP = Ramp(clear=0.12, alarm=0.04)  # std of reaction onsets, s
FLICKER_GRID = 6  # blocks per side of the region around the face
FLICKER_REACH = 2.5  # that region is the face box widened this many times
MIN_PAIRS = 6
MOIRE_WINDOW = 128  # texture window around the face centre, native pixels (a multiple of 8)
MIN_MOIRE_WINDOW = 64
MOIRE_FRAMES = 16  # spectra averaged (spread over the tracks)
GAMUT_FRAMES = 8
BEZEL_FRAMES = 5
BEZEL_LENGTH = 1.5  # a bezel edge is at least this many face sizes long
BEZEL_TILT_DEG = 20.0
MIN_TIMED_CHALLENGES = 3  # onsets needed to judge their regularity

REPLAY_CUES = (
    "screen_flicker",
    "screen_moire_persistent",
    "screen_gamut",
    "screen_bezel",
    "challenge_timing",
)


def _region(box: BoundingBox, factor: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """``box`` widened ``factor`` times about its centre, clipped to the image."""
    return box.expanded((factor - 1.0) / 2, shape).as_int()


def screen_flicker(tracks: Sequence[Sequence[FrameSample]], weights: Mapping[str, float]) -> Signal:
    gains: list[float] = []
    times: list[float] = []
    for track in tracks:
        for a, b in itertools.pairwise(track):
            if a.rgb.shape != b.rgb.shape or a.face is None:
                continue
            x, y, rw, rh = _region(a.face.box, FLICKER_REACH, a.rgb.shape)
            ga = _block_means(a.rgb[y : y + rh, x : x + rw])
            gb = _block_means(b.rgb[y : y + rh, x : x + rw])
            gains.append(float(np.median(np.log(gb / ga))))
            times.append(b.timestamp_ms - a.timestamp_ms)
    w = weights["screen_flicker"]
    if len(gains) < MIN_PAIRS:
        return Signal.inactive(
            "screen_flicker", "liveness", w, f"fewer than {MIN_PAIRS} frame pairs"
        )
    g = np.asarray(gains)
    spread = 100.0 * 1.4826 * float(np.median(np.abs(g - np.median(g))))
    return make_signal(
        "screen_flicker", "liveness", spread, FLICKER_RAMP, weights,
        "robust spread of the common brightness change of the blocks around the face between "
        "frames, %",
        pairs=len(gains), beat_hz=_dominant_hz(g, float(np.median(times))),
    )  # fmt: skip


def _block_means(region: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(region, cv2.COLOR_RGB2GRAY).astype(np.float32)
    small = cv2.resize(gray, (FLICKER_GRID, FLICKER_GRID), interpolation=cv2.INTER_AREA)
    return np.maximum(small.ravel(), 1.0)


def _dominant_hz(series: np.ndarray, interval_ms: float) -> float | None:
    """The strongest frequency of the gain series (sampled at the median frame interval)."""
    if interval_ms <= 0 or len(series) < 4:
        return None
    power = np.abs(np.fft.rfft(series - series.mean())) ** 2
    freqs = np.fft.rfftfreq(len(series), interval_ms / 1000.0)
    return round(float(freqs[1:][np.argmax(power[1:])]), 2)


def screen_moire_persistent(frames: Sequence[FrameSample], weights: Mapping[str, float]) -> Signal:
    spectra = []
    band = None
    n = 0  # the window of the first usable frame, kept for all (one spectrum grid)
    for f in sample([f for f in frames if f.face is not None], MOIRE_FRAMES):
        assert f.face is not None
        side = int(min(f.face.box.width, f.face.box.height, MOIRE_WINDOW))
        n = n or side // 8 * 8
        if n < MIN_MOIRE_WINDOW:
            break
        crop = _centred(cv2.cvtColor(f.rgb, cv2.COLOR_RGB2GRAY), f.face.box, n)
        if crop is None:
            continue
        residual, band, _ = residual_spectrum(crop, jpeg_grid=True)
        spectra.append(residual)
    w = weights["screen_moire_persistent"]
    if len(spectra) < 2 or band is None:
        return Signal.inactive(
            "screen_moire_persistent", "liveness", w, "fewer than 2 frames with a face >= 64 px"
        )
    mean = np.mean(spectra, axis=0)
    return make_signal(
        "screen_moire_persistent", "liveness", float(mean[band].max()), MOIRE_PERSISTENT_RAMP,
        weights, "strongest texture-spectrum peak averaged over frames, ln units",
        frames=len(spectra), window_px=n,
    )  # fmt: skip


def _centred(gray: np.ndarray, box: BoundingBox, n: int) -> np.ndarray | None:
    cx, cy = (int(v) for v in box.center)
    x0, y0 = cx - n // 2, cy - n // 2
    if x0 < 0 or y0 < 0 or x0 + n > gray.shape[1] or y0 + n > gray.shape[0]:
        return None
    return gray[y0 : y0 + n, x0 : x0 + n]


def screen_gamut(frames: Sequence[FrameSample], weights: Mapping[str, float]) -> Signal:
    blacks = []
    for f in sample([f for f in frames if f.face is not None], GAMUT_FRAMES):
        assert f.face is not None
        x, y, w, h = _region(f.face.box, 1.3, f.rgb.shape)
        lab = cv2.cvtColor(f.rgb[y : y + h, x : x + w], cv2.COLOR_RGB2LAB)
        lightness = np.asarray(lab[..., 0], np.float32)
        blacks.append(float(np.percentile(lightness, 1)) * 100.0 / 255.0)
    if not blacks:
        return Signal.inactive("screen_gamut", "liveness", weights["screen_gamut"], "no face")
    return make_signal(
        "screen_gamut", "liveness", float(np.median(blacks)), GAMUT_RAMP, weights,
        "median black level (1st percentile of L*) around the face", frames=len(blacks),
    )  # fmt: skip


def screen_bezel(frames: Sequence[FrameSample], weights: Mapping[str, float]) -> Signal:
    sides = []
    for f in sample([f for f in frames if f.face is not None], BEZEL_FRAMES):
        assert f.face is not None
        segs, _ = _segments(f.rgb)
        sides.append(_framed_sides(segs, f.face.box))
    if not sides:
        return Signal.inactive("screen_bezel", "liveness", weights["screen_bezel"], "no face")
    return make_signal(
        "screen_bezel", "liveness", float(np.median(sides)), BEZEL_RAMP, weights,
        "median number of sides of the face with a long straight edge beyond it",
        frames=len(sides), per_frame=sides,
    )  # fmt: skip


def _framed_sides(segs: np.ndarray, box: BoundingBox) -> int:
    """Sides of ``box`` with a straight segment of BEZEL_LENGTH face sizes, parallel, beyond it."""
    size = max(box.width, box.height)
    x0, y0, x1, y1 = box.x, box.y, box.x + box.width, box.y + box.height
    found = set()
    for xa, ya, xb, yb in segs:
        if float(np.hypot(xb - xa, yb - ya)) < BEZEL_LENGTH * size:
            continue
        angle = float(np.degrees(np.arctan2(yb - ya, xb - xa))) % 180.0
        mx, my = (xa + xb) / 2, (ya + yb) / 2
        if abs(angle - 90.0) <= BEZEL_TILT_DEG:
            found |= {"left"} if mx < x0 else {"right"} if mx > x1 else set()
        elif min(angle, 180.0 - angle) <= BEZEL_TILT_DEG:
            found |= {"top"} if my < y0 else {"bottom"} if my > y1 else set()
    return len(found)


def challenge_timing(onsets_s: Sequence[float] | None, weights: Mapping[str, float]) -> Signal:
    w = weights["challenge_timing"]
    if not onsets_s:
        return Signal.inactive(
            "challenge_timing", "liveness", w, "no reaction onsets (not a challenge session)"
        )
    median = float(np.median(onsets_s))
    s_late = ONSET_RAMP(median)
    spread = float(np.std(onsets_s)) if len(onsets_s) >= MIN_TIMED_CHALLENGES else None
    s_regular = REGULARITY_RAMP(spread) if spread is not None else 0.0
    value = max(s_late, s_regular)
    return Signal(
        "challenge_timing",
        "liveness",
        value,
        value,
        w,
        f"median reaction onset = {median:.3g} s ({ONSET_RAMP.describe()}); onset std = "
        + (
            f"{spread:.3g} s ({REGULARITY_RAMP.describe()})"
            if spread is not None
            else f"not judged (fewer than {MIN_TIMED_CHALLENGES} challenges)"
        )
        + "; value = the larger suspicion",
        extra={"onsets_s": [round(o, 3) for o in onsets_s]},
    )


def replay_signals(
    tracks: Sequence[Sequence[FrameSample]],
    onsets_s: Sequence[float] | None,
    weights: Mapping[str, float],
) -> dict[str, Signal]:
    """Every screen-replay cue of a session's face tracks (and its challenges' reaction onsets)."""
    frames = [f for t in tracks for f in t]
    return {
        "screen_flicker": screen_flicker(tracks, weights),
        "screen_moire_persistent": screen_moire_persistent(frames, weights),
        "screen_gamut": screen_gamut(frames, weights),
        "screen_bezel": screen_bezel(frames, weights),
        "challenge_timing": challenge_timing(onsets_s, weights),
    }
