"""AAMVA DL/ID card design standard: the data in the PDF417 barcode on North American licences.

Layout (all versions 1-10): a header ``@ LF RS CR`` + ``ANSI `` (``AAMVA`` in version 1) + 6-digit
issuer identification number + 2-digit standard version + (version >= 2) 2-digit jurisdiction
version + 2-digit number of subfiles, then per subfile a type (``DL``, ``ID``, ``Z?``), a 4-digit
offset and a 4-digit length. Each subfile repeats its type and holds elements: a 3-letter element ID
followed by the value, separated by LF, ended by CR. Offsets are often wrong in the field, so the
parser falls back to finding the subfile type after the header.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

_HEADER = re.compile(rb"@\n?\x1e?\r?(ANSI |AAMVA)(\d{6})(\d{2})(\d{2})?(\d{2})")
ELEMENT_NAMES = {
    "DCS": "family_name",
    "DAC": "first_name",
    "DAD": "middle_name",
    "DCT": "given_names",  # version 1-2: all given names
    "DAA": "full_name",  # version 1: "FAMILY,FIRST,MIDDLE"
    "DBB": "birth_date",
    "DBA": "expiry_date",
    "DBD": "issue_date",
    "DAQ": "licence_number",
    "DBC": "sex",
    "DCG": "country",
    "DAJ": "jurisdiction",
    "DAG": "street",
    "DAI": "city",
    "DAK": "postal_code",
    "DCF": "document_discriminator",
    "DAY": "eye_colour",
    "DAU": "height",
    "DCA": "vehicle_class",
}
_SEX = {"1": "M", "2": "F", "9": "X", "M": "M", "F": "F", "X": "X"}


@dataclass
class AamvaData:
    """Parsed AAMVA payload; dates already interpreted (US MMDDCCYY, Canada CCYYMMDD)."""

    iin: str
    version: int
    subfile_types: list[str]
    elements: dict[str, str]
    family_name: str = ""
    given_names: str = ""
    birth_date: dt.date | None = None
    expiry_date: dt.date | None = None
    issue_date: dt.date | None = None
    licence_number: str = ""
    sex: str = ""
    country: str = ""
    jurisdiction: str = ""
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "iin": self.iin,
            "version": self.version,
            "subfiles": self.subfile_types,
            "family_name": self.family_name,
            "given_names": self.given_names,
            "birth_date": self.birth_date.isoformat() if self.birth_date else None,
            "expiry_date": self.expiry_date.isoformat() if self.expiry_date else None,
            "issue_date": self.issue_date.isoformat() if self.issue_date else None,
            "licence_number": self.licence_number,
            "sex": self.sex,
            "country": self.country,
            "jurisdiction": self.jurisdiction,
            "elements": {ELEMENT_NAMES.get(k, k): v for k, v in self.elements.items()},
            "problems": self.problems,
        }


def is_aamva(payload: bytes) -> bool:
    return _HEADER.search(payload[:64]) is not None


def parse_aamva_date(value: str, country: str) -> dt.date | None:
    """MMDDCCYY in the USA, CCYYMMDD in Canada; when the country is unknown, whichever is a date."""
    digits = re.sub(r"\D", "", value)
    if len(digits) != 8:
        return None

    def us() -> dt.date | None:
        return _date(int(digits[4:]), int(digits[:2]), int(digits[2:4]))

    def ca() -> dt.date | None:
        return _date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))

    if country == "CAN":
        return ca()
    if country == "USA":
        return us()
    return us() or ca()


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def parse_aamva(payload: bytes) -> AamvaData | None:
    """Parse an AAMVA barcode payload; None when it is not one. Never raises on malformed data."""
    m = _HEADER.search(payload[:64])
    if m is None:
        return None
    iin = m[2].decode()
    version = int(m[3])
    count = int(m[5]) if m[4] is not None else int(m[4] or m[5])
    pos = m.end()
    designators = []
    for _ in range(min(count, 20)):
        entry = payload[pos : pos + 10]
        if len(entry) < 10 or not re.fullmatch(rb"[A-Z]{2}\d{8}", entry):
            break
        designators.append((entry[:2].decode(), int(entry[2:6]), int(entry[6:10])))
        pos += 10
    problems: list[str] = []
    elements: dict[str, str] = {}
    types = [d[0] for d in designators]
    for kind, offset, length in designators:
        chunk = payload[offset : offset + length]
        if not chunk.startswith(kind.encode()):
            # offsets are unreliable in practice: find the subfile after the designators instead
            found = payload.find(kind.encode(), pos)
            if found < 0:
                problems.append(f"subfile {kind} not found")
                continue
            problems.append(f"subfile {kind} offset {offset} wrong, found at {found}")
            end = payload.find(b"\r", found)
            chunk = payload[found : end if end > 0 else len(payload)]
        if kind in ("DL", "ID"):
            elements.update(_elements(chunk[2:]))
    if not designators:
        # very old or sloppy encoders: no designators, elements follow the header
        problems.append("no subfile designators")
        elements.update(_elements(payload[pos:]))
    country = elements.get("DCG", "").upper()
    data = AamvaData(
        iin=iin, version=version, subfile_types=types, elements=elements, problems=problems
    )
    data.country = country
    data.jurisdiction = elements.get("DAJ", "")
    family = elements.get("DCS", "")
    given = " ".join(
        x for x in (elements.get("DAC", ""), elements.get("DAD", "")) if x and x.upper() != "NONE"
    )
    if not given and "DCT" in elements:
        given = elements["DCT"].replace(",", " ")
    if not family and "DAA" in elements:
        parts = [p.strip() for p in elements["DAA"].split(",")]
        family, given = parts[0], " ".join(parts[1:])
    data.family_name = family.strip()
    data.given_names = " ".join(given.split())
    data.birth_date = parse_aamva_date(elements.get("DBB", ""), country)
    data.expiry_date = parse_aamva_date(elements.get("DBA", ""), country)
    data.issue_date = parse_aamva_date(elements.get("DBD", ""), country)
    data.licence_number = elements.get("DAQ", "").strip()
    data.sex = _SEX.get(elements.get("DBC", "").strip()[:1], "")
    for key in ("DBB", "DBA", "DBD"):
        if key in elements and getattr(data, ELEMENT_NAMES[key]) is None:
            problems.append(f"{ELEMENT_NAMES[key]} {elements[key]!r} is not a date")
    return data


def _elements(chunk: bytes) -> dict[str, str]:
    text = chunk.decode("latin-1")
    text = text.split("\r", 1)[0]
    out: dict[str, str] = {}
    for part in re.split(r"[\n\x1e]", text):
        part = part.strip()
        if len(part) >= 3 and re.fullmatch(r"[A-Z]{3}", part[:3]):
            out.setdefault(part[:3], part[3:].strip())
    return out


def build_aamva(
    elements: dict[str, str], iin: str = "636000", version: int = 10, kind: str = "DL"
) -> bytes:
    """Encode elements as a well-formed AAMVA payload (correct offsets); used to make test barcodes."""
    body = kind + "".join(f"{k}{v}\n" for k, v in elements.items())
    body = body[:-1] + "\r"
    header = f"@\n\x1e\rANSI {iin}{version:02d}00" + "01"
    offset = len(header) + 10
    designator = f"{kind}{offset:04d}{len(body):04d}"
    return (header + designator + body).encode("latin-1")
