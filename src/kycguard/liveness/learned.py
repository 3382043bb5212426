"""Learned detectors: a logistic regression over explainable features, stored as JSON, run with numpy.

Two kinds, trained by ``kycguard models train-pad`` / ``train-deepfake`` (:mod:`kycguard.bench.train`)
and never at run time:

- ``pad`` (one image): colour-texture LBP histograms of the face in HSV and YCbCr (Boulkenafet et
  al. 2016), the hand-made cue values of :mod:`kycguard.liveness.image_cues` (blur, micro texture,
  skin chroma, black level, clipped highlights, moire, framing edges), the face's top-octave spectral
  share, and MiniFASNet's P(real) when the model was trained with it.
- ``deepfake`` (a clip): per sampled frame, the LBP histograms inside the face oval and the
  chi-square distance to those of its surroundings (a pasted face has its own texture statistics),
  the frequency and blending cues of :mod:`kycguard.liveness.deepfake`, and the screen-replay cues
  (moire, gamut, highlights, framing edges); each pooled over time as mean and standard deviation,
  plus the landmark jitter of the tracks.

A model file is JSON: feature names, the standardisation (mean, scale), coefficients, intercept and
the operating threshold on P(attack) chosen on training data only (the largest threshold keeping the
bona fide error at the target, see :mod:`kycguard.bench.train`). Missing features (a cue that could
not be measured) are imputed with the training mean, i.e. contribute nothing. The file is loaded from
a path with its pinned SHA-256, like every model; its card (``<file>.card.json``) says what it was
trained on and how it was measured.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from kycguard.errors import ModelUnavailable
from kycguard.liveness.deepfake import _face_square, top_octave_share
from kycguard.liveness.frame_edges import frame_edges
from kycguard.liveness.image_cues import print_attack, screen_moire, specular_reflection
from kycguard.liveness.regions import FacePatch
from kycguard.liveness.texture import colour_lbp, colour_lbp_names, lbp_code_histograms
from kycguard.liveness.types import FrameSample, Signal
from kycguard.vision.model_files import verify_file
from kycguard.vision.types import Face

ModelKind = Literal["pad", "deepfake"]
FORMAT = "kycguard-linear-v1"
FEATURE_VERSION = 2  # bump when a feature's definition changes: old models and caches are refused
FACE_MARGIN = (
    0.2  # the LBP crop is the face box grown by this on every side (keeps print/bezel edges)
)


# ---------------------------------------------------------------- features of one image (PAD)


def _value(signals: Mapping[str, Signal], name: str, key: str | None = None) -> float:
    s = signals.get(name)
    if s is None or not s.active:
        return math.nan
    if key is not None:
        v = s.extra.get(key)
        return math.nan if v is None else float(v)
    return math.nan if s.value is None else float(s.value)


def cue_features(signals: Mapping[str, Signal]) -> dict[str, float]:
    """The single-image cue values (raw, not their ramps) as features."""
    blur = _value(signals, "blur_check")
    return {
        "log_blur": math.log1p(blur) if math.isfinite(blur) else math.nan,
        "micro_texture": _value(signals, "micro_texture"),
        "skin_chroma": _value(signals, "print_attack", "skin_chroma"),
        "black_level": _value(signals, "print_attack", "black_level"),
        "specular": _value(signals, "specular_reflection"),
        "screen_moire": _value(signals, "screen_moire"),
        "frame_edges": _value(signals, "frame_edges"),
    }


def face_crop(image_rgb: np.ndarray, face: Face, margin: float = FACE_MARGIN) -> np.ndarray:
    x, y, w, h = face.box.expanded(margin, image_rgb.shape).as_int()
    return image_rgb[y : y + max(h, 2), x : x + max(w, 2)]


def pad_features(
    image_rgb: np.ndarray, face: Face, signals: Mapping[str, Signal]
) -> dict[str, float]:
    """Every PAD feature of one face: LBP colour texture, spectrum and the passive cue values.

    ``signals`` are the :class:`PassiveLivenessDetector` signals of the same face (their values are
    reused, so the features at run time are exactly those the model was trained on)."""
    out = dict(zip(colour_lbp_names("lbp"), colour_lbp(face_crop(image_rgb, face)), strict=True))
    gray = cv2.cvtColor(face_crop(image_rgb, face, 0.0), cv2.COLOR_RGB2GRAY)
    out["top_octave"] = top_octave_share(gray) if min(gray.shape) >= 32 else math.nan
    out |= cue_features(signals)
    out["minifasnet_p_real"] = _value(signals, "minifasnet")
    out["cue_evidence"] = cue_evidence(signals, PASSIVE_FUSED)
    return out


# Today's hand-weighted fusions, fed to the models as one feature each (``sum(weight * suspicion)``,
# i.e. -ln(score/100) of :func:`kycguard.liveness.fusion.fused_score`) so that a model starts from the
# judgement it replaces. Sequence: the deepfake cues that need no embedder and no 8 s of face.
PASSIVE_FUSED = (
    "blur_check", "specular_reflection", "micro_texture", "print_attack", "screen_moire",
    "frame_edges", "minifasnet",
)  # fmt: skip
DEEPFAKE_FUSED = ("frequency_artifacts", "blending_boundary", "landmark_jitter")


def cue_evidence(signals: Mapping[str, Signal], names: Sequence[str]) -> float:
    """Weighted evidence of the hand-made fusion over ``names`` (NaN when none of them is active)."""
    active = [signals[n] for n in names if n in signals and signals[n].active]
    if not active:
        return math.nan
    return float(sum(s.weight * (s.suspicion or 0.0) for s in active))


# ---------------------------------------------------------------- features of a clip (deepfake)


def frame_features(frame: FrameSample, signals: Mapping[str, Signal]) -> dict[str, float]:
    """Face-boundary texture and spectrum of one frame, plus its single-image cue values."""
    assert frame.face is not None
    out: dict[str, float] = {}
    patch = FacePatch.of(frame.rgb, frame.face, width=128, margin=0.35)
    inside, outside = patch.skin, ~patch.oval
    if inside.sum() > 50 and outside.sum() > 50:
        ycc = cv2.cvtColor(patch.rgb, cv2.COLOR_RGB2YCrCb)
        for i, ch in enumerate(("y", "cr", "cb")):
            h_in, _outside, dist = lbp_code_histograms(ycc[..., i], inside, outside)
            out |= {f"face_lbp_{ch}_{b}": float(v) for b, v in enumerate(h_in)}
            out[f"boundary_chi2_{ch}"] = dist
        lap = np.abs(cv2.Laplacian(patch.gray, cv2.CV_32F))
        out["blend_ratio"] = float(lap[inside].mean() / max(float(lap[outside].mean()), 1e-6))
    sq = _face_square(frame)
    out["top_octave"] = top_octave_share(sq) if sq is not None else math.nan
    cues = cue_features(signals)
    for name in ("skin_chroma", "black_level", "specular", "screen_moire", "frame_edges"):
        out[name] = cues[name]
    return out


def frame_cue_signals(frame: FrameSample) -> dict[str, Signal]:
    """The single-image cues a screen replay would trip (gamut, highlights, moire, bezel edges)."""
    assert frame.face is not None
    weights = dict.fromkeys(
        ("print_attack", "specular_reflection", "screen_moire", "frame_edges"), 1.0
    )
    patch = FacePatch.of(frame.rgb, frame.face)
    return {
        "print_attack": print_attack(patch, weights),
        "specular_reflection": specular_reflection(patch, weights),
        "screen_moire": screen_moire(frame.rgb, frame.face, weights),
        "frame_edges": frame_edges(frame.rgb, frame.face, weights),
    }


def clip_features(
    frames: Sequence[FrameSample], sequence_signals: Mapping[str, Signal]
) -> dict[str, float]:
    """Per-frame features of the sampled ``frames`` pooled over time, plus track-level cues."""
    usable = [f for f in frames if f.face is not None and f.face.landmarks is not None]
    per_frame = [frame_features(f, frame_cue_signals(f)) for f in usable]
    out = pool_frames(per_frame)
    out["landmark_jitter"] = _value(sequence_signals, "landmark_jitter")
    out["cue_evidence"] = cue_evidence(sequence_signals, DEEPFAKE_FUSED)
    return out


def pool_frames(per_frame: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Mean and standard deviation over frames of every per-frame feature (NaNs ignored)."""
    names = sorted({n for f in per_frame for n in f})
    out: dict[str, float] = {}
    for n in names:
        v = np.array([f.get(n, math.nan) for f in per_frame], float)
        v = v[np.isfinite(v)]
        out[f"{n}_mean"] = float(v.mean()) if v.size else math.nan
        out[f"{n}_std"] = float(v.std()) if v.size > 1 else math.nan
    return out


