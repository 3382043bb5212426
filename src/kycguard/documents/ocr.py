"""One OCR engine for the document code: the PP-OCR models bundled in ``rapidocr-onnxruntime``.

Loading the three ONNX sessions takes about a second, so an :class:`OcrEngine` is created once and
reused. Besides rapidocr's plain text results it exposes what the MRZ reader needs and rapidocr's own
API hides: the detector's boxes on a downscaled copy, and the recogniser's per-frame class
probabilities folded onto the 37 MRZ characters. Debian's ``tesseract`` is an optional second reader
(used where its reading validates and ours does not); it is called as a program, not linked.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from threading import Lock
from typing import Any

import cv2
import numpy as np

from kycguard.documents.mrz.parse import ALPHABET, DIGITS, LETTERS

log = logging.getLogger(__name__)

# Glyphs the recogniser's 6,600-class vocabulary may use for an MRZ character.
_LOOKALIKES: dict[str, str] = {"<": "＜≤《〈‹«く"}
_BLANK_LIKE = " 　"


@dataclass
class LineProbs:
    """Per-frame log probabilities over (blank, ALPHABET...) for one strip, plus how MRZ-like it is."""

    log_probs: np.ndarray  # frames x 38
    mrz_mass: float  # share of the non-blank probability mass that falls on MRZ characters
    raw_text: str  # the recogniser's own greedy reading over its full vocabulary


class OcrEngine:
    """The bundled PP-OCRv4 detector and recogniser, loaded once; safe to share between threads."""

    def __init__(self, threads: int = 0) -> None:
        from rapidocr_onnxruntime import RapidOCR

        kwargs: dict[str, object] = {"print_verbose": False}
        if threads > 0:
            kwargs["intra_op_num_threads"] = threads
            kwargs["inter_op_num_threads"] = 1
        self._engine = RapidOCR(**kwargs)
        self._det = self._engine.text_det
        self._rec = self._engine.text_rec
        _reopen_detector(self._det.infer)
        self._lock = Lock()
        vocabulary: list[str] = list(self._rec.postprocess_op.character)
        self._vocabulary = vocabulary
        index: dict[str, int] = {}
        for i, ch in enumerate(vocabulary):
            index.setdefault(ch, i)
        groups = []
        for ch in ALPHABET:
            variants = {ch} | set(_LOOKALIKES.get(ch, ""))
            if ch in LETTERS:
                variants.add(ch.lower())
            if ch in LETTERS or ch in DIGITS:
                variants.add(chr(ord(ch) + 0xFEE0))  # full-width form
            groups.append(sorted(index[v] for v in variants if v in index))
        blank = [0] + [index[c] for c in _BLANK_LIKE if c in index]
        self._groups = [blank, *groups]
        self._fold = np.zeros((len(vocabulary), len(self._groups)), dtype=np.float32)
        for k, members in enumerate(self._groups):
            self._fold[members, k] = 1.0

    # -- detection -------------------------------------------------------------------------
    def detect(self, image_bgr: np.ndarray, max_side: int) -> list[np.ndarray]:
        """Text quadrilaterals in the coordinates of ``image_bgr``, detected on a copy whose
        longer side is at most ``max_side`` (detection cost grows with the pixel count).

        rapidocr's own entry point scales small images *up* to 736 px on the short side; calling
        the network with our own size limit keeps a phone photo at a predictable cost."""
        from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

        h, w = image_bgr.shape[:2]
        prep = DetPreProcess(max_side, "max", self._det.mean, self._det.std)
        tensor = prep(image_bgr)
        if tensor is None:
            return []
        with self._lock:
            preds = self._det.infer(tensor)[0]
            boxes, _ = self._det.postprocess_op(preds, (h, w))
        boxes = self._det.filter_tag_det_res(boxes, (h, w))
        return [np.asarray(b, dtype=np.float32) for b in boxes]

    # -- recognition -----------------------------------------------------------------------
    def _run_rec(self, strips: list[np.ndarray]) -> list[np.ndarray]:
        """Class probabilities (frames x vocabulary) per strip; strips are BGR, 48 px high."""
        if not strips:
            return []
        order = np.argsort([s.shape[1] for s in strips])
        out: list[np.ndarray] = [np.empty(0)] * len(strips)
        batch = 6
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            width = max(strips[i].shape[1] for i in idx)
            tensor = np.zeros((len(idx), 3, 48, width), dtype=np.float32)
            for row, i in enumerate(idx):
                s = strips[i].astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0
                tensor[row, :, :, : s.shape[2]] = s
            with self._lock:
                preds = self._rec.session(tensor)[0]
            for row, i in enumerate(idx):
                frames = int(np.ceil(strips[i].shape[1] / width * preds.shape[1]))
                out[i] = preds[row, :frames]
        return out

    def line_probs(self, strips: list[np.ndarray]) -> list[LineProbs]:
        """MRZ-alphabet log probabilities for each strip (see :mod:`kycguard.documents.mrz.decode`)."""
        results = []
        for probs in self._run_rec(strips):
            folded = probs @ self._fold
            total = folded.sum(axis=1, keepdims=True)
            normalised = folded / np.maximum(total, 1e-9)
            ink = 1.0 - probs[:, 0]
            mass = float(
                (folded[:, 1:].sum(axis=1) * ink).sum() / max(float((ink * ink).sum()), 1e-6)
            )
            results.append(
                LineProbs(
                    np.log(np.maximum(normalised, 1e-9)), min(1.0, mass), self._decoded(probs)[0]
                )
            )
        return results

    def upside_down_score(self, strips: list[np.ndarray]) -> float:
        """Evidence (-1..1, positive: rotated 180 degrees) from PP-OCR's direction classifier.

        It is cheap (a few ms) but unsure on MRZ strips, so callers use it to choose which
        orientation to read first, not to decide."""
        if not strips:
            return 0.0
        with self._lock:
            _, results, _ = self._engine.text_cls(strips)
        votes = [float(conf) if label == "180" else -float(conf) for label, conf in results]
        return float(np.mean(votes))

    def recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """Plain text and mean confidence of BGR crops of single text lines (any size).

        Each crop is recognised at its own width (48 px high), not padded to rapidocr's 320 px
        minimum and its batch's widest crop: the recogniser's cost is linear in the width, and
        visual-zone fields are mostly short (a 90 px "GBR" cost as much as a 320 px line), so this
        halves the visual zone's OCR time. The text is decoded as rapidocr does (greedy CTC)."""
        results = []
        for crop in crops:
            h, w = crop.shape[:2]
            width = max(8, int(np.ceil(48 * w / max(h, 1))))
            strip = crop if (h, w) == (48, width) else cv2.resize(crop, (width, 48))
            tensor = (strip.astype(np.float32).transpose(2, 0, 1)[None] / 255.0 - 0.5) / 0.5
            with self._lock:
                probs = self._rec.session(tensor)[0][0]
            results.append(self._decoded(probs))
        return results

    def _decoded(self, probs: np.ndarray) -> tuple[str, float]:
        """rapidocr's CTC decoding: repeated classes merged, blanks dropped, mean confidence."""
        best = probs.argmax(axis=1)
        keep = np.ones(len(best), dtype=bool)
        keep[1:] = best[1:] != best[:-1]
        keep &= best != 0
        text = "".join(self._vocabulary[k] for k in best[keep])
        confidence = float(probs.max(axis=1)[keep].mean()) if keep.any() else 0.0
        return text, confidence


