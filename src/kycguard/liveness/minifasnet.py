"""Optional MiniFASNet presentation-attack model, run with onnxruntime.

The ONNX file is made once by ``kycguard models import`` (see :mod:`kycguard.liveness.minifasnet_onnx`)
and found by path in the settings; its SHA-256 is checked before it is loaded. Inputs follow upstream
(Silent-Face-Anti-Spoofing) exactly, because the weights only mean something on what they were
trained with: a square-ish crop of ``scale`` x the face box, shifted to stay inside the image, resized to
80x80, BGR, float 0..255 without normalisation. Output: softmax over 3 classes, index 1 = real.

Upstream's box comes from a RetinaFace detector; ours is MediaPipe's landmark box, which is slightly
tighter. On the three silent_face images both give the same decisions (measured in the tests).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from kycguard.errors import ModelUnavailable
from kycguard.vision.model_files import verify_file
from kycguard.vision.types import BoundingBox

REAL_INDEX = 1
INPUT_SIZE = 80


def crop_box(shape: tuple[int, ...], box: BoundingBox, scale: float) -> tuple[int, int, int, int]:
    """Upstream's ``CropImage._get_new_box``: scale the box about its centre, slide it inside the image."""
    src_h, src_w = shape[:2]
    scale = min((src_h - 1) / box.height, (src_w - 1) / box.width, scale)
    new_w, new_h = box.width * scale, box.height * scale
    cx, cy = box.x + box.width / 2, box.y + box.height / 2
    x0, y0, x1, y1 = cx - new_w / 2, cy - new_h / 2, cx + new_w / 2, cy + new_h / 2
    if x0 < 0:
        x1, x0 = x1 - x0, 0.0
    if y0 < 0:
        y1, y0 = y1 - y0, 0.0
    if x1 > src_w - 1:
        x0, x1 = x0 - (x1 - src_w + 1), src_w - 1.0
    if y1 > src_h - 1:
        y0, y1 = y0 - (y1 - src_h + 1), src_h - 1.0
    return int(x0), int(y0), int(x1), int(y1)


def model_input(image_rgb: np.ndarray, box: BoundingBox, scale: float) -> np.ndarray:
    """(1, 3, 80, 80) float32 BGR 0..255 crop, as upstream feeds it."""
    x0, y0, x1, y1 = crop_box(image_rgb.shape, box, scale)
    crop = image_rgb[y0 : y1 + 1, x0 : x1 + 1, ::-1]
    crop = cv2.resize(np.ascontiguousarray(crop), (INPUT_SIZE, INPUT_SIZE))
    return crop.transpose(2, 0, 1)[None].astype(np.float32)


@dataclass(frozen=True)
class MiniFASNetOptions:
    model_path: Path
    sha256: str | None


class MiniFASNet:
    """The converted MiniFASNet ensemble: ``real_probability(image, box)`` in 0..1."""

    def __init__(
        self, options: MiniFASNetOptions, session: object, scales: dict[str, float]
    ) -> None:
        self.options = options
        self._session = session
        self._scales = scales  # input name -> crop scale
        self._lock = threading.Lock()

    @classmethod
    def create_from_options(cls, options: MiniFASNetOptions) -> MiniFASNet:
        import onnxruntime as ort

        path = verify_file(options.model_path, options.sha256)
        try:
            so = ort.SessionOptions()
            so.intra_op_num_threads = 1  # 80x80 inputs: threads cost more than they save
            session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelUnavailable(
                f"cannot load MiniFASNet model {path}: {exc}", code="MODEL_INVALID"
            ) from exc
        scales: dict[str, float] = {}
        for inp in session.get_inputs():
            if not inp.name.startswith("crop_scale_"):
                raise ModelUnavailable(
                    f"{path} is not a kycguard MiniFASNet file (input {inp.name!r}); convert it with "
                    "`kycguard models import`",
                    code="MODEL_INVALID",
                )
            scales[inp.name] = float(inp.name.removeprefix("crop_scale_"))
        return cls(options, session, scales)

    @property
    def scales(self) -> list[float]:
        return sorted(self._scales.values())

    def real_probability(self, image_rgb: np.ndarray, box: BoundingBox) -> float:
        feeds = {name: model_input(image_rgb, box, scale) for name, scale in self._scales.items()}
        with self._lock:
            probs = self._session.run(["probabilities"], feeds)[0]  # type: ignore[attr-defined]
        return float(np.asarray(probs)[0, REAL_INDEX])
