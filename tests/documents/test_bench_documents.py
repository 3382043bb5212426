"""The two benchmarks run from the command line on the shared data and write what they promise."""

from __future__ import annotations

import json
from pathlib import Path

from kycguard.cli import main


def test_bench_barcode(documents_data: Path, tmp_path: Path) -> None:
    assert (
        main(
            [
                "bench",
                "barcode",
                "--images",
                str(documents_data / "pdf417" / "images"),
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "barcode_pdf417.json").read_text())
    assert report["summary"]["byte_exact"] == report["summary"]["with_expected_payload"] == 8
    assert (tmp_path / "barcode_pdf417.png").stat().st_size > 1000


def test_bench_mrz_without_passporteye(documents_data: Path, tmp_path: Path) -> None:
    images = documents_data / "passporteye_tests" / "images"
    assert (
        main(["bench", "mrz", "--images", str(images), "--out", str(tmp_path), "--no-passporteye"])
        == 0
    )
    report = json.loads((tmp_path / "mrz_passporteye_tests.json").read_text())
    ours = report["tools"]["kycguard"]
    assert ours["images"] == 4 and ours["exact_mrz"] == 4 and ours["all_check_digits_valid"] == 4
    assert all(entry["kycguard"]["ms"] > 0 for entry in report["per_image"].values())
    assert (tmp_path / "mrz_passporteye_tests.png").is_file()


def test_bench_cards_runs_the_verify_pipeline(eval_data: Path, ocrb: str, tmp_path: Path) -> None:
    faces = eval_data / "faces" / "lfw_devtrain" / "deepfunneled_250"
    args = ["bench", "cards", "--count", "1", "--attacks", "1", "--seed", "4"]
    assert main([*args, "--faces", str(faces), "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "cards.json").read_text())
    genuine = report["genuine"]
    assert genuine["cases"] == 1 and sum(genuine["decisions"].values()) == 1
    assert set(genuine["tampering_sign_fired"]) == {
        "portrait_tampering",
        "mrz_geometry",
        "screen_capture",
    }
    assert set(report["attacks"]) == {
        "screen_replay",
        "portrait_pasted",
        "mrz_edited",
        "viz_altered",
    }
    assert report["attacks"]["screen_replay"]["detected"] == 1  # moire is caught on every replay
    assert (tmp_path / "cards.png").stat().st_size > 1000
