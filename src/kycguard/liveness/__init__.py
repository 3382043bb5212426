"""Presentation-attack (liveness), deepfake and injection detection from explainable cues.

Public API (import from the modules; this package imports nothing heavy so that the settings can
load :mod:`kycguard.liveness.config` cheaply):

- :class:`kycguard.liveness.passive.PassiveLivenessDetector` — ``create_from_options(LivenessSettings)``,
  ``assess(image_rgb, face) -> LivenessResult``, ``close()``: the ``/verify`` selfie.
- :func:`kycguard.liveness.sequence.assess_sequence` — ``(frames, options, *, embedder=None,
  passive=None) -> SequenceAssessment``: liveness, deepfake and injection scores of a session.
- :mod:`kycguard.liveness.types` — ``FrameSample``, ``Signal``, ``LivenessResult``, ``SequenceAssessment``.
- :mod:`kycguard.liveness.video` — decoding and face tracking of recorded clips (benchmarks, tests).
- :func:`kycguard.liveness.minifasnet_onnx.convert` — ``kycguard models import`` (needs torch).
- :mod:`kycguard.liveness.learned` — the trained PAD / clip models (JSON, numpy, pinned SHA-256),
  used by the two entry points above when ``liveness.pad_model_path`` / ``deepfake_model_path`` are
  set; trained by ``kycguard models train-pad|train-deepfake`` (:mod:`kycguard.bench.train`).

See README.md next to this file for what each cue measures and what the measurements cannot show.
"""
