"""Dates on documents: MRZ two-digit years, the formats printed or typed elsewhere, and the rules
(expired, not yet valid, under age, impossible)."""

from __future__ import annotations

import datetime as dt
import re

MONTHS = {
    # English, French, German, Spanish, Italian, Portuguese, Dutch abbreviations seen on documents
    "JAN": 1, "JANV": 1, "JANVIER": 1, "ENE": 1, "GEN": 1, "JANUARY": 1,
    "FEB": 2, "FEV": 2, "FEVR": 2, "FEVRIER": 2, "FEBR": 2, "FEBRUARY": 2,
    "MAR": 3, "MARS": 3, "MARCH": 3, "MRZ": 3, "MAERZ": 3,
    "APR": 4, "AVR": 4, "AVRIL": 4, "ABR": 4, "APRIL": 4,
    "MAY": 5, "MAI": 5, "MAG": 5, "MEI": 5,
    "JUN": 6, "JUIN": 6, "JUNE": 6, "GIU": 6,
    "JUL": 7, "JUIL": 7, "JUILLET": 7, "JULY": 7, "LUG": 7,
    "AUG": 8, "AOUT": 8, "AOU": 8, "AGO": 8, "AUGUST": 8,
    "SEP": 9, "SEPT": 9, "SEPTEMBER": 9, "SET": 9,
    "OCT": 10, "OKT": 10, "OCTOBER": 10, "OTT": 10, "OUT": 10,
    "NOV": 11, "NOVEMBER": 11,
    "DEC": 12, "DEZ": 12, "DIC": 12, "DECEMBER": 12,
}  # fmt: skip


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def mrz_birth_date(yymmdd: str, today: dt.date) -> dt.date | None:
    """Birth date from an MRZ ``YYMMDD``: the latest century that does not put it in the future.
    None when the digits are not a calendar date (e.g. month 13)."""
    if not re.fullmatch(r"\d{6}", yymmdd):
        return None
    yy, mm, dd = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    for century in (2000, 1900, 1800):
        d = _safe_date(century + yy, mm, dd)
        if d is None:
            return None
        if d <= today:
            return d
    return None


def mrz_expiry_date(yymmdd: str, today: dt.date) -> dt.date | None:
    """Expiry from an MRZ ``YYMMDD``: 20YY unless that is more than 50 years ahead (then 19YY)."""
    if not re.fullmatch(r"\d{6}", yymmdd):
        return None
    yy, mm, dd = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    year = 2000 + yy if 2000 + yy <= today.year + 50 else 1900 + yy
    return _safe_date(year, mm, dd)


def impossible_mrz_date(yymmdd: str) -> bool:
    """Digits in the right place that no calendar has (month 00 or 13, 31 April, ...)."""
    if not re.fullmatch(r"\d{6}", yymmdd):
        return False  # unknown parts (fillers) are allowed by ICAO
    return _safe_date(2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])) is None and not (
        int(yymmdd[:2]) % 4 != 0
        and yymmdd[2:] == "0229"
        and _safe_date(1900 + int(yymmdd[:2]), 2, 29) is not None
    )


def parse_iso_like(text: str) -> dt.date | None:
    """``YYYYMMDD`` or ``YYYY-MM-DD`` (the structured-data formats of the API)."""
    m = re.fullmatch(r"\s*(\d{4})-?(\d{2})-?(\d{2})\s*", text or "")
    return _safe_date(int(m[1]), int(m[2]), int(m[3])) if m else None


_NUMERIC = re.compile(r"(?<!\d)(\d{1,2})\s*[./-]\s*(\d{1,2})\s*[./-]\s*(\d{4}|\d{2})(?!\d)")
_ISO = re.compile(r"(?<!\d)(\d{4})\s*[./-]\s*(\d{1,2})\s*[./-]\s*(\d{1,2})(?!\d)")
_WORDY = re.compile(
    r"(?<!\d)(\d{1,2})\s*([A-Z]{3,9})(?:\s*/\s*[A-Z]{3,9})?\.?\s*(\d{4}|\d{2})(?!\d)"
)


def find_dates(text: str) -> list[tuple[dt.date | None, str, int | None]]:
    """Dates printed in a visual zone: ``12 AUG 1974``, ``12 AUG/AOUT 74``, ``12.08.1974``, ``1974-08-12``.

    Returns (date, matched text, two-digit-year or None). Two-digit years are returned with the
    year 19YY/20YY left open: the third element is the YY value and the date uses 2000+YY; callers
    that know the field (birth, expiry) resolve it with :func:`resolve_two_digit_year`.
    """
    found: list[tuple[dt.date | None, str, int | None]] = []
    upper = _fold_ascii(text.upper())
    for m in _ISO.finditer(upper):
        found.append((_safe_date(int(m[1]), int(m[2]), int(m[3])), m[0], None))
    for m in _NUMERIC.finditer(upper):
        if any(m[0] in f[1] for f in found):
            continue
        yy = m[3]
        year = int(yy) if len(yy) == 4 else 2000 + int(yy)
        found.append(
            (_safe_date(year, int(m[2]), int(m[1])), m[0], None if len(yy) == 4 else int(yy))
        )
    for m in _WORDY.finditer(upper):
        month = MONTHS.get(m[2]) or MONTHS.get(m[2][:3])
        if month is None:
            continue
        yy = m[3]
        year = int(yy) if len(yy) == 4 else 2000 + int(yy)
        found.append((_safe_date(year, month, int(m[1])), m[0], None if len(yy) == 4 else int(yy)))
    return found


def resolve_two_digit_year(d: dt.date, kind: str, today: dt.date) -> dt.date:
    """Move a 20YY date read with a two-digit year to 19YY where the field requires it."""
    yymmdd = d.strftime("%y%m%d")
    resolved = mrz_birth_date(yymmdd, today) if kind == "birth" else mrz_expiry_date(yymmdd, today)
    return resolved or d


def age_on(birth: dt.date, day: dt.date) -> int:
    """Completed years (a 29 February birthday counts on 1 March in common years)."""
    years = day.year - birth.year
    if (day.month, day.day) < (birth.month, birth.day):
        years -= 1
    return years


def _fold_ascii(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
