"""Read an MRZ from a document photo: locate, recognise, decode by position, repair with check digits.

Pipeline: detector boxes -> MRZ-like blocks (:mod:`.locate`) -> each line straightened and recognised
-> fixed-length decoding with the letter/digit class of every position (:mod:`.decode`), which removes
the O/0, I/1, B/8 confusions the layout can decide -> the remaining ambiguous characters (alphanumeric
fields) are chosen among the recogniser's close alternatives so that the check digits hold. A reading
is never "fixed" beyond what the recogniser found plausible: costs above ``max_correction_cost``
(nats of evidence against the alternative) are not considered.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from kycguard.documents.mrz.countries import known_code
from kycguard.documents.mrz.decode import Decoded, class_mask, decode_fixed
from kycguard.documents.mrz.locate import MrzBlock, find_blocks, line_quads, rectify
from kycguard.documents.mrz.parse import (
    ALNUM,
    ALPHA,
    ALPHABET,
    CHECK,
    FILLER,
    FORMATS,
    NUMERIC,
    MrzFields,
    MrzFormat,
    check_digit,
    parse,
)
from kycguard.documents.ocr import LineProbs, OcrEngine, tesseract_line

log = logging.getLogger(__name__)

Status = Literal["ok", "not_found", "unreadable"]
_INDEX = {c: i for i, c in enumerate(ALPHABET)}


@dataclass(frozen=True)
class ReadOptions:
    """Knobs of the reader (filled from DocumentSettings)."""

    det_max_side: int = 800
    frames_per_char: float = 4.5
    min_confidence: float = 0.55
    max_correction_cost: float = 6.0
    max_blocks: int = 3
    use_tesseract: bool = True


@dataclass
class Correction:
    """One character changed from the recogniser's first choice to satisfy a check digit."""

    line: int
    column: int
    read: str
    chosen: str
    cost: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "column": self.column,
            "read": self.read,
            "chosen": self.chosen,
            "cost": round(self.cost, 2),
        }


@dataclass
class LineRead:
    """One decoded line and where it was found."""

    text: str
    confidence: np.ndarray
    quad: np.ndarray  # TL, TR, BR, BL in image coordinates, reading direction
    strip: np.ndarray  # the rectified BGR strip the recogniser saw
    frames: list[tuple[int, int]]
    n_frames: int


@dataclass
class MrzReading:
    """Outcome of :func:`read_mrz`: a status, and the parsed fields when there is an MRZ to parse."""

    status: Status
    detail: str
    fields: MrzFields | None = None
    lines: list[LineRead] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)
    confidence: float = 0.0
    engine: str = "rapidocr"
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def text_lines(self) -> list[str]:
        return [line.text for line in self.lines]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "detail": self.detail,
            "engine": self.engine,
            "confidence": round(self.confidence, 3),
            "corrections": [c.to_dict() for c in self.corrections],
        }
        if self.fields is not None:
            out.update(self.fields.to_dict())
        elif self.lines:
            out["raw"] = self.text_lines
        return out


@dataclass
class _Candidate:
    fmt: MrzFormat
    decoded: list[Decoded]
    texts: list[str]
    corrections: list[Correction]
    fields: MrzFields | None

    @property
    def valid_checks(self) -> int:
        return 0 if self.fields is None else sum(c.valid for c in self.fields.checks.values())

    @property
    def all_valid(self) -> bool:
        return self.fields is not None and self.fields.valid

    @property
    def confidence(self) -> float:
        return float(np.mean([d.mean_confidence for d in self.decoded]))

    @property
    def codes_known(self) -> bool:
        return self.fields is not None and codes_known(self.fields)

    def rank(self) -> tuple[float, ...]:
        failed = 0 if self.fields is None else len(self.fields.failed_checks)
        # real state codes first: a line group that is no MRZ (visual-zone text) can decode with
        # few failed check digits under some format, never with Doc 9303 codes in place
        return (self.fields is not None, self.codes_known, -failed, self.confidence)


def _line_classes(fmt: MrzFormat) -> list[list[str]]:
    classes = fmt.position_classes()
    return [classes[i * fmt.length : (i + 1) * fmt.length] for i in range(fmt.lines)]


