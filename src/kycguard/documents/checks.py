"""Cross-checks and date rules over what was read, each turned into a :class:`CheckResult`."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from kycguard.documents import dates
from kycguard.documents.aamva import AamvaData
from kycguard.documents.config import DocumentSettings
from kycguard.documents.mrz.decode import CONFUSABLE
from kycguard.documents.mrz.parse import MrzFields
from kycguard.documents.mrz.read import MrzReading
from kycguard.documents.names import compare_names, levenshtein, spellings
from kycguard.documents.report import CheckResult, Reason
from kycguard.documents.viz import VizReading

STRUCTURED_KEYS = (
    "full_name",
    "first_name",
    "last_name",
    "date_of_birth",
    "date_expiration",
    "document_number",
    "nationality",
    "sex",
)
VIZ_MIN_CONFIDENCE = 0.85  # below this a visual-zone reading is not trusted to contradict the MRZ


@dataclass
class Identity:
    """The document's data, each field from the most reliable source that had it."""

    surname: str = ""
    given_names: str = ""
    birth_date: dt.date | None = None
    expiry_date: dt.date | None = None
    issue_date: dt.date | None = None
    document_number: str = ""
    nationality: str = ""
    sex: str = ""
    name_truncated: bool = False
    sources: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "surname": self.surname,
            "given_names": self.given_names,
            "birth_date": self.birth_date,
            "expiry_date": self.expiry_date,
            "issue_date": self.issue_date,
            "document_number": self.document_number,
            "nationality": self.nationality,
            "sex": self.sex,
            "sources": dict(self.sources),
        }


def build_identity(
    mrz: MrzFields | None, aamva: AamvaData | None, viz: VizReading | None, today: dt.date
) -> Identity:
    ident = Identity()

    def put(name: str, value: Any, source: str) -> None:
        if value and name not in ident.sources:
            setattr(ident, name, value)
            ident.sources[name] = source

    if mrz is not None:
        put("surname", mrz.surname, "mrz")
        put("given_names", mrz.given_names, "mrz")
        put("birth_date", dates.mrz_birth_date(mrz.birth_date, today), "mrz")
        put("expiry_date", dates.mrz_expiry_date(mrz.expiry_date, today), "mrz")
        put("document_number", mrz.document_number, "mrz")
        put("nationality", mrz.nationality, "mrz")
        put("sex", mrz.sex, "mrz")
        ident.name_truncated = mrz.name_truncated
    if aamva is not None:
        put("surname", aamva.family_name, "barcode")
        put("given_names", aamva.given_names, "barcode")
        put("birth_date", aamva.birth_date, "barcode")
        put("expiry_date", aamva.expiry_date, "barcode")
        put("issue_date", aamva.issue_date, "barcode")
        put("document_number", aamva.licence_number, "barcode")
        put("sex", aamva.sex, "barcode")
    if viz is not None:
        trusted = {
            k: v
            for k, v in viz.fields.items()
            if viz.field_confidence.get(k, 0) >= VIZ_MIN_CONFIDENCE
        }
        put("surname", trusted.get("surname", ""), "viz")
        put("given_names", trusted.get("given_names", ""), "viz")
        for key, kind in (
            ("birth_date", "birth"),
            ("expiry_date", "expiry"),
            ("issue_date", "expiry"),
        ):
            d = _viz_date(trusted.get(key, ""), kind, today)
            put(key, d, "viz")
        put("document_number", _normalise_number(trusted.get("document_number", "")), "viz")
    return ident


def _viz_date(text: str, kind: str, today: dt.date) -> dt.date | None:
    for d, _, yy in dates.find_dates(text):
        if d is not None:
            return (
                dates.resolve_two_digit_year(d, "birth" if kind == "birth" else "expiry", today)
                if yy is not None
                else d
            )
    return None


