"""Single-image presentation-attack cues measured on the face: each returns one :class:`Signal`.

A photo of a print or of a screen is an image of an image: it went through a second optical path
(print gamut or display, then the camera again). What that second path leaves behind, and what each
cue measures:

- ``blur_check``: a second blur (print resolution, display pixels, focus on a flat medium);
- ``micro_texture``: the finest skin texture disappears before the mid-scale structure does;
- ``print_attack``: inks and displays viewed off-axis shrink the colour gamut (low skin chroma) and
  cannot reproduce black (the darkest face pixels are lifted);
- ``specular_reflection``: glossy paper and glass reflect light sources as clipped, colourless areas;
- ``screen_moire``: a display's pixel grid beats with the camera's sensor grid into periodic patterns.

Ramp anchors were set from where the 87 bona fide photos of the shared sets fall
(faces/face_recognition_examples, faces/deepface_testset, the ghost_faceswap source photos,
silent_face T1): ``clear`` near their 5th-10th percentile, so a few genuine photos in a hundred show
some suspicion on any one cue. They are portraits and press photos, not selfies.
None of these cues is specific on its own; :mod:`kycguard.liveness.fusion` makes them agree.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping

import cv2
import numpy as np

from kycguard.liveness.fusion import Ramp, make_signal
from kycguard.liveness.regions import FacePatch
from kycguard.liveness.types import Signal
from kycguard.vision.types import Face

BLUR_RAMP = Ramp(clear=80.0, alarm=30.0)  # Laplacian variance of skin at 160 px face width
TEXTURE_RAMP = Ramp(clear=0.45, alarm=0.30)  # fine/mid band energy ratio of skin
CHROMA_RAMP = Ramp(clear=14.0, alarm=7.0)  # median skin chroma, CIELAB a*b* units
BLACK_RAMP = Ramp(clear=40.0, alarm=52.0)  # 2nd percentile of face lightness, L* 0..100
CLIPPED_RAMP = Ramp(clear=0.08, alarm=0.30)  # fraction of the face oval at the sensor's maximum
MOIRE_RAMP = Ramp(clear=2.7, alarm=3.5)  # ln(peak / ring median) of the texture spectrum
MOIRE_SIZE = 256


def blur_check(patch: FacePatch, weights: Mapping[str, float]) -> Signal:
    """Variance of the Laplacian over skin: recaptures are blurred twice. Weak: a defocused live
    selfie is blurred too. Bona fide photos of the shared sets: 5th percentile 56, median 213."""
    lap = cv2.Laplacian(patch.gray, cv2.CV_32F)
    value = float(lap[patch.skin].var()) if patch.skin.any() else 0.0
    return make_signal(
        "blur_check", "liveness", value, BLUR_RAMP, weights, "Laplacian variance of skin"
    )


def micro_texture(patch: FacePatch, weights: Mapping[str, float]) -> Signal:
    """Energy of the finest detail (sigma < 1 px at 160 px face width) relative to mid-scale detail
    (1..3 px) over skin. Pores and fine shading live in the first band; a print's dot gain and a
    display's pixel pitch remove them first while eyes, nose and hair edges stay in the second."""
    g = patch.gray
    b1 = cv2.GaussianBlur(g, (0, 0), 1.0)
    fine = (g - b1)[patch.skin]
    mid = (b1 - cv2.GaussianBlur(g, (0, 0), 3.0))[patch.skin]
    value = float(np.std(fine) / max(float(np.std(mid)), 1e-6)) if fine.size else 0.0
    return make_signal(
        "micro_texture", "liveness", value, TEXTURE_RAMP, weights, "fine/mid detail energy of skin"
    )


