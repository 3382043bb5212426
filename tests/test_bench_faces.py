"""``kycguard bench faces`` on real LFW pairs: both pipelines measured, figures and plot written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kycguard.cli import main


@pytest.mark.slow
def test_bench_faces_writes_json_and_roc(eval_data: Path, tmp_path: Path) -> None:
    root = eval_data / "faces/lfw_devtrain/original_150"
    calibration = tmp_path / "cal.json"
    rc = main(
        [
            "bench",
            "faces",
            "--root",
            str(root),
            "--out",
            str(tmp_path),
            "--limit",
            "12",
            "--write-calibration",
            str(calibration),
        ]
    )
    assert rc == 0
    out = json.loads((tmp_path / "faces.json").read_text())
    assert out["pairs"] == 24 and out["genuine_pairs"] == 12
    for name in ("kycguard", "baseline"):
        r = out[name]
        assert r["images"] > 30
        assert r["accuracy"] >= 0.8, (name, r)
        assert set(r["tar_at_far"]) == {"0.01", "0.001"}
        assert r["ms_per_face_median"] > 1
    assert out["baseline"]["threshold"] == 0.6
    assert out["tar_at_far"] == out["kycguard"]["tar_at_far"]
    assert (tmp_path / "faces_roc.png").stat().st_size > 10_000
    cal = json.loads(calibration.read_text())
    assert cal["pairs"] == 24 and cal["slope"] > 0