def _normalise_number(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


# -- MRZ --------------------------------------------------------------------------------------


def mrz_checks(reading: MrzReading, settings: DocumentSettings) -> list[CheckResult]:
    """Was an MRZ found and read, and do its check digits hold?"""
    if reading.status == "not_found":
        return [
            CheckResult("mrz_read", False, 0.0, reading.detail, [Reason.MRZ_NOT_FOUND]),
            CheckResult("mrz_check_digits", None, None, "no MRZ to verify"),
        ]
    if reading.status == "unreadable" or reading.fields is None:
        return [
            CheckResult(
                "mrz_read", False, reading.confidence, reading.detail, [Reason.MRZ_UNREADABLE]
            ),
            CheckResult("mrz_check_digits", None, None, "MRZ not readable enough to verify"),
        ]
    fields = reading.fields
    read = CheckResult(
        "mrz_read",
        True,
        reading.confidence,
        reading.detail
        + (
            f", {len(reading.corrections)} character(s) chosen by check digits"
            if reading.corrections
            else ""
        ),
        evidence={"format": fields.format, "engine": reading.engine},
    )
    failed = fields.failed_checks
    total = len(fields.checks)
    if not failed:
        digits = CheckResult("mrz_check_digits", True, 1.0, f"all {total} check digits valid")
    else:
        confident = reading.confidence >= settings.mrz_hard_reject_confidence
        digits = CheckResult(
            "mrz_check_digits",
            False,
            0.0,
            f"check digit(s) failed: {', '.join(failed)}"
            + (
                " (read confidently: the printed data are inconsistent)"
                if confident
                else " (low read confidence: may be a misreading)"
            ),
            [Reason.MRZ_CHECK_DIGIT_FAILED],
            hard_reject=confident and Reason.MRZ_CHECK_DIGIT_FAILED in settings.hard_reject_codes,
            evidence={"failed": failed, "confidence": reading.confidence},
        )
    return [read, digits]


# -- dates ------------------------------------------------------------------------------------


def _hard(code: str, settings: DocumentSettings) -> bool:
    return code in settings.hard_reject_codes


def date_checks(
    ident: Identity,
    mrz: MrzFields | None,
    structured: dict[str, Any],
    settings: DocumentSettings,
    today: dt.date,
    warnings: list[str],
    viz_dates: dict[str, dt.date] | None = None,
) -> list[CheckResult]:
    """Expiry, validity start, minimum age and impossible dates.

    ``viz_dates`` (``birth_date`` / ``expiry_date`` printed in the visual zone) turn an MRZ date no
    calendar has into a review finding carrying both readings when the printed one is a real date."""
    results = []
    expiry, expiry_src = ident.expiry_date, ident.sources.get("expiry_date")
    if expiry is None and structured.get("date_expiration"):
        expiry = dates.parse_iso_like(str(structured["date_expiration"]))
        expiry_src = "structured_data"
        if expiry is None:
            warnings.append(
                f"structured_data.date_expiration {structured['date_expiration']!r} is not a date"
            )
    if expiry is None:
        results.append(
            CheckResult(
                "document_expiry", None, None, "no expiry date on the document or in the data"
            )
        )
    else:
        last_valid = expiry + dt.timedelta(days=settings.expiry_grace_days)
        if today > last_valid:
            days = (today - expiry).days
            results.append(
                CheckResult(
                    "document_expiry",
                    False,
                    0.0,
                    f"expired on {expiry.isoformat()} ({days} days ago; expiry from {expiry_src})",
                    [Reason.DOCUMENT_EXPIRED],
                    hard_reject=_hard(Reason.DOCUMENT_EXPIRED, settings),
                    evidence={"expiry_date": expiry, "source": expiry_src},
                )
            )
        else:
            results.append(
                CheckResult(
                    "document_expiry",
                    True,
                    1.0,
                    f"valid until {expiry.isoformat()} (from {expiry_src})",
                    evidence={"expiry_date": expiry, "source": expiry_src},
                )
            )

    issue = ident.issue_date
    if issue is None:
        results.append(CheckResult("document_validity_start", None, None, "no issue date read"))
    elif issue > today:
        results.append(
            CheckResult(
                "document_validity_start",
                False,
                0.0,
                f"issued on {issue.isoformat()}, after today (from {ident.sources.get('issue_date')})",
                [Reason.DOCUMENT_NOT_YET_VALID],
                hard_reject=_hard(Reason.DOCUMENT_NOT_YET_VALID, settings),
            )
        )
    else:
        results.append(
            CheckResult("document_validity_start", True, 1.0, f"issued on {issue.isoformat()}")
        )

    birth, birth_src = ident.birth_date, ident.sources.get("birth_date")
    if birth is None and structured.get("date_of_birth"):
        birth = dates.parse_iso_like(str(structured["date_of_birth"]))
        birth_src = "structured_data"
    if birth is None:
        results.append(
            CheckResult("holder_age", None, None, "no birth date on the document or in the data")
        )
    else:
        age = dates.age_on(birth, today)
        if age < settings.min_age_years:
            results.append(
                CheckResult(
                    "holder_age",
                    False,
                    0.0,
                    f"holder is {age}, under the minimum age of {settings.min_age_years} (birth date from {birth_src})",
                    [Reason.HOLDER_UNDERAGE],
                    hard_reject=_hard(Reason.HOLDER_UNDERAGE, settings),
                    evidence={"age": age},
                )
            )
        else:
            results.append(
                CheckResult(
                    "holder_age",
                    True,
                    1.0,
                    f"holder is {age} (minimum {settings.min_age_years})",
                    evidence={"age": age},
                )
            )

    problems = _impossible_dates(ident, mrz, birth, expiry, settings, today)
    misread = _misread_mrz_dates(mrz, viz_dates or {})
    if problems and len(misread) == len(problems):
        results.append(
            CheckResult(
                "date_plausibility",
                False,
                0.8,
                "; ".join(problems)
                + ": the visual zone prints a real date there, so the MRZ was probably misread; "
                "a reviewer should read the document",
                [Reason.IMPOSSIBLE_DATE],
                hard_reject=False,
                evidence={"readings": misread},
            )
        )
    elif problems:
        results.append(
            CheckResult(
                "date_plausibility",
                False,
                0.0,
                "; ".join(problems),
                [Reason.IMPOSSIBLE_DATE],
                hard_reject=_hard(Reason.IMPOSSIBLE_DATE, settings),
            )
        )
    elif birth is None and expiry is None:
        results.append(CheckResult("date_plausibility", None, None, "no dates to check"))
    else:
        results.append(
            CheckResult(
                "date_plausibility", True, 1.0, "dates are calendar dates in a possible order"
            )
        )
    return results


def _misread_mrz_dates(
    mrz: MrzFields | None, viz_dates: dict[str, dt.date]
) -> list[dict[str, str]]:
    """MRZ dates that are no calendar date while the visual zone prints a real one for the field."""
    if mrz is None:
        return []
    out = []
    for name in ("birth_date", "expiry_date"):
        raw = getattr(mrz, name)
        if dates.impossible_mrz_date(raw) and name in viz_dates:
            out.append({"field": name, "mrz": raw, "printed": viz_dates[name].isoformat()})
    return out


def viz_dates(viz: VizReading | None, today: dt.date) -> dict[str, dt.date]:
    """Birth and expiry dates the visual zone prints under their labels (trusted readings only)."""
    if viz is None:
        return {}
    out = {}
    for key, kind in (("birth_date", "birth"), ("expiry_date", "expiry")):
        if viz.field_confidence.get(key, 0) >= VIZ_MIN_CONFIDENCE:
            d = _viz_date(viz.fields.get(key, ""), kind, today)
            if d is not None:
                out[key] = d
    return out


def _impossible_dates(
    ident: Identity,
    mrz: MrzFields | None,
    birth: dt.date | None,
    expiry: dt.date | None,
    settings: DocumentSettings,
    today: dt.date,
) -> list[str]:
    problems = []
    if mrz is not None:
        for name in ("birth_date", "expiry_date"):
            raw = getattr(mrz, name)
            check = mrz.checks.get(name)
            # a misread digit fails its check digit; only a date printed consistently is "impossible"
            if dates.impossible_mrz_date(raw) and (check is None or check.valid):
                problems.append(f"MRZ {name.replace('_', ' ')} {raw} is not a calendar date")
    if birth is not None:
        if birth > today:
            problems.append(f"birth date {birth.isoformat()} is in the future")
        elif dates.age_on(birth, today) > settings.max_age_years:
            problems.append(
                f"birth date {birth.isoformat()} implies an age over {settings.max_age_years}"
            )
    if birth is not None and expiry is not None and expiry <= birth:
        problems.append(f"expiry {expiry.isoformat()} is not after birth {birth.isoformat()}")
    if ident.issue_date is not None:
        if birth is not None and ident.issue_date < birth:
            problems.append(f"issue date {ident.issue_date.isoformat()} is before birth")
        if expiry is not None and ident.issue_date > expiry:
            problems.append(f"issue date {ident.issue_date.isoformat()} is after expiry")
    return problems


# -- cross-checks ----------------------------------------------------------------------------

_OCR_TO_LETTER = str.maketrans({"0": "O", "1": "I", "5": "S", "8": "B", "2": "Z"})


def _strict_name_similarity(document: str, printed: str, truncated: bool) -> float:
    """How well a printed (VIZ) name agrees with an MRZ name: transliterations allowed, nothing else."""
    best = 0.0
    target = document.replace(" ", "")
    for spelled in spellings(printed.translate(_OCR_TO_LETTER)):
        joined = spelled.replace(" ", "")
        if truncated and joined.startswith(target):
            return 1.0
        if target and target in joined:
            return 1.0
        # compare with the best-aligned window of the printed text
        n = len(target)
        windows = [joined[i : i + n] for i in range(max(1, len(joined) - n + 1))] or [joined]
        for w in windows:
            best = max(best, 1.0 - levenshtein(target, w) / max(n, 1))
    return best


_CONFUSED = {frozenset(pair) for pair in CONFUSABLE}


def ocr_confusion(first: str, second: str) -> bool:
    """Do two readings of one field differ only by letter/digit pairs OCR confuses (and differ)?"""
    a, b = _normalise_number(first), _normalise_number(second)
    if len(a) != len(b) or a == b:
        return False
    return all(x == y or frozenset((x, y)) in _CONFUSED for x, y in zip(a, b, strict=True))


@dataclass
class _Comparison:
    field: str
    status: str  # match | mismatch | not_found
    document: str
    other: str
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "field": self.field,
            "status": self.status,
            "document": self.document,
            "other": self.other,
        }


