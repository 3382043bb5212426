"""Colour-texture descriptors: LBP histograms per channel of HSV and YCbCr (Boulkenafet et al. 2016).

A recaptured face (print, screen) keeps its shape but loses and distorts fine texture differently in
luminance and in chrominance: inks and display sub-pixels change the joint colour-texture statistics
that a grey-level LBP cannot see. Each channel of the face crop (64x64 after resampling) gets a
rotation-invariant uniform LBP histogram (8 neighbours, radius 1: 10 bins), normalised to sum 1.
Numpy only: the service computes these at run time without any training library.
"""

from __future__ import annotations

import cv2
import numpy as np

LBP_BINS = 10  # riu2 with P=8: 9 uniform patterns (0..8 ones) + 1 for all non-uniform codes
CROP_PX = 64
COLOUR_SPACES = ("hsv", "ycrcb")
CHANNELS = {"hsv": ("h", "s", "v"), "ycrcb": ("y", "cr", "cb")}
_OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))


def _riu2_table() -> np.ndarray:
    table = np.empty(256, np.int64)
    for code in range(256):
        bits = [(code >> i) & 1 for i in range(8)]
        transitions = sum(bits[i] != bits[(i + 1) % 8] for i in range(8))
        table[code] = sum(bits) if transitions <= 2 else LBP_BINS - 1
    return table


_RIU2 = _riu2_table()


def lbp_codes(channel: np.ndarray) -> np.ndarray:
    """riu2 LBP(8,1) code (0..9) of every interior pixel of a 2-D channel (shape - 2)."""
    c = channel.astype(np.int16)
    centre = c[1:-1, 1:-1]
    code = np.zeros(centre.shape, np.int64)
    h, w = c.shape
    for bit, (dy, dx) in enumerate(_OFFSETS):
        neighbour = c[1 + dy : h - 1 + dy, 1 + dx : w - 1 + dx]
        code |= (neighbour >= centre).astype(np.int64) << bit
    return _RIU2[code]


def _normalised(codes: np.ndarray) -> np.ndarray:
    hist = np.bincount(codes.ravel(), minlength=LBP_BINS).astype(np.float64)
    return hist / max(hist.sum(), 1.0)


def lbp_histogram(channel: np.ndarray) -> np.ndarray:
    """Normalised riu2 LBP(8,1) histogram of one 2-D channel."""
    return _normalised(lbp_codes(channel))


def lbp_code_histograms(
    channel: np.ndarray, inside: np.ndarray, outside: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """LBP histograms of one channel inside and outside a mask, and their chi-square distance."""
    codes = lbp_codes(channel)
    h_in = _normalised(codes[inside[1:-1, 1:-1]])
    h_out = _normalised(codes[outside[1:-1, 1:-1]])
    return h_in, h_out, chi2(h_in, h_out)


def colour_lbp(rgb: np.ndarray) -> np.ndarray:
    """Concatenated histograms of H, S, V, Y, Cr, Cb (60 values) of an RGB crop resized to 64x64."""
    crop = cv2.resize(rgb, (CROP_PX, CROP_PX), interpolation=cv2.INTER_AREA)
    spaces = {
        "hsv": cv2.cvtColor(crop, cv2.COLOR_RGB2HSV),
        "ycrcb": cv2.cvtColor(crop, cv2.COLOR_RGB2YCrCb),
    }
    return np.concatenate(
        [lbp_histogram(spaces[s][..., i]) for s in COLOUR_SPACES for i in range(3)]
    )


def colour_lbp_names(prefix: str = "lbp") -> list[str]:
    return [
        f"{prefix}_{ch}_{b}" for s in COLOUR_SPACES for ch in CHANNELS[s] for b in range(LBP_BINS)
    ]


def chi2(a: np.ndarray, b: np.ndarray) -> float:
    """Chi-square distance of two histograms (0 = identical)."""
    return float(0.5 * np.sum((a - b) ** 2 / np.maximum(a + b, 1e-9)))
