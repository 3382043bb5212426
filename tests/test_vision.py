"""Face detection, landmarks, embeddings and quality on real photos."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from kycguard.errors import ModelUnavailable
from kycguard.services.runtime import Vision, build_vision
from kycguard.settings import QualitySettings, Settings
from kycguard.vision import quality
from kycguard.vision.embedder import OnnxEmbedder, OnnxEmbedderOptions
from kycguard.vision.image_io import decode_image
from kycguard.vision.matcher import FaceSample
from kycguard.vision.model_files import sha256_of


@pytest.fixture(scope="module")
def vision() -> Iterator[Vision]:
    v = build_vision(Settings())
    yield v
    v.close()


def load(path: Path) -> np.ndarray:
    return decode_image(path.read_bytes(), field=path.name, max_bytes=1 << 26, max_pixels=1 << 27)


def sample(vision: Vision, image: np.ndarray) -> FaceSample:
    faces = vision.detector.detect(image)
    assert len(faces) == 1
    return FaceSample(image, faces[0])


def test_landmarks_pose_and_keypoints_on_a_real_portrait(
    vision: Vision, astronaut: np.ndarray
) -> None:
    faces = vision.detector.detect(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert face.landmarks is not None and face.landmarks.shape == (478, 3)
    assert {"eyeBlinkLeft", "jawOpen", "mouthSmileLeft"} <= set(face.blendshapes)
    # the astronaut's face sits in the upper middle of the 512 x 512 image
    cx, cy = face.box.center
    assert 150 < cx < 300 and 60 < cy < 240
    assert face.pose is not None and abs(face.pose.yaw) < 30 and abs(face.pose.roll) < 25
    # keypoints follow dlib's order: image-right eye, image-left eye, nose below both
    assert face.keypoints5[0, 0] > face.keypoints5[2, 0]
    assert face.keypoints5[4, 1] > face.keypoints5[:4, 1].max()


def test_same_person_matches_and_different_person_does_not(
    vision: Vision, fr_test_images: Path
) -> None:
    """face_recognition's own upstream expectation: obama ~ obama2, obama3; obama !~ biden."""
    obama = sample(vision, load(fr_test_images / "obama.jpg"))
    matcher = vision.matcher
    for other in ("obama2.jpg", "obama3.jpg"):
        result = matcher.compare(obama, sample(vision, load(fr_test_images / other)))
        assert result.is_match, (other, result)
        assert result.confidence > 90
    biden = matcher.compare(obama, sample(vision, load(fr_test_images / "biden.jpg")))
    assert not biden.is_match and biden.distance > 0.62
    assert biden.confidence < 5


def test_embedding_accepts_a_cropped_view(vision: Vision, astronaut: np.ndarray) -> None:
    """A crop is a non-contiguous view; dlib refuses those unless the embedder copies."""
    view = astronaut[10:500, 20:490]
    assert not view.flags["C_CONTIGUOUS"]
    face = vision.detector.detect(view)[0]
    assert vision.matcher.embedder.embed(view, face).shape == (128,)


def test_group_photo_finds_every_face(vision: Vision, eval_data: Path) -> None:
    """Faces ~9 % of a 2000 px frame: BlazeFace misses them on the whole image, tiles find both."""
    image = load(eval_data / "faces/face_recognition_examples/multi_face/obama_and_biden.jpg")
    faces = vision.detector.detect(image, search="pyramid")
    assert len(faces) == 2
    assert (
        abs(faces[0].box.center[0] - faces[1].box.center[0]) > 2 * faces[0].box.width
    )  # two people


def test_small_face_found_only_by_pyramid_search(vision: Vision, astronaut: np.ndarray) -> None:
    canvas = np.full((1600, 1600, 3), 235, np.uint8)
    small = cv2.resize(astronaut, (400, 400), interpolation=cv2.INTER_AREA)
    canvas[1100:1500, 1100:1500] = small
    assert vision.detector.detect(canvas) == []
    faces = vision.detector.detect(canvas, search="pyramid")
    assert len(faces) == 1
    cx, cy = faces[0].box.center
    assert 1100 < cx < 1500 and 1100 < cy < 1500