def _reopen_detector(infer: Any) -> None:
    """The text detector re-opened without ORT's layout optimisations (same model and outputs).

    rapidocr opens its sessions with ``ORT_ENABLE_ALL``; with its NCHWc layout transformation the
    memory pattern ONNX Runtime allocates for each run is +77-83 MiB for the 800x576 input, the
    highest peak of a ``/verify``. ``ORT_ENABLE_EXTENDED`` (every fusion, no layout change) needs
    ~9 MiB less for ~15 % more detection time (~+40 ms); the boxes are the same
    (``tests/documents/test_ocr_engine.py``; ``kycguard bench cards`` identical, README)."""
    import onnxruntime as ort

    old = infer.session
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    opts.enable_cpu_mem_arena = False
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    prev = old.get_session_options()
    opts.intra_op_num_threads = prev.intra_op_num_threads
    opts.inter_op_num_threads = prev.inter_op_num_threads
    infer.session = ort.InferenceSession(
        old._model_path, sess_options=opts, providers=old.get_providers()
    )


def crop_quad(image: np.ndarray, quad: np.ndarray, height: int = 48) -> np.ndarray:
    """A detector quadrilateral cut out straight and scaled to ``height`` (rapidocr's crop, resized)."""
    from kycguard.documents.mrz.locate import line_from_quad

    line = line_from_quad(quad)
    d, n = line.direction, line.normal
    half_l, half_t = d * line.length / 2, n * line.thickness / 2
    c = line.center
    src = np.array(
        [c - half_l - half_t, c + half_l - half_t, c + half_l + half_t, c - half_l + half_t],
        np.float32,
    )
    out_w = max(8, round(line.length / max(line.thickness, 1.0) * height))
    dst = np.array([[0, 0], [out_w, 0], [out_w, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(
        image, matrix, (out_w, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


def tesseract_line(
    strip_bgr: np.ndarray, whitelist: str = ALPHABET, timeout: float = 10.0
) -> str | None:
    """One line read by Debian's tesseract (``--psm 7``); None when it is absent or fails."""
    exe = shutil.which("tesseract")
    if exe is None:
        return None
    gray = cv2.cvtColor(strip_bgr, cv2.COLOR_BGR2GRAY)
    gray = cv2.copyMakeBorder(gray, 12, 12, 12, 12, cv2.BORDER_REPLICATE)
    ok, png = cv2.imencode(".png", gray)
    if not ok:
        return None
    try:
        done = subprocess.run(
            [
                exe,
                "stdin",
                "stdout",
                "--psm",
                "7",
                "-l",
                "eng",
                "-c",
                f"tessedit_char_whitelist={whitelist}",
            ],
            input=png.tobytes(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("tesseract failed: %s", exc)
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "replace").strip().replace(" ", "")