def print_attack(patch: FacePatch, weights: Mapping[str, float]) -> Signal:
    """Gamut of the face: median skin chroma (CIELAB) and the black level of the darkest features.

    Printed inks and displays seen at an angle reproduce less saturated colour than skin under
    light, and their black is paper or a glowing panel, never as dark as a pupil or a nostril.
    Suspicion is the noisy-OR of both ramps. A desaturated (graded, black-and-white) photo fails the
    chroma ramp too; that is why this cue alone can only make a selfie "uncertain".
    """
    lab = cv2.cvtColor(patch.rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    skin = patch.skin
    chroma = (
        float(np.median(np.hypot(lab[..., 1][skin] - 128, lab[..., 2][skin] - 128)))
        if skin.any()
        else 0.0
    )
    lightness = lab[..., 0][patch.oval] * (100.0 / 255.0)
    black = float(np.percentile(lightness, 2)) if lightness.size else 100.0
    s_chroma, s_black = CHROMA_RAMP(chroma), BLACK_RAMP(black)
    combined = 1.0 - (1.0 - s_chroma) * (1.0 - s_black)
    return Signal(
        name="print_attack",
        family="liveness",
        value=chroma,
        suspicion=combined,
        weight=weights["print_attack"],
        detail=(
            f"median skin chroma = {chroma:.3g} ({CHROMA_RAMP.describe()}); "
            f"black level L* = {black:.3g} ({BLACK_RAMP.describe()}); suspicion = noisy-OR of both"
        ),
        extra={
            "skin_chroma": chroma,
            "black_level": black,
            "chroma_suspicion": s_chroma,
            "black_suspicion": s_black,
        },
    )


def specular_reflection(patch: FacePatch, weights: Mapping[str, float]) -> Signal:
    """Fraction of the face oval clipped at the sensor's maximum (any channel >= 250, low saturation).

    Skin's own highlights are small (nose tip, forehead); a glossy print or a screen reflecting a lamp,
    or a display turned up to full brightness, clips whole areas. Studio-lit genuine photos clip too
    (0.024 at the 95th percentile of the shared photos, 0.068 at most), so the ramp starts at 0.08.
    """
    rgb = patch.rgb
    hi = rgb.max(axis=2) >= 250
    low_sat = (rgb.max(axis=2).astype(np.int16) - rgb.min(axis=2)) < 40
    oval = patch.oval
    value = float(np.mean((hi & low_sat)[oval])) if oval.any() else 0.0
    return make_signal(
        "specular_reflection",
        "liveness",
        value,
        CLIPPED_RAMP,
        weights,
        "clipped colourless fraction of face",
    )


@functools.lru_cache(maxsize=8)
def _rings(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Frequency coordinates of an n x n spectrum, each bin's ring (integer radius), and the bins
    sorted by ring with each ring's bounds in that order (so ring medians are slices, not masks)."""
    yy, xx = np.mgrid[:n, :n]
    fy, fx = yy - n // 2, xx - n // 2
    ring = np.hypot(fy, fx).astype(int)
    order = np.argsort(ring.ravel(), kind="stable")
    bounds = np.searchsorted(ring.ravel()[order], np.arange(ring.max() + 2))
    return fy, fx, ring, order, bounds


def residual_spectrum(
    crop: np.ndarray, *, jpeg_grid: bool
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Log power spectrum of a square grey crop's texture minus the median of each frequency ring,
    the band where a display grid's beat can show, and the frequency coordinates (fy, fx).

    Shading is removed first (high-pass) and a Hann window applied. ``jpeg_grid``: the crop is at
    its encoded resolution, so the 8-pixel block grid's harmonics are left out of the band.
    """
    n = crop.shape[0]
    crop = crop.astype(np.float32)
    texture = crop - cv2.GaussianBlur(crop, (0, 0), 3.0)
    window = np.outer(np.hanning(n), np.hanning(n)).astype(np.float32)
    power = np.log(np.abs(np.fft.fftshift(np.fft.fft2(texture * window))) + 1e-6)
    fy, fx, ring, order, bounds = _rings(n)
    grouped = power.ravel()[order]
    medians = np.array([np.median(grouped[a:b]) for a, b in itertools.pairwise(bounds)])
    residual = power - medians[ring]
    band = (ring > 0.08 * n) & (ring < 0.48 * n)
    if jpeg_grid:
        step = n / 8.0  # JPEG blocks: peaks at multiples of n/8 on either axis
        on_grid = (np.abs(fx / step - np.round(fx / step)) * step <= 1) | (
            np.abs(fy / step - np.round(fy / step)) * step <= 1
        )
        band &= ~on_grid
    return residual, band, (fy, fx)


def screen_moire(image: np.ndarray, face: Face, weights: Mapping[str, float]) -> Signal:
    """Strongest isolated peak of the face's texture spectrum, above the median of its frequency ring.

    Measured at native resolution (no upscaling; faces above 256 px are reduced, which keeps a display
    grid's beat pattern, a low-frequency alias), after removing shading (high-pass) and with a Hann
    window. Natural texture has a smooth spectrum; a moire or a pixel grid is a sharp peak. Frequencies
    on the 8-pixel JPEG block grid are ignored when the crop is not resampled. Bona fide photos of the
    shared sets: 2.23 at the 95th percentile, 3.06 at most (one blurry, upscaled image); ramp from 2.7.
    """
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    side = int(min(face.box.width, face.box.height))
    cx, cy = (int(v) for v in face.box.center)
    x0 = min(max(0, cx - side // 2), max(0, gray.shape[1] - side))
    y0 = min(max(0, cy - side // 2), max(0, gray.shape[0] - side))
    crop = gray[y0 : y0 + side, x0 : x0 + side]
    n = min(crop.shape[:2])
    if n < 48:
        return Signal.inactive(
            "screen_moire", "liveness", weights["screen_moire"], f"face too small ({n} px)"
        )
    crop = crop[:n, :n]
    resampled = n > MOIRE_SIZE
    if resampled:
        crop = cv2.resize(crop, (MOIRE_SIZE, MOIRE_SIZE), interpolation=cv2.INTER_AREA).astype(
            np.float32
        )
        n = MOIRE_SIZE
    residual, band, (fy, fx) = residual_spectrum(crop, jpeg_grid=not resampled)
    value = float(residual[band].max())
    peak = np.unravel_index(np.argmax(np.where(band, residual, -np.inf)), residual.shape)
    period = n / max(1e-6, float(np.hypot(fy[peak], fx[peak])))
    return make_signal(
        "screen_moire",
        "liveness",
        value,
        MOIRE_RAMP,
        weights,
        "spectral peak prominence, ln units",
        peak_period_px=round(period, 2),
        analysed_px=n,
    )
