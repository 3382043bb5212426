"""ICAO Doc 9303 machine-readable zones: layouts, check digits and field parsing.

Pure functions with no I/O, so the reader, the benchmark and the tests share one definition of what a
valid MRZ is. Written from the specification (Doc 9303 parts 3-7), not derived from any GPL/AGPL code.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

FILLER = "<"
DIGITS = string.digits
LETTERS = string.ascii_uppercase
ALPHABET = FILLER + DIGITS + LETTERS
"""The 37 characters an MRZ may contain, in the order the reader's decoder indexes them."""

_VALUES = (
    {c: i for i, c in enumerate(DIGITS)} | {c: 10 + i for i, c in enumerate(LETTERS)} | {"<": 0}
)
_WEIGHTS = (7, 3, 1)


def check_digit(data: str) -> str:
    """ICAO 9303 check digit: weights 7-3-1 repeated, ``<`` counts 0, A=10 ... Z=35, modulo 10."""
    total = 0
    for i, ch in enumerate(data):
        value = _VALUES.get(ch)
        if value is None:
            raise ValueError(f"character {ch!r} is not allowed in an MRZ")
        total += value * _WEIGHTS[i % 3]
    return str(total % 10)


# Character classes of a position: what the decoder may put there.
ALPHA = "A"  # letters and filler
NUMERIC = "N"  # digits only
ALNUM = "X"  # anything in ALPHABET
CHECK = "C"  # a digit, or filler where the spec allows an empty optional field
SEX = "S"  # M, F, X or filler

CLASS_CHARS: dict[str, str] = {
    ALPHA: FILLER + LETTERS,
    NUMERIC: DIGITS,
    ALNUM: ALPHABET,
    CHECK: DIGITS + FILLER,
    SEX: "MFX<",
}


@dataclass(frozen=True)
class FieldSpec:
    """One field: where it sits and which check digit (if any) protects it."""

    name: str
    line: int
    start: int
    end: int  # exclusive
    char_class: str
    check: tuple[int, int] | None = None  # (line, column) of its check digit


@dataclass(frozen=True)
class MrzFormat:
    """A document layout of Doc 9303: line count, line length, fields and composite check."""

    name: str
    lines: int
    length: int
    fields: tuple[FieldSpec, ...]
    composite: tuple[tuple[int, int, int], ...] = ()  # (line, start, end) slices covered
    composite_at: tuple[int, int] | None = None

    def position_classes(self) -> list[str]:
        """Character class of every position, line after line (length * lines entries)."""
        classes = [ALNUM] * (self.lines * self.length)
        for spec in self.fields:
            for col in range(spec.start, spec.end):
                classes[spec.line * self.length + col] = spec.char_class
            if spec.check is not None:
                line, col = spec.check
                # Only an empty optional field or a continued long number may show a filler here.
                may_fill = spec.name in ("document_number", "optional_data")
                classes[line * self.length + col] = CHECK if may_fill else NUMERIC
        if self.composite_at is not None:
            line, col = self.composite_at
            classes[line * self.length + col] = NUMERIC
        return classes


def _header(length: int, name_line: int | None) -> list[FieldSpec]:
    specs = [
        FieldSpec("document_code", 0, 0, 2, ALPHA),
        FieldSpec("issuing_state", 0, 2, 5, ALPHA),
    ]
    if name_line is not None:
        specs.append(FieldSpec("name", name_line, 5, length, ALPHA))
    return specs


def _second_line(optional_end: int, with_optional_check: bool) -> list[FieldSpec]:
    specs = [
        FieldSpec("document_number", 1, 0, 9, ALNUM, (1, 9)),
        FieldSpec("nationality", 1, 10, 13, ALPHA),
        FieldSpec("birth_date", 1, 13, 19, NUMERIC, (1, 19)),
        FieldSpec("sex", 1, 20, 21, SEX),
        FieldSpec("expiry_date", 1, 21, 27, NUMERIC, (1, 27)),
    ]
    if with_optional_check:
        specs.append(FieldSpec("optional_data", 1, 28, optional_end, ALNUM, (1, optional_end)))
    else:
        specs.append(FieldSpec("optional_data", 1, 28, optional_end, ALNUM))
    return specs


