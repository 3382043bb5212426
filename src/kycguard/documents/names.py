"""Fuzzy comparison of personal names across scripts, transliterations and omissions.

A name typed by a user, printed in a visual zone, encoded in an MRZ or in a barcode differs for
innocent reasons: diacritics (``Müller`` / ``MUELLER`` / ``MULLER``), Cyrillic or Greek
transliteration systems (``Юлия`` / ``IULIIA`` / ``YULIYA``), omitted middle names, surname and given
names in either order, MRZ truncation. Names are folded to A-Z tokens in every plausible spelling,
tokens are compared by edit distance and by a phonetic skeleton, and the claimed tokens must be
found among the document's (or the other way round), so extra middle names are tolerated but
a different surname is not.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from itertools import product

# ICAO Doc 9303 part 3 transliterations that are not just "drop the accent" (first spelling is ICAO's
# recommendation, the second the plain fold many issuers and users use).
_LATIN_MULTI: dict[str, tuple[str, ...]] = {
    "Ä": ("AE", "A"), "Ö": ("OE", "O"), "Ü": ("UE", "U"), "ß": ("SS",), "Å": ("AA", "A"), "Æ": ("AE",),
    "Ø": ("OE", "O"), "Œ": ("OE",), "Þ": ("TH",), "Ð": ("D",), "Ĳ": ("IJ", "Y"), "Ł": ("L",), "Ñ": ("N", "NXX"),
    "Đ": ("D",), "Ħ": ("H",), "İ": ("I",), "I": ("I",), "Ŀ": ("L",), "ı": ("I",),
}  # fmt: skip
_CYRILLIC: dict[str, tuple[str, ...]] = {
    "А": ("A",), "Б": ("B",), "В": ("V",), "Г": ("G", "H"), "Ґ": ("G",), "Д": ("D",), "Е": ("E",),
    "Ё": ("E", "YO"), "Є": ("IE", "YE"), "Ж": ("ZH",), "З": ("Z",), "И": ("I", "Y"), "І": ("I",), "Ї": ("I", "YI"),
    "Й": ("I", "Y"), "К": ("K",), "Л": ("L",), "М": ("M",), "Н": ("N",), "О": ("O",), "П": ("P",), "Р": ("R",),
    "С": ("S",), "Т": ("T",), "У": ("U",), "Ў": ("U",), "Ф": ("F",), "Х": ("KH", "H"), "Ц": ("TS", "C"),
    "Ч": ("CH",), "Ш": ("SH",), "Щ": ("SHCH",), "Ъ": ("IE", ""), "Ы": ("Y",), "Ь": ("",), "Э": ("E",),
    "Ю": ("IU", "YU"), "Я": ("IA", "YA"),
}  # fmt: skip
_GREEK: dict[str, tuple[str, ...]] = {
    "Α": ("A",), "Β": ("V", "B"), "Γ": ("G",), "Δ": ("D",), "Ε": ("E",), "Ζ": ("Z",), "Η": ("I", "H"),
    "Θ": ("TH",), "Ι": ("I",), "Κ": ("K",), "Λ": ("L",), "Μ": ("M",), "Ν": ("N",), "Ξ": ("X", "KS"), "Ο": ("O",),
    "Π": ("P",), "Ρ": ("R",), "Σ": ("S",), "Τ": ("T",), "Υ": ("Y", "I"), "Φ": ("F",), "Χ": ("CH", "X"),
    "Ψ": ("PS",), "Ω": ("O",),
}  # fmt: skip
_TABLE = {**_LATIN_MULTI, **_CYRILLIC, **_GREEK}
_MAX_VARIANTS = 8


def spellings(text: str) -> list[str]:
    """Uppercase A-Z spellings of a name (a few transliteration choices), separators as spaces."""
    options: list[tuple[str, ...]] = []
    for ch in unicodedata.normalize("NFC", text.upper()):
        if ch in _TABLE:
            options.append(_TABLE[ch])
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        if base in _TABLE:
            options.append(_TABLE[base])
        elif re.fullmatch(r"[A-Z]*", base):
            options.append((base,))
        else:
            options.append((" ",))  # hyphens, commas, apostrophes, MRZ fillers
    variants: list[str] = []
    for combo in product(*options):
        spelled = re.sub(r"\s+", " ", "".join(combo)).strip()
        if spelled not in variants:
            variants.append(spelled)
        if len(variants) >= _MAX_VARIANTS:
            break
    return variants or [""]


def fold(text: str) -> str:
    """The first (ICAO-recommended) A-Z spelling."""
    return spellings(text)[0]


_SKELETON_RULES = (
    ("AE", "A"), ("OE", "O"), ("UE", "U"), ("PH", "F"), ("KH", "H"), ("CK", "K"), ("SCH", "SH"), ("TH", "T"), ("DZ", "Z"), ("TS", "C"),
    ("W", "V"), ("Y", "I"), ("J", "I"), ("Q", "K"), ("X", "KS"), ("C", "K"),
)  # fmt: skip


def skeleton(token: str) -> str:
    """A coarse phonetic key: transliteration systems disagree on exactly these letters."""
    out = token
    for a, b in _SKELETON_RULES:
        out = out.replace(a, b)
    out = re.sub(r"(.)\1+", r"\1", out)  # doubled letters
    return out


def levenshtein(a: str, b: str) -> int:
    if a == b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def token_similarity(a: str, b: str, allow_prefix: bool = False) -> float:
    """1.0 identical, 0.95 same phonetic skeleton, else 1 - edit distance / length."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    if allow_prefix and len(b) >= 3 and a.startswith(b):
        return 0.97  # truncated MRZ name
    if skeleton(a) == skeleton(b):
        return 0.95
    return max(0.0, 1.0 - levenshtein(a, b) / max(len(a), len(b)))