def mrz_vs_viz(mrz: MrzFields | None, viz: VizReading | None, today: dt.date) -> CheckResult:
    """Do the printed fields say what the MRZ says?"""
    if mrz is None:
        return CheckResult("mrz_vs_viz", None, None, "no MRZ to compare the visual zone with")
    if viz is None or not viz.lines:
        return CheckResult("mrz_vs_viz", None, None, "no visual-zone text read")
    comps: list[_Comparison] = []
    trusted_lines = [ln for ln in viz.lines if ln.confidence >= VIZ_MIN_CONFIDENCE]
    labelled = {
        k: v for k, v in viz.fields.items() if viz.field_confidence.get(k, 0) >= VIZ_MIN_CONFIDENCE
    }

    for name_field, value in (("surname", mrz.surname), ("given_names", mrz.given_names)):
        if not value:
            continue
        printed = labelled.get(name_field) or labelled.get("full_name")
        if printed:
            sim = _strict_name_similarity(value, printed, mrz.name_truncated)
            if (
                sim >= 0.6
            ):  # below that the label pointed at something else, not at a different name
                comps.append(
                    _Comparison(name_field, "match" if sim >= 0.999 else "mismatch", value, printed)
                )
                continue
        # Unlabelled: a line that is almost the name (one or two letters off) contradicts the MRZ
        # even when another line (a signature, say) spells it right.
        exact, near = "", ""
        for line in trusted_lines:
            sim = _strict_name_similarity(value, line.text, mrz.name_truncated)
            if sim >= 0.999:
                exact = exact or line.text
            elif sim >= 0.75 and len(value.replace(" ", "")) >= 4:
                near = near or line.text
        if near:
            comps.append(_Comparison(name_field, "mismatch", value, near))
        elif exact:
            comps.append(_Comparison(name_field, "match", value, exact))
        else:
            comps.append(_Comparison(name_field, "not_found", value, ""))

    number = mrz.document_number
    text_numbers = {
        _normalise_number(t) for ln in trusted_lines for t in re.split(r"\s{2,}|/", ln.text)
    }
    all_text = _normalise_number(" ".join(ln.text for ln in trusted_lines))
    if number and number in all_text:
        comps.append(_Comparison("document_number", "match", number, number))
    elif number:
        close_numbers = [
            t
            for t in text_numbers
            if len(t) == len(number) and levenshtein(t, number) == 1 and re.search(r"\d", t)
        ]
        printed = labelled.get("document_number")
        if close_numbers:
            comps.append(_Comparison("document_number", "mismatch", number, close_numbers[0]))
        elif printed and len(_normalise_number(printed)) >= 5 and re.search(r"\d", printed):
            comps.append(_Comparison("document_number", "mismatch", number, printed))
        else:
            comps.append(_Comparison("document_number", "not_found", number, ""))

    viz_dates = [
        (d, text, yy)
        for ln in trusted_lines
        for d, text, yy in dates.find_dates(ln.text)
        if d is not None
    ]
    for key, kind, raw in (
        ("birth_date", "birth", mrz.birth_date),
        ("expiry_date", "expiry", mrz.expiry_date),
    ):
        target = (
            dates.mrz_birth_date(raw, today)
            if kind == "birth"
            else dates.mrz_expiry_date(raw, today)
        )
        if target is None:
            continue
        found = [
            (dates.resolve_two_digit_year(d, kind, today) if yy is not None else d, text)
            for d, text, yy in viz_dates
        ]
        if any(d == target for d, _ in found):
            comps.append(_Comparison(key, "match", target.isoformat(), target.isoformat()))
            continue
        printed_date = _viz_date(labelled.get(key, ""), kind, today)
        if printed_date is not None:
            comps.append(_Comparison(key, "mismatch", target.isoformat(), printed_date.isoformat()))
        else:
            comps.append(_Comparison(key, "not_found", target.isoformat(), ""))

    mismatches = [c for c in comps if c.status == "mismatch"]
    matches = [c for c in comps if c.status == "match"]
    evidence: dict[str, Any] = {"comparisons": [c.to_dict() for c in comps]}
    explained = [c for c in mismatches if ocr_confusion(c.document, c.other)]
    if mismatches and len(explained) == len(mismatches):
        # every disagreement is a letter/digit pair OCR-B readers confuse: one of the two readings
        # is wrong, not the document; a reviewer looks at both (no rejection, little score lost)
        evidence["ocr_confusion"] = [
            {"field": c.field, "mrz": c.document, "printed": c.other} for c in explained
        ]
        detail = "; ".join(
            f"{c.field}: MRZ {c.document!r} vs printed {c.other!r}" for c in explained
        )
        return CheckResult(
            "mrz_vs_viz",
            False,
            0.9,
            f"visual zone and MRZ differ only by characters OCR confuses (O/0, I/1, S/5, B/8 ...): "
            f"{detail}; a reviewer should read the document",
            [Reason.MRZ_VIZ_MISMATCH],
            hard_reject=False,
            evidence=evidence,
        )
    if mismatches:
        detail = "; ".join(
            f"{c.field}: MRZ {c.document!r} vs printed {c.other!r}" for c in mismatches
        )
        return CheckResult(
            "mrz_vs_viz",
            False,
            len(matches) / max(len(matches) + len(mismatches), 1),
            f"visual zone disagrees with the MRZ: {detail}",
            [Reason.MRZ_VIZ_MISMATCH],
            evidence=evidence,
        )
    if not matches:
        return CheckResult(
            "mrz_vs_viz",
            None,
            None,
            "no MRZ field found in the visual-zone text",
            evidence=evidence,
        )
    return CheckResult(
        "mrz_vs_viz",
        True,
        1.0,
        f"{len(matches)} field(s) agree with the MRZ ({', '.join(c.field for c in matches)})",
        evidence=evidence,
    )


