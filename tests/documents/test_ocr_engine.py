"""The OCR engine's detector, re-opened for a lower memory peak, finds what rapidocr's session finds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np


def test_reopened_detector_finds_the_same_boxes(ocr_engine: Any, documents_data: Path) -> None:
    import onnxruntime as ort

    infer = ocr_engine._det.infer
    ours = infer.session
    level = ours.get_session_options().graph_optimization_level
    assert level == ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    image = cv2.imread(str(documents_data / "mrz_specimens" / "images" / "passport_uk.jpg"))
    assert image is not None
    boxes = ocr_engine.detect(image, 800)

    opts = ort.SessionOptions()  # rapidocr's own: every optimisation, NCHWc layout included
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.enable_cpu_mem_arena = False
    opts.intra_op_num_threads = 1
    infer.session = ort.InferenceSession(ours._model_path, opts, providers=["CPUExecutionProvider"])
    try:
        reference = ocr_engine.detect(image, 800)
    finally:
        infer.session = ours
    assert len(boxes) == len(reference) > 20
    for got, want in zip(boxes, reference, strict=True):
        np.testing.assert_allclose(got, want, atol=1.0)
