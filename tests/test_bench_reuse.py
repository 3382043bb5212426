"""``kycguard bench reuse`` on real LFW pairs: genuine pairs are not flagged, every reuse is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kycguard.cli import main


@pytest.mark.slow
def test_bench_reuse_counts_false_alarms_and_detections(eval_data: Path, tmp_path: Path) -> None:
    root = eval_data / "faces/lfw_devtrain/original_150"
    assert (
        main(["bench", "reuse", "--root", str(root), "--out", str(tmp_path), "--limit", "10"]) == 0
    )
    out = json.loads((tmp_path / "reuse.json").read_text())
    # the first 10 same-person pairs: two different photos each, none of them one picture
    assert out["genuine"]["pairs"] == 10 and out["genuine"]["false_alarms"] == 0
    assert set(out["attacks"]) == {"same_file", "resized_reencoded", "recropped_face"}
    assert all(a["cases"] == 10 and a["detected"] == 10 for a in out["attacks"].values())
    scores = json.loads((tmp_path / "reuse_scores.json").read_text())
    assert len(scores["genuine"]) == 10 and (tmp_path / "reuse.png").stat().st_size > 1000