def _decode_block(probs: list[LineProbs], max_cost: float) -> list[_Candidate]:
    """Decode the lines under every format with this line count; best candidates first.

    Two-line documents come in two lengths (36, 44): the first line, all letters and fillers in
    every format, is decoded at both lengths and the likelier one fixes the shape; a ``V`` in front
    then chooses between visa and travel-document layouts for the second line."""
    fmts = [f for f in FORMATS.values() if f.lines == len(probs)]
    if not fmts:
        return []
    first_line: dict[int, Decoded] = {}
    for length in sorted({f.length for f in fmts}):
        classes = _line_classes(next(f for f in fmts if f.length == length))[0]
        d = decode_fixed(probs[0].log_probs, class_mask(classes), max_alternatives=37)
        if d is not None:
            first_line[length] = d
    if not first_line:
        return []
    length = max(first_line, key=lambda n: first_line[n].log_likelihood)
    head = first_line[length]
    shaped = [f for f in fmts if f.length == length]
    visa = head.text.startswith("V")
    preferred = [f for f in shaped if f.name.startswith("MRV") == visa] or shaped
    candidates = []
    for fmt in preferred:
        decoded = [head]
        for i, classes in enumerate(_line_classes(fmt)[1:], start=1):
            d = decode_fixed(probs[i].log_probs, class_mask(classes), max_alternatives=37)
            if d is None:
                break
            decoded.append(d)
        if len(decoded) == fmt.lines:
            candidates.append(_repair(fmt, decoded, max_cost))
    return sorted(candidates, key=lambda c: c.rank(), reverse=True)


def _cost_table(decoded: Decoded) -> list[dict[str, float]]:
    return [dict(alts) for alts in decoded.alternatives]


def _repair(fmt: MrzFormat, decoded: list[Decoded], max_cost: float = 6.0) -> _Candidate:
    """Choose among close alternatives so that check digits hold (cheapest change first)."""
    texts = [list(d.text) for d in decoded]
    costs = [_cost_table(d) for d in decoded]
    corrections: list[Correction] = []

    def try_fix(positions: list[tuple[int, int]], is_valid: Any) -> None:
        options = []
        for line, col in positions:
            alts = [
                (ch, c)
                for ch, c in costs[line][col].items()
                if 0 < c <= max_cost and ch != texts[line][col]
            ]
            options.append(sorted(alts, key=lambda a: a[1])[:4])
        best: tuple[float, list[tuple[int, int, str, float]]] | None = None
        for k in (1, 2):
            for combo in itertools.combinations(range(len(positions)), k):
                for choice in itertools.product(*(options[i] for i in combo)):
                    total = sum(c for _, c in choice)
                    if best is not None and total >= best[0]:
                        continue
                    trial = [row[:] for row in texts]
                    for i, (ch, _) in zip(combo, choice, strict=True):
                        line, col = positions[i]
                        trial[line][col] = ch
                    if is_valid(trial):
                        best = (
                            total,
                            [
                                (*positions[i], ch, c)
                                for i, (ch, c) in zip(combo, choice, strict=True)
                            ],
                        )
            if best is not None:
                break
        if best is None:
            return
        for line, col, ch, c in best[1]:
            corrections.append(Correction(line, col, texts[line][col], ch, c))
            texts[line][col] = ch

    for spec in fmt.fields:
        if spec.check is None:
            continue
        positions = [(spec.line, col) for col in range(spec.start, spec.end)] + [spec.check]
        line, col = spec.check

        def field_ok(
            rows: list[list[str]], spec: Any = spec, line: int = line, col: int = col
        ) -> bool:
            data = "".join(rows[spec.line][spec.start : spec.end])
            digit = rows[line][col]
            if digit == FILLER:
                return set(data) <= {FILLER} or spec.name == "document_number"
            return check_digit(data) == digit

        if not field_ok(texts):
            try_fix(positions, field_ok)

    if fmt.composite_at is not None:
        comp_line, comp_col = fmt.composite_at

        def composite_ok(rows: list[list[str]]) -> bool:
            data = "".join("".join(rows[ln][a:b]) for ln, a, b in fmt.composite)
            return check_digit(data) == rows[comp_line][comp_col]

        if not composite_ok(texts):
            # only characters no field check protects (optional data) and the composite digit itself
            protected = {
                (s.line, c)
                for s in fmt.fields
                if s.check is not None
                for c in range(s.start, s.end)
            }
            protected |= {s.check for s in fmt.fields if s.check is not None}
            free = [
                (ln, c)
                for ln, a, b in fmt.composite
                for c in range(a, b)
                if (ln, c) not in protected
            ]
            try_fix([*free, fmt.composite_at], composite_ok)

    lines = ["".join(row) for row in texts]
    try:
        fields: MrzFields | None = parse(lines, fmt)
    except ValueError:
        fields = None
    return _Candidate(fmt, decoded, lines, corrections, fields)