def test_quality_flags_blur_and_darkness(vision: Vision, astronaut: np.ndarray) -> None:
    qs = QualitySettings()
    face = vision.detector.detect(astronaut)[0]
    sharp = quality.assess(astronaut, face, 1, qs, document=False)
    assert sharp.check("blur").passed and sharp.check("exposure").passed  # type: ignore[union-attr]
    blurred = cv2.GaussianBlur(astronaut, (0, 0), 4)
    assert not quality.assess(blurred, face, 1, qs, document=False).check("blur").passed  # type: ignore[union-attr]
    dark = (astronaut * 0.15).astype(np.uint8)
    report = quality.assess(dark, face, 1, qs, document=False)
    assert not report.check("exposure").passed  # type: ignore[union-attr]
    assert report.score < sharp.score


def tiny_onnx_embedder(path: Path, size: int = 32) -> None:
    """A real ONNX graph: average-pool the chip to 4x4 per channel and flatten (48-D)."""
    import onnx
    from onnx import TensorProto, helper

    k = size // 4
    graph = helper.make_graph(
        [
            helper.make_node("AveragePool", ["x"], ["p"], kernel_shape=[k, k], strides=[k, k]),
            helper.make_node("Flatten", ["p"], ["y"], axis=1),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 48])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)


def test_onnx_embedding_model_by_path(
    vision: Vision, astronaut: np.ndarray, tmp_path: Path
) -> None:
    path = tmp_path / "tiny.onnx"
    tiny_onnx_embedder(path)
    embedder = OnnxEmbedder.create_from_options(
        OnnxEmbedderOptions(path, sha256_of(path), input_size=32)
    )
    face = vision.detector.detect(astronaut)[0]
    vec = embedder.embed(astronaut, face)
    assert vec.shape == (48,) and np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)
    chip = embedder.chip(astronaut, face)
    # the graph is a 4x4 average pool: its output is reproducible from the aligned chip by hand
    expected = (
        ((chip.astype(np.float32) - 127.5) / 127.5)
        .reshape(4, 8, 4, 8, 3)
        .mean(axis=(1, 3))
        .transpose(2, 0, 1)
    )
    expected = expected.reshape(-1) / np.linalg.norm(expected)
    assert np.allclose(vec, expected, atol=1e-4)


def test_onnx_model_with_wrong_hash_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tiny.onnx"
    tiny_onnx_embedder(path)
    with pytest.raises(ModelUnavailable) as info:
        OnnxEmbedder.create_from_options(OnnxEmbedderOptions(path, "0" * 64, input_size=32))
    assert info.value.code == "MODEL_HASH_MISMATCH"


def test_onnx_model_selected_through_settings(
    env: pytest.MonkeyPatch, tmp_path: Path, astronaut: np.ndarray
) -> None:
    path = tmp_path / "tiny.onnx"
    tiny_onnx_embedder(path)
    env.setenv("KYCGUARD_MODELS__ONNX_EMBEDDING_PATH", str(path))
    env.setenv("KYCGUARD_MODELS__ONNX_EMBEDDING_SHA256", sha256_of(path))
    env.setenv("KYCGUARD_MODELS__ONNX_EMBEDDING_INPUT_SIZE", "32")
    v = build_vision(Settings())
    try:
        assert v.matcher.embedder.name == "onnx"
        a = sample(v, astronaut)
        shifted = np.pad(astronaut, ((40, 0), (0, 40), (0, 0)), mode="edge")[:512, 40:]
        result = v.matcher.compare(a, sample(v, np.ascontiguousarray(shifted)))
        assert not result.calibrated
        assert result.distance < 0.1  # alignment undoes the shift: the chips are nearly identical
    finally:
        v.close()


def test_the_landmarker_loads_without_matplotlib_and_matplotlib_still_works() -> None:
    """mediapipe's drawing helpers import pyplot (~40 MiB per worker); a fresh process that
    loads the landmarker must not hold matplotlib, and a later ``import matplotlib.pyplot``
    (the benchmarks' plots) gets the real package."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from kycguard.vision.landmarker import FaceLandmarker, FaceLandmarkerOptions\n"
        "with FaceLandmarker.create_from_options(FaceLandmarkerOptions()):\n"
        "    print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))\n"
        "import matplotlib.pyplot as plt\n"
        "print(callable(plt.figure), plt.__file__.endswith('pyplot.py'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert done.stdout.split("\n")[:2] == ["[]", "True True"], done.stdout + done.stderr