# ---------------------------------------------------------------- the model


@dataclass(frozen=True)
class LinearModel:
    """Logistic regression on standardised features: ``probability(features)`` = P(attack/fake)."""

    kind: ModelKind
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float  # P(attack) at or above which the sample is an attack at the operating point
    card: dict[str, Any] = field(default_factory=dict)
    sha256: str | None = None
    path: str | None = None

    def vector(self, values: Mapping[str, float]) -> np.ndarray:
        x = np.array([values.get(n, math.nan) for n in self.features], float)
        return np.where(np.isfinite(x), x, self.mean)

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        x = np.where(np.isfinite(matrix), matrix, self.mean)
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))

    def probability(self, values: Mapping[str, float]) -> float:
        return float(self.probabilities(self.vector(values)[None])[0])

    def contributions(self, values: Mapping[str, float], top: int = 5) -> dict[str, float]:
        """The ``top`` features pushing hardest either way (coefficient x standardised value)."""
        z = (self.vector(values) - self.mean) / self.scale * self.coef
        order = np.argsort(-np.abs(z))[:top]
        return {self.features[i]: round(float(z[i]), 3) for i in order}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "feature_version": FEATURE_VERSION,
            "kind": self.kind,
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "threshold": self.threshold,
            "card": self.card,
        }

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1, sort_keys=True) + "\n")

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], *, sha256: str | None = None, path: str | None = None
    ) -> LinearModel:
        if data.get("format") != FORMAT or data.get("feature_version") != FEATURE_VERSION:
            raise ValueError(
                f"format {data.get('format')!r} v{data.get('feature_version')}, "
                f"expected {FORMAT!r} v{FEATURE_VERSION}: retrain with `kycguard models train-*`"
            )
        n = len(data["features"])
        arrays = [np.asarray(data[k], float) for k in ("mean", "scale", "coef")]
        if any(a.shape != (n,) for a in arrays) or not np.all(arrays[1] > 0):
            raise ValueError("mean/scale/coef must be one finite number per feature (scale > 0)")
        return cls(
            kind=data["kind"],
            features=tuple(data["features"]),
            mean=arrays[0],
            scale=arrays[1],
            coef=arrays[2],
            intercept=float(data["intercept"]),
            threshold=float(data["threshold"]),
            card=dict(data.get("card", {})),
            sha256=sha256,
            path=path,
        )

    def describe(self) -> dict[str, Any]:
        """What every answer says about the model that ran."""
        return {
            "path": self.path,
            "sha256": self.sha256,
            "kind": self.kind,
            "features": len(self.features),
            "threshold": round(self.threshold, 4),
            "trained_at": self.card.get("trained_at"),
        }