TD1 = MrzFormat(
    "TD1",
    3,
    30,
    (
        FieldSpec("document_code", 0, 0, 2, ALPHA),
        FieldSpec("issuing_state", 0, 2, 5, ALPHA),
        FieldSpec("document_number", 0, 5, 14, ALNUM, (0, 14)),
        FieldSpec("optional_data", 0, 15, 30, ALNUM),
        FieldSpec("birth_date", 1, 0, 6, NUMERIC, (1, 6)),
        FieldSpec("sex", 1, 7, 8, SEX),
        FieldSpec("expiry_date", 1, 8, 14, NUMERIC, (1, 14)),
        FieldSpec("nationality", 1, 15, 18, ALPHA),
        FieldSpec("optional_data_2", 1, 18, 29, ALNUM),
        FieldSpec("name", 2, 0, 30, ALPHA),
    ),
    composite=((0, 5, 30), (1, 0, 7), (1, 8, 15), (1, 18, 29)),
    composite_at=(1, 29),
)
TD2 = MrzFormat(
    "TD2",
    2,
    36,
    (*_header(36, 0), *_second_line(35, False)),
    composite=((1, 0, 10), (1, 13, 20), (1, 21, 35)),
    composite_at=(1, 35),
)
TD3 = MrzFormat(
    "TD3",
    2,
    44,
    (*_header(44, 0), *_second_line(42, True)),
    composite=((1, 0, 10), (1, 13, 20), (1, 21, 43)),
    composite_at=(1, 43),
)
MRVA = MrzFormat("MRV-A", 2, 44, (*_header(44, 0), *_second_line(44, False)))
MRVB = MrzFormat("MRV-B", 2, 36, (*_header(36, 0), *_second_line(36, False)))

FORMATS: dict[str, MrzFormat] = {f.name: f for f in (TD1, TD2, TD3, MRVA, MRVB)}


def formats_for(lines: int, length: int, first_char: str | None = None) -> list[MrzFormat]:
    """Formats with this shape; a visa (``V``) and a TD3/TD2 share a shape, the first letter decides."""
    shaped = [f for f in FORMATS.values() if f.lines == lines and f.length == length]
    if first_char is None:
        return shaped
    visa = [f for f in shaped if f.name.startswith("MRV")]
    other = [f for f in shaped if not f.name.startswith("MRV")]
    return (visa + other) if first_char == "V" else (other + visa)


@dataclass(frozen=True)
class CheckDigit:
    """One check digit as read and as computed."""

    name: str
    read: str
    expected: str
    valid: bool

    def to_dict(self) -> dict[str, Any]:
        return {"read": self.read, "expected": self.expected, "valid": self.valid}


@dataclass
class MrzFields:
    """Every field of a parsed MRZ plus the check digit verdicts."""

    format: str
    lines: list[str]
    document_code: str
    issuing_state: str
    surname: str
    given_names: str
    document_number: str
    nationality: str
    birth_date: str  # YYMMDD as printed
    sex: str  # M, F, X or "" when unspecified
    expiry_date: str  # YYMMDD as printed
    optional_data: str
    optional_data_2: str = ""
    checks: dict[str, CheckDigit] = field(default_factory=dict)
    name_truncated: bool = False

    @property
    def valid(self) -> bool:
        return all(c.valid for c in self.checks.values())

    @property
    def failed_checks(self) -> list[str]:
        return [name for name, c in self.checks.items() if not c.valid]

    @property
    def document_type(self) -> str:
        """Doc 9303 document category from the first letter: P passport, V visa, I/A/C ID cards."""
        return {
            "P": "passport",
            "V": "visa",
            "I": "identity_card",
            "A": "identity_card",
            "C": "identity_card",
        }.get(self.document_code[:1], "other")

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "raw": list(self.lines),
            "document_code": self.document_code,
            "document_type": self.document_type,
            "issuing_state": self.issuing_state,
            "surname": self.surname,
            "given_names": self.given_names,
            "name_truncated": self.name_truncated,
            "document_number": self.document_number,
            "nationality": self.nationality,
            "birth_date": self.birth_date,
            "sex": self.sex,
            "expiry_date": self.expiry_date,
            "optional_data": self.optional_data,
            "optional_data_2": self.optional_data_2,
            "check_digits": {name: c.to_dict() for name, c in self.checks.items()},
            "all_check_digits_valid": self.valid,
        }


def _clean(text: str) -> str:
    return text.replace(FILLER, " ").strip()


def split_name(field_text: str) -> tuple[str, str, bool]:
    """Primary identifier, secondary identifier(s) and whether the name fills the field (may be cut).

    ``<<`` separates surname from given names, a single ``<`` separates words inside each part.
    """
    truncated = not field_text.endswith(FILLER)
    primary, _, secondary = field_text.partition("<<")
    surname = " ".join(w for w in primary.split(FILLER) if w)
    given = " ".join(w for w in secondary.split(FILLER) if w)
    return surname, given, truncated


def _slice(lines: list[str], spec: FieldSpec) -> str:
    return lines[spec.line][spec.start : spec.end]


def _verify(name: str, data: str, digit: str) -> CheckDigit:
    expected = check_digit(data)
    # An empty optional field may carry a filler (or 0) as its check digit.
    if digit == FILLER and set(data) <= {FILLER}:
        return CheckDigit(name, digit, FILLER, True)
    return CheckDigit(name, digit, expected, digit == expected)


