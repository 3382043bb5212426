"""ICAO 9303 parsing and check digits (pure functions), on the specimen strings and built MRZs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kycguard.documents.mrz.parse import FORMATS, check_digit, compose_lines, parse, parse_any

VALUES = {
    "document_code": "P",
    "issuing_state": "UTO",
    "surname": "ERIKSSON",
    "given_names": "ANNA MARIA",
    "document_number": "L898902C3",
    "nationality": "UTO",
    "birth_date": "740812",
    "sex": "F",
    "expiry_date": "120415",
    "optional_data": "ZE184226B",
}


def test_check_digit_examples_from_doc_9303() -> None:
    # Doc 9303 part 3 worked examples: number L898902C3 -> 6, birth 740812 -> 2, expiry 120415 -> 9
    assert check_digit("L898902C3") == "6"
    assert check_digit("740812") == "2"
    assert check_digit("120415") == "9"
    assert check_digit("ZE184226B<<<<<") == "1"
    assert check_digit("<<<<") == "0"
    with pytest.raises(ValueError):
        check_digit("abc")


def test_specimen_strings_parse_with_every_check_digit_valid(documents_data: Path) -> None:
    expected = json.loads((documents_data / "mrz_specimens" / "expected_mrz.json").read_text())
    formats = {
        "td1.jpg": "TD1",
        "td2.jpg": "TD2",
        "td3.jpg": "TD3",
        "mrva.jpg": "MRV-A",
        "mrvb.jpg": "MRV-B",
        "passport_uk.jpg": "TD3",
    }
    for name, fmt in formats.items():
        fields = parse_any(expected[name]["mrz"])
        assert fields is not None and fields.format == fmt, name
        assert fields.valid, (name, fields.failed_checks)
    td3 = parse_any(expected["td3.jpg"]["mrz"])
    assert td3 is not None
    assert (td3.surname, td3.given_names, td3.document_number) == (
        "ERIKSSON",
        "ANNA MARIA",
        "L898902C3",
    )
    assert (td3.birth_date, td3.expiry_date, td3.sex, td3.nationality, td3.optional_data) == (
        "740812",
        "120415",
        "F",
        "UTO",
        "ZE184226B",
    )
    assert set(td3.checks) == {
        "document_number",
        "birth_date",
        "expiry_date",
        "optional_data",
        "composite",
    }
    mrva = parse_any(expected["mrva.jpg"]["mrz"])
    assert (
        mrva is not None and "composite" not in mrva.checks
    )  # visas have no composite check digit


def test_passporteye_expected_fields_agree(documents_data: Path) -> None:
    data = json.loads(
        (documents_data / "passporteye_tests" / "tests_data_expected.json").read_text()
    )
    for name in ("passport-td3.jpg", "passport-td2.jpg"):
        entry = data[name]
        fields = parse_any(entry["mrz"])
        assert fields is not None and fields.format == entry["fields"]["mrz_type"]
        assert fields.document_number == entry["fields"]["number"]
        assert fields.birth_date == entry["fields"]["date_of_birth"]
        assert fields.surname == entry["fields"]["surname"]
        assert fields.checks["composite"].read == entry["fields"]["check_composite"]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_compose_then_parse_round_trip_and_single_changes_fail(fmt: str) -> None:
    code = "V" if fmt.startswith("MRV") else ("I" if fmt in ("TD1", "TD2") else "P")
    values = {**VALUES, "document_code": code}
    if fmt in ("TD1", "TD2", "MRV-B"):
        values["optional_data"] = ""
    lines = compose_lines(FORMATS[fmt], values)
    assert [len(line) for line in lines] == [FORMATS[fmt].length] * FORMATS[fmt].lines
    fields = parse(lines, FORMATS[fmt])
    assert fields.valid
    assert fields.surname == "ERIKSSON" and fields.given_names == "ANNA MARIA"
    # changing one digit of the birth date must break its check digit (and the composite)
    spec = next(s for s in FORMATS[fmt].fields if s.name == "birth_date")
    row = list(lines[spec.line])
    row[spec.start] = "9" if row[spec.start] != "9" else "8"
    broken = parse([*lines[: spec.line], "".join(row), *lines[spec.line + 1 :]], FORMATS[fmt])
    assert "birth_date" in broken.failed_checks
    if FORMATS[fmt].composite_at is not None:
        assert "composite" in broken.failed_checks


def test_td1_long_document_number_continues_in_optional_data() -> None:
    # 12-character number: first 9 in the field, '<' in the check position, rest + check digit after
    number = "D23145890123"
    extension = number[9:] + check_digit(number)
    line1 = ("I<UTO" + number[:9] + "<" + extension).ljust(30, "<")
    line2_base = "7408122F1204159UTO<<<<<<<<<<<"
    composite = check_digit(line1[5:30] + line2_base[0:7] + line2_base[8:15] + line2_base[18:29])
    fields = parse(
        [line1, line2_base[:29] + composite, "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"], FORMATS["TD1"]
    )
    assert fields.document_number == number
    assert fields.valid, fields.failed_checks


def test_wrong_shapes_and_characters_are_rejected() -> None:
    with pytest.raises(ValueError):
        parse(["P<UTO", "123"], FORMATS["TD3"])
    with pytest.raises(ValueError):
        parse(["p" * 44, "1" * 44], FORMATS["TD3"])
    assert parse_any([]) is None
