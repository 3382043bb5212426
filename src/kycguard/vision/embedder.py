"""Face-embedding models behind one Protocol: dlib's ResNet (default) or an ONNX model by path."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from kycguard.errors import ModelUnavailable
from kycguard.vision.dlib_models import DlibResNetEmbedder, DlibResNetEmbedderOptions
from kycguard.vision.model_files import verify_file
from kycguard.vision.types import MP_MOUTH_LEFT, MP_MOUTH_RIGHT, MP_NOSE_TIP, Face

# ArcFace's canonical 5 points for a 112x112 chip: eye centres (image left, right), nose tip, mouth corners.
ARCFACE_TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)


class FaceEmbedder(Protocol):
    name: str

    def embed(self, image: np.ndarray, face: Face, *, mirror: bool = False) -> np.ndarray:
        """The embedding of ``face``'s aligned chip, or of its mirror image."""
        ...


class DlibEmbedder:
    name = "dlib_resnet_v1"

    def __init__(self, model: DlibResNetEmbedder) -> None:
        self._model = model

    @classmethod
    def create(cls, model_path: Path | None = None) -> DlibEmbedder:
        opts = DlibResNetEmbedderOptions(model_path=model_path)
        return cls(DlibResNetEmbedder.create_from_options(opts))

    def embed(self, image: np.ndarray, face: Face, *, mirror: bool = False) -> np.ndarray:
        chip = self._model.chip(image, face)
        return self._model.embed_chips([np.ascontiguousarray(chip[:, ::-1]) if mirror else chip])


@dataclass(frozen=True)
class OnnxEmbedderOptions:
    model_path: Path
    sha256: str | None
    input_size: int = 112


class OnnxEmbedder:
    """Any ArcFace-style ONNX model: input (1, 3, S, S) RGB scaled to [-1, 1], output one vector.

    Chips are aligned on eye centres, nose tip and mouth corners taken from MediaPipe's mesh, so it
    needs a face with landmarks (MediaPipe detector). Outputs are L2-normalised.
    """

    name = "onnx"

    def __init__(self, options: OnnxEmbedderOptions, session: object) -> None:
        self.options = options
        self._session = session
        self._input = session.get_inputs()[0].name  # type: ignore[attr-defined]
        self._lock = threading.Lock()

    @classmethod
    def create_from_options(cls, options: OnnxEmbedderOptions) -> OnnxEmbedder:
        import onnxruntime as ort

        path = verify_file(options.model_path, options.sha256)
        try:
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelUnavailable(
                f"cannot load ONNX model {path}: {exc}", code="MODEL_INVALID"
            ) from exc
        return cls(options, session)

    def chip(self, image: np.ndarray, face: Face) -> np.ndarray:
        if face.landmarks is None:
            raise ModelUnavailable(
                "the ONNX embedder needs MediaPipe landmarks", code="MODEL_INVALID"
            )
        m = face.landmarks[:, :2]
        kp = face.keypoints5
        src = np.array(
            [kp[2:4].mean(0), kp[0:2].mean(0), m[MP_NOSE_TIP], m[MP_MOUTH_LEFT], m[MP_MOUTH_RIGHT]],
            dtype=np.float32,
        )
        size = self.options.input_size
        dst = ARCFACE_TEMPLATE_112 * (size / 112.0)
        matrix, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
        return cv2.warpAffine(image, matrix, (size, size), borderMode=cv2.BORDER_REPLICATE)

    def embed(self, image: np.ndarray, face: Face, *, mirror: bool = False) -> np.ndarray:
        chip = self.chip(image, face)
        if mirror:
            chip = chip[:, ::-1]
        batch = ((chip.astype(np.float32) - 127.5) / 127.5).transpose(2, 0, 1)[None]
        with self._lock:
            output = self._session.run(None, {self._input: batch})[0]  # type: ignore[attr-defined]
        vec = np.asarray(output, dtype=np.float32).reshape(-1)
        return vec / max(float(np.linalg.norm(vec)), 1e-12)
