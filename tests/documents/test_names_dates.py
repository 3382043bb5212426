"""Name comparison across transliterations and omissions; document date rules."""

from __future__ import annotations

import datetime as dt

import pytest

from kycguard.documents import dates
from kycguard.documents.names import compare_names, spellings

THRESHOLD = 0.85


@pytest.mark.parametrize(
    ("claimed", "doc", "same"),
    [
        (
            {"claimed_surname": "Eriksson", "claimed_given": "Anna"},
            ("ERIKSSON", "ANNA MARIA"),
            True,
        ),  # middle name left out
        ({"claimed_full": "Anna Maria Eriksson"}, ("ERIKSSON", "ANNA MARIA"), True),
        ({"claimed_full": "ERIKSSON Anna"}, ("ERIKSSON", "ANNA MARIA"), True),  # surname first
        ({"claimed_surname": "Müller", "claimed_given": "Jürgen"}, ("MUELLER", "JUERGEN"), True),
        ({"claimed_surname": "Muller", "claimed_given": "Jurgen"}, ("MUELLER", "JUERGEN"), True),
        ({"claimed_surname": "Тимошенко", "claimed_given": "Юлія"}, ("TYMOSHENKO", "YULIIA"), True),
        (
            {"claimed_surname": "García López", "claimed_given": "José"},
            ("GARCIA LOPEZ", "JOSE"),
            True,
        ),
        ({"claimed_surname": "Smith", "claimed_given": "Anna"}, ("ERIKSSON", "ANNA MARIA"), False),
        ({"claimed_full": "Anna Smith"}, ("ERIKSSON", "ANNA MARIA"), False),
        (
            {"claimed_surname": "Eriksson", "claimed_given": "Peter"},
            ("ERIKSSON", "ANNA MARIA"),
            False,
        ),
    ],
)
def test_name_matching(claimed: dict[str, str], doc: tuple[str, str], same: bool) -> None:
    match = compare_names(
        claimed.get("claimed_surname"),
        claimed.get("claimed_given"),
        doc[0],
        doc[1],
        claimed_full=claimed.get("claimed_full"),
    )
    assert match.matches(THRESHOLD) is same, match


def test_truncated_mrz_name_matches_the_full_name() -> None:
    match = compare_names(
        "Wolfeschlegelsteinhausen",
        "Hubert",
        "WOLFESCHLEGELSTEIN",
        "HUBERT",
        document_truncated=True,
    )
    assert match.matches(THRESHOLD)


def test_spellings_cover_icao_and_plain_folding() -> None:
    assert {"MUELLER", "MULLER"} <= set(spellings("Müller"))
    assert spellings("Юлия")[0] == "IULIIA"


TODAY = dt.date(2025, 6, 1)


def test_mrz_centuries() -> None:
    assert dates.mrz_birth_date("740812", TODAY) == dt.date(1974, 8, 12)
    assert dates.mrz_birth_date("100101", TODAY) == dt.date(2010, 1, 1)
    assert dates.mrz_birth_date("250602", TODAY) == dt.date(
        1925, 6, 2
    )  # tomorrow in 2025: a 100-year-old
    assert dates.mrz_expiry_date("961210", TODAY) == dt.date(1996, 12, 10)
    assert dates.mrz_expiry_date("340415", TODAY) == dt.date(2034, 4, 15)
    assert dates.mrz_birth_date("741332", TODAY) is None
    assert dates.impossible_mrz_date("741332") and dates.impossible_mrz_date("740431")
    assert not dates.impossible_mrz_date("000229")  # 2000 was a leap year


def test_printed_date_formats() -> None:
    found = {
        d for d, _, _ in dates.find_dates("12 AUG/AOUT 74  15.04.2034  1999-01-31  3 MAI 2001")
    }
    assert {
        dt.date(2074, 8, 12),
        dt.date(2034, 4, 15),
        dt.date(1999, 1, 31),
        dt.date(2001, 5, 3),
    } <= found
    assert dates.resolve_two_digit_year(dt.date(2074, 8, 12), "birth", TODAY) == dt.date(
        1974, 8, 12
    )
    assert dates.age_on(dt.date(2007, 6, 2), TODAY) == 17
    assert dates.age_on(dt.date(2007, 6, 1), TODAY) == 18
    assert (
        dates.parse_iso_like("19740812")
        == dates.parse_iso_like("1974-08-12")
        == dt.date(1974, 8, 12)
    )
    assert dates.parse_iso_like("1974-02-30") is None
