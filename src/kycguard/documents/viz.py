"""The visual inspection zone: OCR of the printed text, and the fields its labels point at.

Layouts differ per issuer, so nothing here assumes positions: every text box is read, labels
("Surname", "Date of birth", "Nom", "Date d'expiration", ...) are recognised in several languages,
and the value of a label is the text right of it on the same line or in the box just below.
The cross-checks with the MRZ also search all the text unlabelled (see :mod:`.checks`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from kycguard.documents.dates import find_dates
from kycguard.documents.mrz.locate import TextLine, line_from_quad
from kycguard.documents.names import fold
from kycguard.documents.ocr import OcrEngine, crop_quad

# (field, patterns) in matching order: specific labels before the generic "name".
LABELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("given_names", ("GIVEN NAME", "GIVEN NAMES", "FIRST NAME", "FORENAME", "PRENOM", "PRENOMS", "VORNAME", "VORNAMEN", "SECONDARY IDENTIFIER")),
    ("surname", ("SURNAME", "FAMILY NAME", "LAST NAME", "NACHNAME", "FAMILIENNAME", "APELLIDOS", "APELLIDO", "COGNOME", "PRIMARY IDENTIFIER")),
    ("birth_date", ("DATE OF BIRTH", "BIRTH DATE", "DATE DE NAISSANCE", "GEBURTSDATUM", "FECHA DE NACIMIENTO", "DOB")),
    ("expiry_date", ("DATE OF EXPIRY", "EXPIRY", "EXPIRATION", "EXPIRES", "VALID UNTIL", "GULTIG BIS", "VALIDE JUSQU")),
    ("issue_date", ("DATE OF ISSUE", "ISSUE DATE", "DATE DE DELIVRANCE", "AUSSTELLUNGSDATUM", "VALID FROM")),
    ("document_number", ("PASSPORT NO", "PASSPORT NUMBER", "DOCUMENT NO", "DOCUMENT NUMBER", "DOC NO", "CARD NO", "CARD NUMBER", "NO DU DOC", "N DE PASSEPORT")),
    ("sex", ("SEX", "SEXE", "GESCHLECHT", "SEXO")),
    ("nationality", ("NATIONALITY", "NATIONALITE", "STAATSANGEHORIGKEIT", "NACIONALIDAD")),
    ("full_name", ("NAME", "NOM", "NAMES")),
)  # fmt: skip


MAX_CROP_WIDTH = 900  # px at the recogniser's 48 px height
WIDTH_BUDGET = 3200  # total px per document: bounds the visual-zone OCR to about 0.3 s


@dataclass
class VizLine:
    text: str
    confidence: float
    line: TextLine
    label: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "confidence": round(self.confidence, 3), "label": self.label}


@dataclass
class VizReading:
    """All text read in the visual zone, and the labelled values."""

    lines: list[VizLine]
    fields: dict[str, str] = field(default_factory=dict)
    field_confidence: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def dates(self) -> list[tuple[dt.date | None, str, int | None]]:
        return find_dates(self.text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fields": dict(self.fields),
            "lines": [line.to_dict() for line in self.lines],
        }


def _label_of(text: str) -> tuple[str | None, str]:
    """The field a label names, and the folded text. OCR often drops the spaces of small label
    print ("Datedenaissance"), so long patterns match without spaces; short ones (NOM, SEX)
    must stand as words or open the box."""
    folded = re.sub(r"[^A-Z0-9 ]+", " ", fold(text))
    folded = re.sub(r"\s+", " ", folded).strip()
    compact = folded.replace(" ", "")
    if len(compact) > 60:
        return None, folded
    for name, patterns in LABELS:
        for pattern in patterns:
            packed = pattern.replace(" ", "")
            if len(packed) >= 6 and packed in compact:
                return name, folded
            if re.search(rf"(?<![A-Z]){pattern}(?![A-Z])", folded) or (
                len(packed) < 6 and compact.startswith(packed) and len(compact) <= len(packed) + 12
            ):
                return name, folded
    return None, folded


def _strip_labels(text: str) -> str:
    """Remove label words (and bilingual slashes) from a box that holds label and value."""
    out = fold(text)
    for _, patterns in LABELS:
        for pattern in sorted(patterns, key=len, reverse=True):
            out = re.sub(rf"(?<![A-Z]){pattern}S?(?![A-Z])", " ", out)
    out = re.sub(r"[/:()]|\(\d\)", " ", out)
    return re.sub(r"\s+", " ", out).strip()


def read_viz(
    image_bgr: np.ndarray,
    engine: OcrEngine,
    quads: list[np.ndarray],
    *,
    exclude: list[np.ndarray],
    reading_direction: np.ndarray | None,
    max_boxes: int,
) -> VizReading:
    """OCR every text box that is not part of the MRZ, oriented like the MRZ when it is known."""
    lines = []
    for q in quads:
        line = line_from_quad(q)
        if line.thickness < 8 or line.length < 12:
            continue
        if any(
            cv2.pointPolygonTest(
                ex.astype(np.float32), (float(line.center[0]), float(line.center[1])), False
            )
            >= 0
            for ex in exclude
        ):
            continue
        lines.append(line)
    if not lines:
        return VizReading([])
    if reading_direction is None:
        weights = np.array([ln.length for ln in lines])
        reading_direction = lines[int(np.argmax(weights))].direction
    along_text = []
    for line in lines:
        dot = float(line.direction @ reading_direction)
        if abs(dot) < 0.8:
            continue  # perpendicular text: edge inscriptions, not the data fields
        if dot < 0:
            line = TextLine(line.center, -line.direction, line.length, line.thickness, line.parts)
        along_text.append(line)
    normal = np.array([-reading_direction[1], reading_direction[0]])
    if exclude:
        along_text = _near_mrz(along_text, exclude, reading_direction, normal)
    # Within a budget of recogniser width: field-sized print first, larger before smaller (values
    # are printed bigger than their labels); headings (much thicker than the typical line) last.
    typical = float(np.median([ln.thickness for ln in along_text])) if along_text else 0.0
    along_text.sort(key=lambda ln: (ln.thickness > 1.8 * typical, -ln.thickness))
    kept: list[TextLine] = []
    width = 0.0
    for ln in along_text:
        w = ln.aspect * 48
        if w > MAX_CROP_WIDTH or len(kept) >= max_boxes or width + w > WIDTH_BUDGET:
            continue  # sentences and inscriptions are not data fields; a shorter box may still fit
        kept.append(ln)
        width += w
    kept.sort(
        key=lambda ln: (
            round(float(ln.center @ normal) / max(ln.thickness, 1)),
            float(ln.center @ reading_direction),
        )
    )
    crops = [_crop(image_bgr, ln) for ln in kept]
    if not crops:
        return VizReading([])
    texts = engine.recognize(crops)
    viz_lines = [VizLine(t, c, ln) for (t, c), ln in zip(texts, kept, strict=True) if t.strip()]
    reading = VizReading(viz_lines)
    _assign_labels(reading, reading_direction)
    return reading


def _near_mrz(
    lines: list[TextLine], mrz: list[np.ndarray], direction: np.ndarray, normal: np.ndarray
) -> list[TextLine]:
    """Boxes on the MRZ's page: above the MRZ (in its reading frame) and not wider than it.

    A TD3 data page is 0.7 MRZ-widths high; a card photographed front above back needs 1.4."""
    first = mrz[0]
    length = float(np.linalg.norm(first[1] - first[0]))
    origin = first[0]
    kept = []
    for ln in lines:
        along = float((ln.center - origin) @ direction)
        up = float((ln.center - origin) @ normal)
        if -0.15 * length <= along <= 1.15 * length and -1.4 * length <= up <= 0:
            kept.append(ln)
    return kept


def _crop(image: np.ndarray, line: TextLine) -> np.ndarray:
    d, n = line.direction, line.normal
    c = line.center
    half_l, half_t = d * line.length / 2, n * line.thickness / 2
    quad = np.array(
        [c - half_l - half_t, c + half_l - half_t, c + half_l + half_t, c - half_l + half_t],
        np.float32,
    )
    return crop_quad(image, quad)


def _assign_labels(reading: VizReading, direction: np.ndarray) -> None:
    normal = np.array([-direction[1], direction[0]])
    for line in reading.lines:
        name, _ = _label_of(line.text)
        line.label = name
    for i, line in enumerate(reading.lines):
        if line.label is None or line.label in reading.fields:
            continue
        rest = _strip_labels(line.text)
        value = VizLine(rest, line.confidence, line.line) if _is_value(line.label, rest) else None
        if value is None:
            value = _value_below(reading.lines, i, direction, normal)
        if value is not None and value.text:
            reading.fields[line.label] = value.text
            reading.field_confidence[line.label] = value.confidence


def _is_value(label: str, text: str) -> bool:
    """Whether what is left of a label box after removing the label words is the value itself."""
    if label.endswith("_date"):
        return bool(find_dates(text))
    if label == "document_number":
        return bool(re.search(r"[A-Z0-9]*\d[A-Z0-9]*", text)) and len(text.replace(" ", "")) >= 5
    if label == "sex":
        return bool(re.fullmatch(r"[MFX](\s*/\s*[MFX])?", text))
    return False


def _value_below(
    lines: list[VizLine], index: int, direction: np.ndarray, normal: np.ndarray
) -> VizLine | None:
    """The unlabelled box whose start is near the label's start and which sits just below it."""
    label = lines[index].line
    l_start = float(label.center @ direction) - label.length / 2
    best: tuple[float, VizLine] | None = None
    for j, other in enumerate(lines):
        if j == index or other.label is not None:
            continue
        dy = float((other.line.center - label.center) @ normal)
        if not (0.3 * label.thickness < dy < 3.5 * max(label.thickness, other.line.thickness)):
            continue
        o_start = float(other.line.center @ direction) - other.line.length / 2
        if abs(o_start - l_start) > max(label.length, 3 * label.thickness):
            continue
        cost = dy + abs(o_start - l_start)
        if best is None or cost < best[0]:
            best = (cost, other)
    return best[1] if best else None