def barcode_vs_mrz(
    mrz: MrzFields | None, aamva: AamvaData | None, settings: DocumentSettings, today: dt.date
) -> CheckResult:
    if mrz is None or aamva is None:
        return CheckResult("barcode_vs_mrz", None, None, "needs both an MRZ and an AAMVA barcode")
    problems = []
    name = compare_names(
        aamva.family_name,
        aamva.given_names,
        mrz.surname,
        mrz.given_names,
        document_truncated=mrz.name_truncated,
    )
    if not name.matches(settings.name_match_threshold):
        problems.append(f"name ({name.detail})")
    birth = dates.mrz_birth_date(mrz.birth_date, today)
    if aamva.birth_date and birth and aamva.birth_date != birth:
        problems.append(f"birth date {aamva.birth_date.isoformat()} vs {birth.isoformat()}")
    if problems:
        return CheckResult(
            "barcode_vs_mrz",
            False,
            0.0,
            "barcode disagrees with the MRZ: " + "; ".join(problems),
            [Reason.BARCODE_MRZ_MISMATCH],
        )
    return CheckResult(
        "barcode_vs_mrz", True, 1.0, "barcode name and birth date agree with the MRZ"
    )


_SOURCE_CODE = {
    "mrz": Reason.MRZ_DATA_MISMATCH,
    "barcode": Reason.BARCODE_DATA_MISMATCH,
    "viz": Reason.VIZ_DATA_MISMATCH,
}


