"""Remote photoplethysmography: is there a pulse in the skin colour? (POS, Wang et al. 2017)

Blood volume under live skin changes with each heartbeat and modulates its colour by a fraction of a
percent, mostly in green. POS projects the normalised RGB trace of skin onto the plane orthogonal to
the skin tone, which cancels brightness changes and keeps the pulse; its spectrum then has a peak at
the heart rate (0.7-3 Hz = 42-180 bpm). Signal quality is de Haan's SNR: power within 0.12 Hz of the
peak and of its first harmonic over the rest of the band, in dB.

What it cannot do: video compression, low light and motion erase the pulse of live people too
(broadcast clips often show none), and a replayed video of a live person carries its pulse. So a
strong pulse is weak evidence of life and its absence weak evidence of an attack: low weight.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from kycguard.liveness.fusion import Ramp, make_signal
from kycguard.liveness.regions import skin_patches
from kycguard.liveness.types import FrameSample, Signal

BAND_HZ = (0.7, 3.0)
WINDOW_S = 1.6
PEAK_HALF_WIDTH_HZ = 0.12


@dataclass(frozen=True)
class Pulse:
    snr_db: float
    bpm: float
    duration_s: float
    fps: float


def skin_trace(frames: Sequence[FrameSample]) -> tuple[np.ndarray, np.ndarray]:
    """(times in s, mean RGB of forehead + cheeks) for frames with a face."""
    times, rgb = [], []
    for f in frames:
        if f.face is None or f.face.landmarks is None:
            continue
        mask = skin_patches(f.rgb.shape, f.face.landmarks[:, :2])
        if mask.sum() < 20:
            continue
        times.append(f.timestamp_ms / 1000.0)
        rgb.append(f.rgb[mask].reshape(-1, 3).mean(axis=0))
    return np.asarray(times, float), np.asarray(rgb, float).reshape(-1, 3)


def pos(rgb: np.ndarray, fps: float) -> np.ndarray:
    """POS pulse signal from an (N, 3) RGB trace sampled at ``fps`` (overlap-added 1.6 s windows)."""
    n = len(rgb)
    win = max(2, round(WINDOW_S * fps))
    out = np.zeros(n)
    proj = np.array([[0.0, 1.0, -1.0], [-2.0, 1.0, 1.0]])
    for start in range(0, n - win + 1):
        block = rgb[start : start + win]
        norm = block / np.maximum(block.mean(axis=0), 1e-6)
        s = norm @ proj.T  # (win, 2)
        h = s[:, 0] + (s[:, 0].std() / max(s[:, 1].std(), 1e-9)) * s[:, 1]
        out[start : start + win] += h - h.mean()
    return out


def measure_pulse(frames: Sequence[FrameSample], min_duration_s: float) -> Pulse | None:
    """The pulse of a face track, or None when it is shorter than ``min_duration_s``."""
    times, rgb = skin_trace(frames)
    if len(times) < 16 or times[-1] - times[0] < min_duration_s:
        return None
    duration = float(times[-1] - times[0])
    fps = (len(times) - 1) / duration
    grid = np.linspace(times[0], times[-1], len(times))
    even = np.column_stack([np.interp(grid, times, rgb[:, c]) for c in range(3)])
    signal = pos(even, fps)
    signal = signal - np.polyval(np.polyfit(grid, signal, 2), grid)
    nfft = 1 << int(np.ceil(np.log2(len(signal) * 8)))
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal)), nfft)) ** 2
    freqs = np.fft.rfftfreq(nfft, 1.0 / fps)
    band = (freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])
    if not band.any():
        return None
    peak = float(freqs[band][np.argmax(spectrum[band])])
    near = (np.abs(freqs - peak) <= PEAK_HALF_WIDTH_HZ) | (
        np.abs(freqs - 2 * peak) <= PEAK_HALF_WIDTH_HZ
    )
    wide = (freqs >= BAND_HZ[0]) & (freqs <= 2 * BAND_HZ[1])
    signal_power = spectrum[wide & near].sum()
    noise_power = spectrum[wide & ~near].sum()
    snr = 10 * np.log10(max(signal_power, 1e-12) / max(noise_power, 1e-12))
    return Pulse(snr_db=float(snr), bpm=60.0 * peak, duration_s=duration, fps=fps)


PULSE_RAMP = Ramp(clear=-4.0, alarm=-9.0)  # SNR in dB; a noise-only trace scores about -7 to -8 dB
MIN_PULSE_SPAN_S = 4.0


def pulse(tracks: Sequence[Sequence[FrameSample]], weights: Mapping[str, float]) -> Signal:
    """Pulse SNR of the longest face track (a pulse needs a few heartbeats: at least 4 s)."""
    longest = max(tracks, key=lambda t: t[-1].timestamp_ms - t[0].timestamp_ms, default=[])
    found = measure_pulse(longest, MIN_PULSE_SPAN_S) if longest else None
    if found is None:
        return Signal.inactive(
            "pulse", "liveness", weights["pulse"], f"no face track of {MIN_PULSE_SPAN_S:g} s"
        )
    return make_signal(
        "pulse", "liveness", found.snr_db, PULSE_RAMP, weights, "POS pulse SNR (dB)",
        bpm=round(found.bpm, 1), seconds=round(found.duration_s, 2), fps=round(found.fps, 2),
    )  # fmt: skip