def load_model(path: Path, sha256: str | None, kind: ModelKind) -> LinearModel:
    """Verified (pinned SHA-256) and parsed model file; cached per file version.

    Raises :class:`ModelUnavailable` (``MODEL_FILE_MISSING``, ``MODEL_HASH_MISMATCH`` or
    ``MODEL_INVALID``): an explicitly configured model must work or the service must not start."""
    verified = verify_file(Path(path), sha256)
    return _parsed(verified, sha256, kind, verified.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _parsed(path: Path, sha256: str | None, kind: str, mtime_ns: int) -> LinearModel:
    try:
        model = LinearModel.from_json(json.loads(path.read_text()), sha256=sha256, path=str(path))
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelUnavailable(
            f"{path} is not a kycguard {kind} model: {exc}",
            code="MODEL_INVALID",
            details={"path": str(path)},
        ) from exc
    if model.kind != kind:
        raise ModelUnavailable(
            f"{path} is a {model.kind} model, configured as {kind}",
            code="MODEL_INVALID",
            details={"path": str(path), "kind": model.kind},
        )
    return model


def calibrated_score(p: float, threshold: float, at_threshold: float, *, liveness: bool) -> float:
    """Map P(attack) onto a family's 0..100 scale so the model's operating point lands on the
    configured verdict threshold (``at_threshold``): piecewise linear through (0, clean end),
    (threshold, at_threshold), (1, attack end)."""
    if liveness:  # 100 = live
        if p <= threshold:
            return 100.0 - (100.0 - at_threshold) * p / max(threshold, 1e-9)
        return at_threshold * (1.0 - p) / max(1.0 - threshold, 1e-9)
    if p < threshold:  # 100 = fake
        return at_threshold * p / max(threshold, 1e-9)
    return at_threshold + (100.0 - at_threshold) * (p - threshold) / max(1.0 - threshold, 1e-9)