def document_vs_structured(
    ident: Identity, structured: dict[str, Any], settings: DocumentSettings, warnings: list[str]
) -> CheckResult:
    """Does the data the caller sent (``structured_data``) agree with the document?"""
    if not structured:
        return CheckResult("document_vs_structured_data", None, None, "no structured data given")
    compared: list[str] = []
    problems: list[tuple[str, str]] = []  # (field, explanation)
    if (
        structured.get("full_name") or structured.get("last_name") or structured.get("first_name")
    ) and ident.surname:
        match = compare_names(
            structured.get("last_name"),
            structured.get("first_name"),
            ident.surname,
            ident.given_names,
            claimed_full=structured.get("full_name") if not structured.get("last_name") else None,
            document_truncated=ident.name_truncated,
        )
        compared.append("name")
        if not match.matches(settings.name_match_threshold):
            problems.append(
                (
                    "surname",
                    f"name similarity {match.score:.2f} below {settings.name_match_threshold} ({match.detail})",
                )
            )
    for key, attr in (("date_of_birth", "birth_date"), ("date_expiration", "expiry_date")):
        if structured.get(key) and getattr(ident, attr):
            claimed = dates.parse_iso_like(str(structured[key]))
            if claimed is None:
                warnings.append(
                    f"structured_data.{key} {structured[key]!r} is not a YYYY-MM-DD or YYYYMMDD date"
                )
                continue
            compared.append(key)
            if claimed != getattr(ident, attr):
                problems.append(
                    (
                        attr,
                        f"{key} {claimed.isoformat()} vs document {getattr(ident, attr).isoformat()}",
                    )
                )
    if structured.get("document_number") and ident.document_number:
        compared.append("document_number")
        claimed_no = _normalise_number(str(structured["document_number"]))
        doc_no = _normalise_number(ident.document_number)
        if claimed_no != doc_no and claimed_no.replace("O", "0") != doc_no.replace("O", "0"):
            problems.append(
                ("document_number", f"document_number {claimed_no} vs document {doc_no}")
            )
    if (
        structured.get("nationality")
        and ident.nationality
        and len(str(structured["nationality"]).strip()) == 3
    ):
        compared.append("nationality")
        if str(structured["nationality"]).strip().upper() != ident.nationality:
            problems.append(
                (
                    "nationality",
                    f"nationality {structured['nationality']} vs document {ident.nationality}",
                )
            )
    if structured.get("sex") and ident.sex:
        compared.append("sex")
        claimed_sex = str(structured["sex"]).strip().upper()[:1]
        if claimed_sex in "MFX" and claimed_sex != ident.sex:
            problems.append(("sex", f"sex {claimed_sex} vs document {ident.sex}"))
    if not compared:
        return CheckResult(
            "document_vs_structured_data",
            None,
            None,
            "no structured field could be compared with the document",
        )
    if problems:
        codes = sorted({_SOURCE_CODE[ident.sources.get(f, "mrz")] for f, _ in problems})
        return CheckResult(
            "document_vs_structured_data",
            False,
            1 - len(problems) / len(compared),
            "structured data disagree with the document: " + "; ".join(p for _, p in problems),
            list(codes),
            evidence={"compared": compared, "mismatched": [f for f, _ in problems]},
        )
    return CheckResult(
        "document_vs_structured_data",
        True,
        1.0,
        f"structured data agree with the document ({', '.join(compared)})",
        evidence={"compared": compared},
    )
