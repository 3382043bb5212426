"""Signs of tampering that can be measured and explained, each as a suspicion in [0, 1].

* Portrait replaced: a face pasted from another JPEG carries that file's 8x8 block grid. Where the
  document's own grid sits at one phase and the portrait's strongest grid at another, the portrait
  was compressed separately from the page (blocking measure of Fan & de Queiroz, IEEE TIP 2003,
  evaluated at all 64 grid phases). Needs the image at the resolution it was compressed at; a
  resampled image has no grid and the check says it is inconclusive.
* MRZ geometry: an MRZ is printed in one pass in OCR-B at a fixed pitch, so character pitch, height,
  baseline and left margin agree within and across lines; edited characters pasted in rarely do.
* Screen capture: a photo of a screen shows the display's sub-pixel grid as strong periodic colour
  (moire) peaks in the chroma spectrum; a screenshot or digital rendering has no sensor noise and
  large exactly constant areas, which no camera produces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from kycguard.documents.mrz.parse import FILLER


@dataclass
class TamperSignal:
    """A suspicion (0 clean .. 1 certainly suspicious), or None when it could not be measured."""

    suspicion: float | None
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)


def _luma(image_rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _ramp(value: float, ok: float, bad: float) -> float:
    return float(np.clip((value - ok) / (bad - ok), 0.0, 1.0))


# -- portrait -----------------------------------------------------------------------------------


def _cross_diff(y: np.ndarray, r0: int, c0: int) -> float:
    """Mean |A - B - C + D| over 2x2 pixel groups at rows r0+8i, columns c0+8j."""
    a = y[r0:-1:8, c0:-1:8]
    b = y[r0:-1:8, c0 + 1 :: 8]
    c = y[r0 + 1 :: 8, c0:-1:8]
    d = y[r0 + 1 :: 8, c0 + 1 :: 8]
    n = min(a.shape[0], b.shape[0], c.shape[0], d.shape[0])
    m = min(a.shape[1], b.shape[1], c.shape[1], d.shape[1])
    if n == 0 or m == 0:
        return 0.0
    return float(np.abs(a[:n, :m] - b[:n, :m] - c[:n, :m] + d[:n, :m]).mean())


def block_grid_map(y: np.ndarray, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """8x8 map, indexed by the absolute (row, column) phase of the last pixel before a block edge, of
    how much stronger pixel differences are across that edge than inside blocks (1 = no grid)."""
    ox, oy = origin
    grid = np.ones((8, 8))
    for py in range(8):
        for px in range(8):
            r0, c0 = (py - oy) % 8, (px - ox) % 8
            across = _cross_diff(y, r0, c0)
            inside = _cross_diff(y, (r0 + 4) % 8, (c0 + 4) % 8)
            grid[py, px] = across / (inside + 1e-3)
    return grid


GRID_PRESENT = 1.5
"""Block-edge / in-block difference ratio above which an image counts as JPEG-compressed at its
present resolution (measured: JPEG quality 90 and lower 1.9-2.3; lossless, resized or quality-95
images 1.0-1.4)."""


def _grid_summary(grid: np.ndarray) -> tuple[tuple[int, int], float]:
    k = np.unravel_index(int(grid.argmax()), grid.shape)
    median = float(np.median(grid))
    return (int(k[0]), int(k[1])), float(grid.max() / median) if median > 1e-6 else 1.0


def portrait_replacement(image_rgb: np.ndarray, box: tuple[int, int, int, int]) -> TamperSignal:
    """Does the portrait's JPEG block grid disagree with the rest of the page's?"""
    x, y, w, h = (int(v) for v in box)
    height, width = image_rgb.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    m = int(0.08 * min(w, h))
    if x1 - x0 - 2 * m < 64 or y1 - y0 - 2 * m < 64:
        return TamperSignal(
            None, "portrait box too small (under 64 px inside) to measure its compression grid"
        )
    luma = _luma(image_rgb)
    inner = luma[y0 + m : y1 - m, x0 + m : x1 - m]
    g_in = block_grid_map(inner, (x0 + m, y0 + m))
    outside = luma.copy()
    outside[y0:y1, x0:x1] = np.nan
    g_doc = _nan_safe_grid(luma, (x0, y0, x1, y1))
    doc_phase, doc_strength = _grid_summary(g_doc)
    in_phase, in_strength = _grid_summary(g_in)
    at_doc_phase = float(g_in[doc_phase] / max(float(np.median(g_in)), 1e-6))
    evidence = {
        "document_grid_phase": doc_phase,
        "document_grid_strength": round(doc_strength, 3),
        "portrait_grid_phase": in_phase,
        "portrait_grid_strength": round(in_strength, 3),
        "portrait_strength_at_document_phase": round(at_doc_phase, 3),
    }
    if doc_strength < GRID_PRESENT:
        if in_strength >= 1.8:
            s = _ramp(in_strength, 1.6, 2.4)
            return TamperSignal(
                s,
                f"the portrait carries a JPEG block grid (strength {in_strength:.2f}) that the rest of the page "
                "does not have: it was compressed before being placed on a losslessly saved page",
                evidence,
            )
        return TamperSignal(
            None,
            "inconclusive: no JPEG block grid on the page (never JPEG-compressed, or resized after compression); "
            "pass the image at its original resolution for this check",
            evidence,
        )
    foreign = in_strength / max(at_doc_phase, 1e-3) if in_phase != doc_phase else 1.0
    evidence["foreign_grid_ratio"] = round(foreign, 3)
    s = _ramp(foreign, 1.08, 1.4)
    if in_phase != doc_phase and s > 0:
        detail = (
            f"the portrait's strongest block grid is at phase {in_phase}, the page's at {doc_phase} "
            f"({foreign:.2f}x stronger than the page's phase inside the portrait): the portrait was compressed separately"
        )
    else:
        detail = f"the portrait shares the page's JPEG block grid (phase {doc_phase}): no sign of a pasted photo"
    return TamperSignal(s, detail, evidence)


def _nan_safe_grid(luma: np.ndarray, hole: tuple[int, int, int, int]) -> np.ndarray:
    """Grid map of the page without the portrait: average of the bands above/below/left/right of it."""
    x0, y0, x1, y1 = hole
    parts = [
        (luma[:y0, :], (0, 0)),
        (luma[y1:, :], (0, y1)),
        (luma[y0:y1, :x0], (0, y0)),
        (luma[y0:y1, x1:], (x1, y0)),
    ]
    maps, weights = [], []
    for part, origin in parts:
        if part.shape[0] >= 32 and part.shape[1] >= 32:
            maps.append(block_grid_map(part, origin))
            weights.append(part.size)
    if not maps:
        return block_grid_map(luma)
    return np.average(np.stack(maps), axis=0, weights=weights)


# -- MRZ geometry ------------------------------------------------------------------------------


@dataclass
class _LineGeometry:
    pitch: float  # image px
    start: float  # image px along the block direction, first character centre
    irregularity: float  # rms residual of character centres / pitch
    heights: list[float]  # image px, letters and digits only
    offsets: list[float]  # vertical centre minus the line's fitted centre, image px


def _line_geometry(
    line: Any, block_origin: np.ndarray, direction: np.ndarray
) -> _LineGeometry | None:
    strip = line.strip
    if not line.frames or strip is None:
        return None
    width = strip.shape[1]
    px_per_frame = width / max(line.n_frames, 1)
    centres = np.array([(a + b + 1) / 2 * px_per_frame for a, b in line.frames])
    idx = np.arange(len(centres))
    slope, intercept = np.polyfit(idx, centres, 1)
    if slope <= 0:
        return None
    residual = centres - (slope * idx + intercept)
    quad = line.quad
    length = float(np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / 2
    thickness = float(np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2
    sx, sy = length / width, thickness / strip.shape[0]
    gray = cv2.cvtColor(strip, cv2.COLOR_BGR2GRAY)
    _, ink = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    heights, centres_y, used = [], [], []
    for j, ch in enumerate(line.text):
        if ch == FILLER:
            continue
        a = int(max(0, centres[j] - 0.35 * slope))
        b = int(min(width, centres[j] + 0.35 * slope + 1))
        rows = np.flatnonzero(ink[:, a:b].sum(axis=1) > 0)
        if len(rows) < 3:
            continue
        heights.append((rows[-1] - rows[0] + 1) * sy)
        centres_y.append((rows[-1] + rows[0]) / 2 * sy)
        used.append(j)
    offsets: list[float] = []
    if len(used) >= 4:
        fit = np.polyfit(used, centres_y, 1)
        offsets = list(np.array(centres_y) - np.polyval(fit, used))
    start_img = quad[0] + (quad[1] - quad[0]) * (intercept / width)
    return _LineGeometry(
        pitch=slope * sx,
        start=float((start_img - block_origin) @ direction),
        irregularity=float(np.sqrt(np.mean(residual**2)) / slope),
        heights=heights,
        offsets=offsets,
    )


def mrz_geometry(lines: list[Any]) -> TamperSignal:
    """Pitch, height, baseline and margin consistency of the MRZ characters (see module doc)."""
    if len(lines) < 2 or any(not line.frames for line in lines):
        return TamperSignal(None, "no decoded MRZ characters to measure")
    first = lines[0].quad
    direction = (first[1] - first[0]) / max(float(np.linalg.norm(first[1] - first[0])), 1e-6)
    geoms = [_line_geometry(line, first[0], direction) for line in lines]
    if any(g is None for g in geoms):
        return TamperSignal(None, "MRZ characters could not be located")
    gs = [g for g in geoms if g is not None]
    pitch = float(np.median([g.pitch for g in gs]))
    heights = np.array([h for g in gs for h in g.heights])
    offsets = np.array([o for g in gs for o in g.offsets])
    metrics = {
        "pitch_irregularity": max(g.irregularity for g in gs),
        "pitch_ratio_between_lines": float(max(g.pitch for g in gs) / min(g.pitch for g in gs)),
        "left_margin_spread_chars": (max(g.start for g in gs) - min(g.start for g in gs)) / pitch,
        "height_variation": float(heights.std() / heights.mean()) if len(heights) > 4 else 0.0,
        "baseline_wander": float(np.sqrt(np.mean(offsets**2)) / np.median(heights))
        if len(offsets) > 4
        else 0.0,
    }
    # (normal, clearly off) per metric. Measured: untouched MRZs (10 specimens, renders blurred,
    # warped, rotated, JPEG'd) stay under the first value; characters redrawn 8-12% larger, 10%
    # smaller or 5 px lower exceed the second.
    limits = {
        "pitch_irregularity": (0.10, 0.16),
        "pitch_ratio_between_lines": (1.03, 1.08),
        "left_margin_spread_chars": (0.5, 1.2),
        "height_variation": (0.06, 0.09),
        "baseline_wander": (0.035, 0.055),
    }
    scores = {k: _ramp(v, *limits[k]) for k, v in metrics.items()}
    worst = max(scores, key=lambda k: scores[k])
    s = scores[worst]
    evidence = {k: round(v, 4) for k, v in metrics.items()}
    if s <= 0:
        return TamperSignal(
            0.0,
            "character pitch, height, baseline and margins are consistent across the MRZ",
            evidence,
        )
    bad = ", ".join(
        f"{k.replace('_', ' ')} {metrics[k]:.3f} (normal below {limits[k][0]})"
        for k in scores
        if scores[k] > 0
    )
    return TamperSignal(s, f"MRZ print geometry inconsistent: {bad}", evidence)


# -- screen capture ----------------------------------------------------------------------------

_LAPLACE_NOISE = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def noise_sigma(luma: np.ndarray) -> float:
    """Sensor-noise estimate (Immerkaer 1996) over the flattest 30% of the image."""
    response = np.abs(cv2.filter2D(luma, -1, _LAPLACE_NOISE))
    grad = np.abs(cv2.Sobel(luma, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(luma, cv2.CV_32F, 0, 1))
    flat = grad <= np.percentile(grad, 30)
    return float(np.sqrt(np.pi / 2) * response[flat].mean() / 6)


def constant_area(image_rgb: np.ndarray, size: int = 15) -> float:
    """Fraction of pixels whose size x size neighbourhood has exactly one colour."""
    kernel = np.ones((size, size), np.uint8)
    const = np.ones(image_rgb.shape[:2], bool)
    for c in range(3):
        ch = np.ascontiguousarray(image_rgb[..., c])
        const &= cv2.dilate(ch, kernel) == cv2.erode(ch, kernel)
    return float(const.mean())


def chroma_peakiness(image_rgb: np.ndarray, size: int = 768) -> float:
    """Strongest periodic component of the colour-difference channels relative to their median
    spectrum (mid to high frequencies): screen sub-pixels alias into sharp peaks here."""
    ycc = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    h, w = image_rgb.shape[:2]
    s = min(h, w, size) // 2 * 2
    if s < 64:
        return 0.0
    y0, x0 = (h - s) // 2, (w - s) // 2
    window = np.outer(np.hanning(s), np.hanning(s)).astype(np.float32)
    yy, xx = np.mgrid[-s // 2 : s // 2, -s // 2 : s // 2]
    radius = np.hypot(yy, xx) / (s / 2)
    band = (radius > 0.15) & (radius < 0.95) & (np.abs(yy) > 2) & (np.abs(xx) > 2)
    # JPEG's 8x8 (16x16 for subsampled chroma) blocks put peaks on multiples of 1/16 cycle/px in
    # either axis: every JPEG has them, a camera photo of a security print as much as a screen
    block = s / 16
    for axis in (yy, xx):
        off_grid = np.abs(axis / block - np.round(axis / block)) * block
        band &= off_grid > 1.5
    peaks = []
    for c in (1, 2):
        ch = ycc[y0 : y0 + s, x0 : x0 + s, c]
        detail = ch - cv2.GaussianBlur(ch, (0, 0), 3)
        spectrum = np.abs(np.fft.fftshift(np.fft.fft2(detail * window)))[band]
        peaks.append(float(np.percentile(spectrum, 99.99) / max(float(np.median(spectrum)), 1e-6)))
    return max(peaks)


def screen_capture(image_rgb: np.ndarray) -> TamperSignal:
    """Screen photo (moire) or screenshot / digital rendering (no sensor noise, flat areas)."""
    luma = _luma(image_rgb)
    sigma = noise_sigma(luma)
    h, w = luma.shape
    step = max(
        1, round(max(h, w) / 1000)
    )  # exact uniformity survives nearest-neighbour subsampling
    flat = constant_area(np.ascontiguousarray(image_rgb[::step, ::step]), size=max(5, 15 // step))
    moire = chroma_peakiness(image_rgb)
    cy, cx = max(0, h // 2 - 512) // 8 * 8, max(0, w // 2 - 512) // 8 * 8  # keep the 8x8 phase
    _, grid_strength = _grid_summary(block_grid_map(luma[cy : cy + 1024, cx : cx + 1024], (cx, cy)))
    digital = _ramp(flat, 0.03, 0.15)
    if sigma < 0.05 and grid_strength < GRID_PRESENT:
        digital = max(digital, 0.8)  # lossless and noiseless: no camera made this
    # photographed specimen cards (guilloche, text rows, JPEG) reach ~260 (probe seeds 7 and 11 of
    # kycguard.documents.specimens, not the benchmark's seed 0); photos of a screen 700-780
    screen = _ramp(moire, 200.0, 450.0)
    evidence = {
        "noise_sigma": round(sigma, 3),
        "constant_area_fraction": round(flat, 4),
        "chroma_peak_ratio": round(moire, 1),
        "jpeg_grid_strength": round(grid_strength, 3),
    }
    parts = []
    if screen > 0:
        parts.append(
            f"periodic colour pattern {moire:.0f}x the background spectrum (screen sub-pixel moire)"
        )
    if digital > 0:
        parts.append(
            f"{flat:.0%} of the image is exactly uniform and sensor noise is {sigma:.2f} grey levels: "
            "a screenshot or digital rendering, not a camera photo"
        )
    if not parts:
        parts.append("camera-like noise and no screen moire")
    return TamperSignal(max(screen, digital), "; ".join(parts), evidence)