def _looks_like_mrz(probs: list[LineProbs]) -> bool:
    """An MRZ has fillers (every name field does) and little outside A-Z 0-9 <."""
    fillers = sum(p.raw_text.count("<") + p.raw_text.count("〈") for p in probs)
    mass = float(np.mean([p.mrz_mass for p in probs]))
    return fillers >= 2 and mass >= 0.6


def _flip(quad: np.ndarray) -> np.ndarray:
    return quad[[2, 3, 0, 1]]


@dataclass
class _BlockRead:
    candidate: _Candidate | None
    lines: list[LineRead]
    mrz_like: bool


def _block_strips(
    image: np.ndarray, block: MrzBlock, opts: ReadOptions
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    quads = line_quads(block)
    # the longest line this block may hold (30 on three-line cards, 44 on two-line documents)
    n_chars = 30 if len(quads) == 3 else 44
    pad_chars = 2 * 0.6  # line_quads' margin, in line heights (about one character each)
    width = round((n_chars + pad_chars) * opts.frames_per_char * 8)
    return quads, [rectify(image, q, width) for q in quads]


def _read_strips(
    quads: list[np.ndarray], strips: list[np.ndarray], engine: OcrEngine, opts: ReadOptions
) -> _BlockRead:
    probs = engine.line_probs(strips)
    mrz_like = _looks_like_mrz(probs)
    candidates = _decode_block(probs, opts.max_correction_cost) if mrz_like else []
    best = candidates[0] if candidates else None
    lines = []
    for i, (q, s, p) in enumerate(zip(quads, strips, probs, strict=True)):
        if best is not None:
            d = best.decoded[i]
            lines.append(
                LineRead(best.texts[i], d.confidence, q, s, d.frames, p.log_probs.shape[0])
            )
        else:
            lines.append(LineRead(p.raw_text, np.zeros(0), q, s, [], p.log_probs.shape[0]))
    return _BlockRead(best, lines, mrz_like)


def _good_enough(c: _Candidate | None, opts: ReadOptions) -> bool:
    return (
        c is not None
        and c.all_valid
        and c.codes_known
        and c.confidence >= max(opts.min_confidence, 0.8)
    )


def codes_known(fields: MrzFields) -> bool:
    """Issuing state and nationality are Doc 9303 codes (else the line was misread and shifted)."""
    return known_code(fields.issuing_state) and known_code(fields.nationality)


def read_mrz(
    image_bgr: np.ndarray,
    engine: OcrEngine,
    options: ReadOptions | None = None,
    quads: list[np.ndarray] | None = None,
) -> MrzReading:
    """Find and read the MRZ of a document photo (BGR). Never raises for a bad document."""
    opts = options or ReadOptions()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if quads is None:
        quads = engine.detect(image_bgr, opts.det_max_side)
        timings["detect"] = (time.perf_counter() - t0) * 1000
    t1 = time.perf_counter()
    blocks = find_blocks(quads, max_blocks=opts.max_blocks)
    if not blocks:
        return MrzReading(
            "not_found", "no group of 2-3 long parallel text lines in the image", timings_ms=timings
        )

    reads: list[_BlockRead] = []
    for block in blocks:
        quads, strips = _block_strips(image_bgr, block, opts)
        upright = (quads, strips)
        flipped = (
            [_flip(q) for q in reversed(quads)],
            [np.ascontiguousarray(s[::-1, ::-1]) for s in reversed(strips)],
        )
        # the direction classifier only orders the two readings; check digits decide
        order = [flipped, upright] if engine.upside_down_score(strips) > 0 else [upright, flipped]
        for qs, ss in order:
            r = _read_strips(qs, ss, engine, opts)
            reads.append(r)
            if _good_enough(r.candidate, opts):
                break
        if any(_good_enough(r.candidate, opts) for r in reads):
            break
    timings["recognize"] = (time.perf_counter() - t1) * 1000

    decoded = [r for r in reads if r.candidate is not None]
    if not decoded:
        if any(r.mrz_like for r in reads):
            return MrzReading(
                "unreadable",
                "MRZ-like lines found but no MRZ layout could be decoded",
                timings_ms=timings,
            )
        return MrzReading(
            "not_found", "long text lines found, but none reads like an MRZ", timings_ms=timings
        )
    best = max(decoded, key=lambda r: r.candidate.rank() if r.candidate else ())
    cand = best.candidate
    assert cand is not None
    reading = MrzReading(
        "ok",
        f"{cand.fmt.name} read, mean character confidence {cand.confidence:.2f}",
        fields=cand.fields,
        lines=best.lines,
        corrections=cand.corrections,
        confidence=cand.confidence,
        timings_ms=timings,
    )
    if cand.confidence < opts.min_confidence:
        reading.status = "unreadable"
        reading.detail = f"MRZ found but read with low confidence ({cand.confidence:.2f})"
    # tesseract only re-reads uncertain readings: a confidently read MRZ whose check digits fail is
    # printed that way, and a second engine would only add seconds
    uncertain = min(float(d.confidence.min()) for d in cand.decoded) < 0.9
    # ... and so does a reading whose state codes are none (a dropped character shifted the line,
    # and check-digit repair made the shifted fields consistent)
    if opts.use_tesseract and ((not cand.all_valid and uncertain) or not cand.codes_known):
        t2 = time.perf_counter()
        alt = _tesseract_reading(best.lines, cand.fmt)
        timings["tesseract"] = (time.perf_counter() - t2) * 1000
        if alt is not None and alt.valid and codes_known(alt):
            reading.fields = alt
            reading.engine = "tesseract"
            reading.status = "ok"
            reading.detail = f"{cand.fmt.name} read by tesseract after the PP-OCR reading failed its check digits"
            for line, text in zip(reading.lines, alt.lines, strict=True):
                line.text = text
    if reading.status == "ok" and reading.fields is not None and not codes_known(reading.fields):
        f = reading.fields
        reading.status = "unreadable"
        reading.detail = (
            f"state codes {f.issuing_state!r}/{f.nationality!r} are no Doc 9303 codes: the line was "
            "misread (a character lost or added), whatever its check digits say"
        )
    return reading


_TO_DIGIT = str.maketrans(
    {
        "O": "0",
        "Q": "0",
        "D": "0",
        "U": "0",
        "I": "1",
        "L": "1",
        "Z": "2",
        "S": "5",
        "G": "6",
        "B": "8",
        "T": "7",
    }
)
_TO_LETTER = str.maketrans(
    {"0": "O", "1": "I", "2": "Z", "5": "S", "6": "G", "8": "B", "7": "T", "4": "A"}
)


def correct_by_position(text: str, classes: list[str]) -> str:
    """Fit a plain OCR string to a line's layout: fix its length in the filler runs, then turn
    letters into digits where the layout wants digits and back (the O/0, I/1, S/5 ... confusions),
    and read K/S/E inside filler runs as ``<`` (how tesseract sees OCR-B chevrons)."""
    n = len(classes)
    text = "".join(ch for ch in text.upper() if ch in ALPHABET or ch in "«")
    text = text.replace("«", "<<")
    # chevrons misread as letters: a letter between two fillers, or trailing letters after fillers
    # ... and runs of up to three such letters inside a filler run (``<<KK<<``)
    text = re.sub(r"(?<=<)[KSE]{1,3}(?=<)", lambda m: FILLER * len(m.group()), text)
    if len(text) != n:
        runs = [(m.start(), m.end()) for m in _filler_runs(text)]
        if len(text) < n:
            pos = max(runs, key=lambda r: r[1] - r[0])[1] if runs else len(text)
            text = text[:pos] + FILLER * (n - len(text)) + text[pos:]
        else:
            extra = len(text) - n
            if runs:
                a, b = max(runs, key=lambda r: r[1] - r[0])
                cut = min(extra, b - a)
                text = text[:a] + text[a + cut :]
            text = text[:n]
    out = []
    for ch, cls in zip(text, classes, strict=True):
        if cls == NUMERIC or (cls == CHECK and ch != FILLER):
            ch = ch.translate(_TO_DIGIT)
        elif cls == ALPHA:
            ch = ch.translate(_TO_LETTER)
        elif cls == ALNUM:
            pass
        out.append(ch if ch in ALPHABET else FILLER)
    return "".join(out)


def _filler_runs(text: str) -> list[Any]:
    import re

    return list(re.finditer(r"<+", text))


def _tesseract_reading(lines: list[LineRead], fmt: MrzFormat) -> MrzFields | None:
    classes = _line_classes(fmt)
    texts = []
    for line, cls in zip(lines, classes, strict=True):
        raw = tesseract_line(line.strip)
        if not raw:
            return None
        texts.append(correct_by_position(raw, cls))
    try:
        return parse(texts, fmt)
    except ValueError:
        return None