def _td1_document_number(lines: list[str]) -> tuple[str, str, str]:
    """TD1 number, the data its check digit covers and the check digit itself.

    A number longer than 9 characters puts ``<`` at column 15 and continues in the optional data,
    its check digit being the last character before the next filler (Doc 9303-5, note j).
    """
    line = lines[0]
    if line[14] != FILLER:
        return line[5:14], line[5:14], line[14]
    rest = line[15:30]
    extension = rest.split(FILLER, 1)[0]
    if len(extension) < 2:
        return line[5:14], line[5:14], line[14]
    number = line[5:14] + extension[:-1]
    return number, number, extension[-1]


def parse(lines: list[str], fmt: MrzFormat) -> MrzFields:
    """Parse lines already known to have the shape of ``fmt``; check digits are verified, not trusted."""
    if len(lines) != fmt.lines or any(len(line) != fmt.length for line in lines):
        raise ValueError(f"{fmt.name} needs {fmt.lines} lines of {fmt.length} characters")
    if any(ch not in ALPHABET for line in lines for ch in line):
        raise ValueError("MRZ lines may only contain A-Z, 0-9 and <")
    specs = {s.name: s for s in fmt.fields}
    values = {name: _slice(lines, spec) for name, spec in specs.items()}
    checks: dict[str, CheckDigit] = {}
    for name, spec in specs.items():
        if spec.check is None or name == "document_number":
            continue
        line, col = spec.check
        checks[name] = _verify(name, values[name], lines[line][col])

    number_spec = specs["document_number"]
    if fmt is TD1:
        number, covered, digit = _td1_document_number(lines)
    else:
        number = covered = values["document_number"]
        assert number_spec.check is not None
        digit = lines[number_spec.check[0]][number_spec.check[1]]
        # A longer TD2/TD3 number continues in the optional data the same way as on TD1.
        if digit == FILLER and fmt.name in ("TD2", "TD3"):
            extension = values["optional_data"].split(FILLER, 1)[0]
            if len(extension) >= 2:
                number = covered = number + extension[:-1]
                digit = extension[-1]
    checks = {"document_number": _verify("document_number", covered, digit), **checks}

    if fmt.composite_at is not None:
        data = "".join(lines[line][start:end] for line, start, end in fmt.composite)
        line, col = fmt.composite_at
        checks["composite"] = _verify("composite", data, lines[line][col])

    surname, given, truncated = split_name(values["name"])
    sex = values["sex"]
    return MrzFields(
        format=fmt.name,
        lines=list(lines),
        document_code=_clean(values["document_code"]),
        issuing_state=_clean(values["issuing_state"]),
        surname=surname,
        given_names=given,
        document_number=number.replace(FILLER, ""),
        nationality=_clean(values["nationality"]),
        birth_date=values["birth_date"],
        sex="" if sex == FILLER else sex,
        expiry_date=values["expiry_date"],
        optional_data=_clean(values["optional_data"]),
        optional_data_2=_clean(values.get("optional_data_2", "")),
        checks=checks,
        name_truncated=truncated,
    )


def parse_any(lines: list[str]) -> MrzFields | None:
    """Parse lines of unknown format: the shape and the first letter pick it; None if no format fits."""
    if not lines:
        return None
    candidates = formats_for(len(lines), len(lines[0]), lines[0][:1])
    for fmt in candidates:
        try:
            return parse(lines, fmt)
        except ValueError:
            continue
    return None


def compose_lines(fmt: MrzFormat, values: dict[str, str]) -> list[str]:
    """Build valid MRZ lines from field values, computing every check digit (used to render tests).

    ``values`` holds document_code, issuing_state, surname, given_names, document_number, nationality,
    birth_date, sex, expiry_date and optionally optional_data / optional_data_2.
    """
    rows = [[FILLER] * fmt.length for _ in range(fmt.lines)]
    name = (
        values["surname"].replace(" ", FILLER) + "<<" + values["given_names"].replace(" ", FILLER)
    )
    data = {**values, "name": name, "sex": values.get("sex") or FILLER}
    for spec in fmt.fields:
        text = data.get(spec.name, "")
        text = text.upper()[: spec.end - spec.start].ljust(spec.end - spec.start, FILLER)
        rows[spec.line][spec.start : spec.end] = list(text)
    for spec in fmt.fields:
        if spec.check is not None:
            covered = "".join(rows[spec.line][spec.start : spec.end])
            line, col = spec.check
            empty_optional = spec.name == "optional_data" and set(covered) <= {FILLER}
            rows[line][col] = FILLER if empty_optional else check_digit(covered)
    if fmt.composite_at is not None:
        covered = "".join("".join(rows[line][start:end]) for line, start, end in fmt.composite)
        line, col = fmt.composite_at
        rows[line][col] = check_digit(covered)
    return ["".join(r) for r in rows]
