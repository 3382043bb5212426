"""Entry point: read and check an identity document photo, offline.

    analyzer = DocumentAnalyzer.create(settings.documents)   # loads the OCR models once (~1 s)
    report = analyzer.analyze(image_rgb, structured_data=data, today=date.today(), portrait_box=box)
    report.to_dict()   # -> the API's "document_authenticity"

``structured_data`` keys compared with the document (all optional): ``full_name`` (either order),
``first_name``, ``last_name``, ``date_of_birth``, ``date_expiration`` (``YYYYMMDD`` or
``YYYY-MM-DD``), ``document_number``, ``nationality`` (ICAO 3-letter code), ``sex`` (M/F/X).
Bad documents never raise: no document, no MRZ, an unreadable MRZ are results with reason codes.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from kycguard.documents import checks, tamper
from kycguard.documents.barcode import BarcodeRead, decode_pdf417
from kycguard.documents.config import DocumentSettings
from kycguard.documents.mrz.read import MrzReading, ReadOptions, read_mrz
from kycguard.documents.ocr import OcrEngine, tesseract_available
from kycguard.documents.rectify import Rectification, rectify
from kycguard.documents.report import CheckResult, DocumentReport, Reason
from kycguard.documents.viz import VizReading, read_viz

log = logging.getLogger(__name__)

# How much a failed check lowers the score: score = 100 * prod(1 - weight * (1 - check.score)).
WEIGHTS: dict[str, float] = {
    "mrz_read": 0.5,
    "mrz_check_digits": 0.6,
    "document_expiry": 0.7,
    "document_validity_start": 0.7,
    "holder_age": 0.7,
    "date_plausibility": 0.7,
    "mrz_vs_viz": 0.35,
    "barcode_vs_mrz": 0.5,
    "document_vs_structured_data": 0.6,
    "portrait_tampering": 0.6,
    "mrz_geometry": 0.5,
    "screen_capture": 0.4,
}
MIN_SIDE_PX = 32


@lru_cache(maxsize=4)
def get_engine(threads: int) -> OcrEngine:
    """The process-wide OCR engine for a thread count (model loading takes about a second)."""
    return OcrEngine(threads=threads)


class DocumentAnalyzer:
    """Reads and checks documents with one loaded OCR engine; share one per process."""

    def __init__(self, settings: DocumentSettings, engine: OcrEngine) -> None:
        self.settings = settings
        self.engine = engine
        self._read_options = ReadOptions(
            det_max_side=settings.detect_max_side_px,
            frames_per_char=settings.mrz_frames_per_char,
            min_confidence=settings.mrz_min_confidence,
            max_correction_cost=settings.mrz_max_correction_cost,
            use_tesseract=settings.ocr_engine == "rapidocr+tesseract" and tesseract_available(),
        )

    @classmethod
    def create(cls, settings: DocumentSettings) -> DocumentAnalyzer:
        return cls(settings, get_engine(settings.ocr_threads))

    def analyze(
        self,
        image_rgb: np.ndarray,
        *,
        structured_data: dict[str, Any] | None,
        today: dt.date,
        portrait_box: tuple[int, int, int, int] | None = None,
        tamper: bool = True,
    ) -> DocumentReport:
        """Read the MRZ, barcode and visual zone of ``image_rgb`` (HxWx3 uint8 RGB, EXIF already
        applied) and check them against each other, the date rules and ``structured_data``.
        ``tamper=False`` (a decision policy's low-risk tier) skips the tampering analysis: its
        checks are reported as not performed."""
        timings: dict[str, float] = {}
        t_start = time.perf_counter()
        warnings: list[str] = []
        structured = {
            k: v
            for k, v in (structured_data or {}).items()
            if k in checks.STRUCTURED_KEYS and v not in (None, "")
        }
        image = _as_rgb(image_rgb)
        usable = image is not None and min(image.shape[:2]) >= MIN_SIDE_PX
        if image is None or not usable:
            warnings.append("image is empty or too small to hold a document")
            reading = MrzReading("not_found", "image too small or empty")
            return self._finish(
                None,
                [],
                reading,
                None,
                [],
                None,
                structured,
                today,
                warnings,
                timings,
                t_start,
                None,
            )

        t = time.perf_counter()
        rect = (
            rectify(image)
            if self.settings.rectify
            else Rectification(image, False, "rectification disabled in the settings")
        )
        timings["rectify"] = _ms(t)
        bgr, quads, reading = self._read(rect.image, timings, warnings)
        if rect.rectified and not _valid(reading):
            # the outline may not be the document's (two sides on one sheet, a sleeve): the photo
            # as taken gets its chance, and the better reading wins
            alt = self._read(image, timings, warnings)
            if _rank(alt[2]) > _rank(reading):
                bgr, quads, reading = alt
                rect = Rectification(
                    image,
                    False,
                    "an outline was found but the MRZ read better on the photo as taken",
                )

        barcodes: list[BarcodeRead] = []
        if self.settings.read_barcode:
            t = time.perf_counter()
            try:
                barcodes = decode_pdf417(image)
            except Exception:
                log.exception("barcode decoding failed")
                warnings.append("barcode decoder failed internally")
            timings["barcode"] = _ms(t)

        viz: VizReading | None = None
        if self.settings.read_viz and self.settings.viz_max_boxes > 0 and quads:
            t = time.perf_counter()
            direction = None
            exclude = [line.quad for line in reading.lines]
            if reading.fields is not None and reading.lines:
                q = reading.lines[0].quad
                direction = (q[1] - q[0]) / max(float(np.linalg.norm(q[1] - q[0])), 1e-6)
            try:
                viz = read_viz(
                    bgr,
                    self.engine,
                    quads,
                    exclude=exclude,
                    reading_direction=direction,
                    max_boxes=self.settings.viz_max_boxes,
                )
            except Exception:
                log.exception("visual zone reading failed")
                warnings.append("visual-zone reader failed internally")
            timings["viz"] = _ms(t)

        t = time.perf_counter()
        # JPEG grids and sensor noise live on the pixels as uploaded: measured on the photo, not
        # on the resampled document; print geometry is measured on the rectified lines
        tamper_checks = (
            self._tamper_checks(image, reading, portrait_box) if tamper else _tamper_skipped()
        )
        timings["tamper"] = _ms(t)
        return self._finish(
            rect,
            tamper_checks,
            reading,
            viz,
            barcodes,
            image,
            structured,
            today,
            warnings,
            timings,
            t_start,
            portrait_box,
        )

    def _read(
        self, image: np.ndarray, timings: dict[str, float], warnings: list[str]
    ) -> tuple[np.ndarray, list[np.ndarray], MrzReading]:
        """Text boxes and the MRZ of one view of the document (BGR image, boxes, reading)."""
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        t = time.perf_counter()
        quads = self.engine.detect(bgr, self.settings.detect_max_side_px)
        timings["detect"] = timings.get("detect", 0.0) + _ms(t)
        t = time.perf_counter()
        try:
            reading = read_mrz(bgr, self.engine, self._read_options, quads=quads)
        except Exception:  # a reader bug must not turn a bad photo into a 500
            log.exception("MRZ reading failed")
            reading = MrzReading("unreadable", "internal error while reading the MRZ")
            warnings.append("MRZ reader failed internally; see server log")
        timings["mrz"] = timings.get("mrz", 0.0) + _ms(t)
        return bgr, quads, reading

    def _tamper_checks(
        self, image: np.ndarray, reading: MrzReading, portrait_box: tuple[int, int, int, int] | None
    ) -> list[CheckResult]:
        s = self.settings
        out = []
        if portrait_box is None:
            out.append(
                CheckResult(
                    "portrait_tampering",
                    None,
                    None,
                    "no portrait box given: portrait replacement not checked",
                )
            )
        else:
            sig = tamper.portrait_replacement(image, portrait_box)
            out.append(
                _signal_check(
                    "portrait_tampering",
                    sig,
                    s.portrait_tamper_threshold,
                    Reason.PORTRAIT_TAMPERING_SUSPECTED,
                    s.hard_reject_codes,
                )
            )
        if reading.engine == "tesseract":
            sig = tamper.TamperSignal(
                None, "MRZ read by the second engine: its characters were not located"
            )
        elif reading.status == "ok" and reading.fields is not None and reading.lines:
            sig = tamper.mrz_geometry(reading.lines)  # a misread line's frames say nothing of print
        else:
            sig = tamper.TamperSignal(None, "no MRZ read: print geometry not checked")
        out.append(
            _signal_check(
                "mrz_geometry",
                sig,
                s.mrz_geometry_threshold,
                Reason.MRZ_GEOMETRY_INCONSISTENT,
                s.hard_reject_codes,
            )
        )
        out.append(
            _signal_check(
                "screen_capture",
                tamper.screen_capture(image),
                s.screen_capture_threshold,
                Reason.SCREEN_CAPTURE_SUSPECTED,
                s.hard_reject_codes,
            )
        )
        return out

    def _finish(
        self,
        rect: Rectification | None,
        tamper_checks: list[CheckResult],
        reading: MrzReading,
        viz: VizReading | None,
        barcodes: list[BarcodeRead],
        image: np.ndarray | None,
        structured: dict[str, Any],
        today: dt.date,
        warnings: list[str],
        timings: dict[str, float],
        t_start: float,
        portrait_box: tuple[int, int, int, int] | None,
    ) -> DocumentReport:
        s = self.settings
        mrz_fields = reading.fields if reading.status == "ok" else None
        aamva = next((b.aamva for b in barcodes if b.aamva is not None), None)
        ident = checks.build_identity(mrz_fields, aamva, viz, today)
        results: list[CheckResult] = []
        results += checks.mrz_checks(reading, s)
        if aamva is not None and reading.status == "not_found":
            # a driver licence has a barcode instead of an MRZ: no MRZ is expected
            results[0] = CheckResult(
                "mrz_read", None, None, "no MRZ; document data read from its AAMVA barcode"
            )
        results += checks.date_checks(
            ident, mrz_fields, structured, s, today, warnings, checks.viz_dates(viz, today)
        )
        results.append(checks.mrz_vs_viz(mrz_fields, viz, today))
        results.append(checks.barcode_vs_mrz(mrz_fields, aamva, s, today))
        results.append(checks.document_vs_structured(ident, structured, s, warnings))
        results += tamper_checks

        reasons: list[str] = []
        for c in results:
            for code in c.reason_codes:
                if str(code) not in reasons:
                    reasons.append(str(code))
        for c in results:
            if c.passed is False and c.name in (
                "mrz_vs_viz",
                "portrait_tampering",
                "mrz_geometry",
                "screen_capture",
            ):
                warnings.append(c.detail)
        score = 100.0
        for c in results:
            if c.score is not None and c.passed is not None:
                score *= 1.0 - WEIGHTS.get(c.name, 0.3) * (1.0 - float(np.clip(c.score, 0, 1)))
        hard = any(c.hard_reject for c in results)
        timings["total"] = _ms(t_start)
        mrz_dict = reading.to_dict() if reading.status != "not_found" else None
        barcode_dict = None
        if barcodes:
            barcode_dict = {"count": len(barcodes), "symbols": [b.to_dict() for b in barcodes]}
        return DocumentReport(
            checks=results,
            mrz=mrz_dict,
            barcode=barcode_dict,
            viz=viz.to_dict() if viz is not None else None,
            identity=ident.to_dict(),
            reasons=reasons,
            warnings=warnings,
            score=score,
            hard_reject=hard,
            timings_ms={**reading.timings_ms, **timings} if reading.timings_ms else timings,
            rectification=rect.to_dict() if rect is not None else None,
        )


TAMPER_CHECKS = ("portrait_tampering", "mrz_geometry", "screen_capture")


def _tamper_skipped() -> list[CheckResult]:
    return [
        CheckResult(name, None, None, "not performed: skipped by the decision policy")
        for name in TAMPER_CHECKS
    ]


def _valid(reading: MrzReading) -> bool:
    return reading.status == "ok" and reading.fields is not None and reading.fields.valid


def _rank(reading: MrzReading) -> tuple[int, float]:
    """Valid check digits > read > MRZ-like but unreadable > nothing; then confidence."""
    level = {"ok": 2, "unreadable": 1}.get(reading.status, 0) + int(_valid(reading))
    return level, reading.confidence


def _signal_check(
    name: str, sig: tamper.TamperSignal, threshold: float, code: Reason, hard_codes: tuple[str, ...]
) -> CheckResult:
    if sig.suspicion is None:
        return CheckResult(name, None, None, sig.detail, evidence=sig.evidence)
    flagged = sig.suspicion >= threshold
    return CheckResult(
        name,
        not flagged,
        1.0 - sig.suspicion,
        f"suspicion {sig.suspicion:.2f} (threshold {threshold:.2f}): {sig.detail}",
        [code] if flagged else [],
        hard_reject=flagged and code in hard_codes,
        evidence={**sig.evidence, "suspicion": round(sig.suspicion, 3)},
    )


def _as_rgb(image: Any) -> np.ndarray | None:
    if not isinstance(image, np.ndarray):
        raise TypeError("image_rgb must be a numpy array (H x W x 3, uint8, RGB)")
    if image.size == 0:
        return None
    arr = image
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., :3]
    elif arr.ndim != 3 or arr.shape[2] != 3:
        return None
    return np.ascontiguousarray(arr)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def analyze_document(
    image_rgb: np.ndarray,
    *,
    structured_data: dict[str, Any] | None,
    settings: DocumentSettings,
    today: dt.date,
    portrait_box: tuple[int, int, int, int] | None = None,
) -> DocumentReport:
    """:meth:`DocumentAnalyzer.analyze` with the process-wide engine for ``settings``."""
    return DocumentAnalyzer.create(settings).analyze(
        image_rgb, structured_data=structured_data, today=today, portrait_box=portrait_box
    )