@dataclass(frozen=True)
class NameMatch:
    """How similar two names are (0-1) and a sentence saying what matched."""

    score: float
    detail: str

    def matches(self, threshold: float) -> bool:
        return self.score >= threshold


def _tokens(text: str) -> list[list[str]]:
    return [v.split() for v in spellings(text)]


def _cover(small: list[str], large: list[str], prefix_last: bool) -> tuple[float, list[int]]:
    """Mean best similarity of every token of ``small`` to a distinct token of ``large`` (greedy)."""
    if not small:
        return 0.0, []
    used: list[int] = []
    total = 0.0
    for tok in small:
        best, best_j = 0.0, -1
        for j, other in enumerate(large):
            if j in used:
                continue
            s = token_similarity(other, tok, allow_prefix=prefix_last and j == len(large) - 1)
            s = max(s, token_similarity(tok, other))
            if s > best:
                best, best_j = s, j
        if best_j >= 0:
            used.append(best_j)
        total += best
    return total / len(small), used


def compare_names(
    claimed_surname: str | None,
    claimed_given: str | None,
    document_surname: str,
    document_given: str,
    *,
    claimed_full: str | None = None,
    document_truncated: bool = False,
) -> NameMatch:
    """Similarity of a claimed name (split, or a full name in either order) to a document's name.

    Missing middle names on either side are tolerated; the surname must be there.
    """
    best = NameMatch(0.0, "no name to compare")
    for doc_s, doc_g in product(_tokens(document_surname), _tokens(document_given)):
        if claimed_full is not None:
            for full in _tokens(claimed_full):
                best = max(
                    best,
                    _full_name_match(full, doc_s, doc_g, document_truncated),
                    key=lambda m: m.score,
                )
            continue
        for cs, cg in product(_tokens(claimed_surname or ""), _tokens(claimed_given or "")):
            best = max(
                best, _split_match(cs, cg, doc_s, doc_g, document_truncated), key=lambda m: m.score
            )
    return best


def _part_score(claimed: list[str], document: list[str], truncated: bool) -> float:
    if not claimed or not document:
        return 0.0
    small, large = (claimed, document) if len(claimed) <= len(document) else (document, claimed)
    score, _ = _cover(small, large, truncated and large is document)
    joined = token_similarity("".join(document), "".join(claimed), allow_prefix=truncated)
    return max(score, joined)


def _split_match(
    cs: list[str], cg: list[str], ds: list[str], dg: list[str], truncated: bool
) -> NameMatch:
    surname = _part_score(cs, ds, truncated and not dg)
    given = _part_score(cg, dg, truncated) if cg and dg else (1.0 if not cg else 0.0)
    if not cg and not dg:
        given = 1.0
    score = 0.6 * surname + 0.4 * given if cg or dg else surname
    detail = f"surname similarity {surname:.2f}, given names {given:.2f}"
    # a surname that does not match cannot be compensated by the given names
    return NameMatch(min(score, surname + 0.1), detail)


def _full_name_match(full: list[str], ds: list[str], dg: list[str], truncated: bool) -> NameMatch:
    """A full name of unknown order: its parts must cover the document's (or be covered by them)
    and one of them must be the surname."""
    document = ds + dg
    if not full or not document:
        return NameMatch(0.0, "empty name")
    small, large = (full, document) if len(full) <= len(document) else (document, full)
    score, _ = _cover(small, large, truncated and large is document)
    surname_best = max(
        (
            max(token_similarity(d, f, allow_prefix=truncated), token_similarity(f, d))
            for d in ds
            for f in full
        ),
        default=0.0,
    )
    joined = max(
        token_similarity("".join(ds + dg), "".join(full)),
        token_similarity("".join(dg + ds), "".join(full)),
    )
    surname_hit = surname_best >= 0.85 or joined >= 0.9
    final = max(score, joined) if surname_hit else min(score, joined, 0.6)
    return NameMatch(
        final,
        f"{len(small)} of {len(large)} name parts matched (mean similarity {score:.2f}), "
        f"surname {'found' if surname_hit else 'not found'}",
    )
