"""Passive (single-image) liveness of a selfie: hand-made cues, optionally MiniFASNet, one fused score.

The selfie is one image, so nothing here sees depth or motion; the cues look for traces of a second
capture (print or screen) and are individually weak (see :mod:`kycguard.liveness.image_cues`). The
trained MiniFASNet model, when configured, is the one strong single-image cue. Results always list
which detectors ran and why the others did not.
"""

from __future__ import annotations

import numpy as np

from kycguard.errors import ModelUnavailable
from kycguard.liveness.config import LivenessSettings
from kycguard.liveness.frame_edges import frame_edges
from kycguard.liveness.fusion import Ramp, fused_score
from kycguard.liveness.image_cues import (
    blur_check,
    micro_texture,
    print_attack,
    screen_moire,
    specular_reflection,
)
from kycguard.liveness.learned import LinearModel, calibrated_score, load_model, pad_features
from kycguard.liveness.minifasnet import MiniFASNet, MiniFASNetOptions
from kycguard.liveness.regions import FacePatch
from kycguard.liveness.types import LivenessResult, Signal
from kycguard.vision.types import Face

# MiniFASNet's P(real): upstream calls >= 0.5 real. Below 0.7 we start to doubt, at 0.1 it is decisive.
MINIFASNET_RAMP = Ramp(clear=0.7, alarm=0.1)


class PassiveLivenessDetector:
    """``assess(image, face)``: presentation-attack check of one selfie. Thread-safe."""

    def __init__(
        self,
        options: LivenessSettings,
        model: MiniFASNet | None,
        learned: LinearModel | None = None,
    ) -> None:
        self.options = options
        self._model = model
        self._learned = learned

    @classmethod
    def create_from_options(cls, options: LivenessSettings) -> PassiveLivenessDetector:
        """Loads MiniFASNet if a path is configured; a configured file that is missing or has the wrong
        hash raises :class:`~kycguard.errors.ModelUnavailable` (explicit configuration must work)."""
        model = None
        if options.minifasnet_path is not None:
            model = MiniFASNet.create_from_options(
                MiniFASNetOptions(options.minifasnet_path, options.minifasnet_sha256)
            )
        learned = None
        if options.pad_model_path is not None:
            learned = load_model(options.pad_model_path, options.pad_model_sha256, "pad")
            if "minifasnet_p_real" in _used(learned) and model is None:
                raise ModelUnavailable(
                    f"PAD model {options.pad_model_path} was trained with MiniFASNet's output: "
                    "set liveness.minifasnet_path too",
                    code="MODEL_INVALID",
                )
        if options.deepfake_model_path is not None:  # fail at start-up, not in the first session
            load_model(options.deepfake_model_path, options.deepfake_model_sha256, "deepfake")
        return cls(options, model, learned)

    @property
    def model_status(self) -> dict[str, str]:
        status = {
            "minifasnet": "inactive (liveness.minifasnet_path not set)"
            if self._model is None
            else f"loaded (scales {', '.join(f'{s:g}' for s in self._model.scales)})"
        }
        for kind, path, sha in (
            ("pad", self.options.pad_model_path, self.options.pad_model_sha256),
            ("deepfake", self.options.deepfake_model_path, self.options.deepfake_model_sha256),
        ):
            status[f"learned_{kind}"] = (
                f"inactive (liveness.{kind}_model_path not set)"
                if path is None
                else f"loaded ({path}, sha256 {sha})"
            )
        return status

    @property
    def learned(self) -> LinearModel | None:
        return self._learned

    def assess(self, image_rgb: np.ndarray, face: Face) -> LivenessResult:
        """Liveness of ``face`` (pixel coordinates of ``image_rgb``, RGB uint8)."""
        w = self.options.passive_weights
        signals: dict[str, Signal] = {}
        texture_ok = face.box.width >= self.options.min_texture_face_px
        small = f"face is {face.box.width:.0f} px wide; texture cues need {self.options.min_texture_face_px}"
        if face.landmarks is not None:
            patch = FacePatch.of(image_rgb, face)
            signals["blur_check"] = (
                blur_check(patch, w)
                if texture_ok
                else Signal.inactive("blur_check", "liveness", w["blur_check"], small)
            )
            signals["specular_reflection"] = specular_reflection(patch, w)
            signals["micro_texture"] = (
                micro_texture(patch, w)
                if texture_ok
                else Signal.inactive("micro_texture", "liveness", w["micro_texture"], small)
            )
            signals["print_attack"] = print_attack(patch, w)
        else:
            reason = "no MediaPipe landmarks for this face"
            for name in ("blur_check", "specular_reflection", "micro_texture", "print_attack"):
                signals[name] = Signal.inactive(name, "liveness", w[name], reason)
        signals["screen_moire"] = (
            screen_moire(image_rgb, face, w)
            if texture_ok
            else Signal.inactive("screen_moire", "liveness", w["screen_moire"], small)
        )
        signals["frame_edges"] = frame_edges(image_rgb, face, w)
        if self._model is not None:
            p_real = self._model.real_probability(image_rgb, face.box)
            signals["minifasnet"] = Signal(
                name="minifasnet",
                family="liveness",
                value=p_real,
                suspicion=MINIFASNET_RAMP(p_real),
                weight=w["minifasnet"],
                detail=f"MiniFASNet ensemble P(real) = {p_real:.3f} ({MINIFASNET_RAMP.describe()})",
                extra={"scales": self._model.scales},
            )
        inactive = {n: s.detail for n, s in signals.items() if not s.active}
        if self._model is None:
            inactive["minifasnet"] = (
                "no model configured (liveness.minifasnet_path; `kycguard models import`)"
            )
        detectors: dict[str, object] = {"fusion": "weighted_cues"}
        if self._model is not None:
            detectors["minifasnet"] = {
                "path": str(self.options.minifasnet_path),
                "sha256": self.options.minifasnet_sha256,
            }
        score = fused_score(signals.values())
        if self._learned is not None:
            learned = self._learned_signal(image_rgb, face, signals)
            score = calibrated_score(
                float(learned.value or 0.0),
                self._learned.threshold,
                self.options.live_threshold,
                liveness=True,
            )
            signals["learned_pad"] = learned
            detectors["fusion"] = "learned_pad"
            detectors["learned_pad"] = self._learned.describe()
        else:
            inactive["learned_pad"] = "no model configured (liveness.pad_model_path)"
        return LivenessResult(
            score=score,
            threshold=self.options.live_threshold,
            attack_threshold=self.options.attack_threshold,
            signals=signals,
            inactive_detectors=inactive,
            detectors=detectors,
        )

    def _learned_signal(
        self, image_rgb: np.ndarray, face: Face, signals: dict[str, Signal]
    ) -> Signal:
        assert self._learned is not None
        features = pad_features(image_rgb, face, signals)
        p = self._learned.probability(features)
        thr = self._learned.threshold
        return Signal(
            name="learned_pad",
            family="liveness",
            value=p,
            suspicion=p,
            weight=0.0,  # not fused: when present, it *is* the score (the cues are its inputs)
            detail=(
                f"trained PAD model P(attack) = {p:.3f}, operating threshold {thr:.3f} "
                f"(the liveness score maps {thr:.3f} to the live threshold "
                f"{self.options.live_threshold:g}); the other cues are its inputs"
            ),
            extra={"top_features": self._learned.contributions(features)},
        )

    def close(self) -> None:
        self._model = None


def _used(model: LinearModel) -> set[str]:
    """Features the model actually relies on (non-zero coefficient)."""
    return {n for n, c in zip(model.features, model.coef, strict=True) if abs(c) > 0}
