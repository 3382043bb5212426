"""``kycguard bench pad`` and ``kycguard bench deepfake`` on the shared sets: JSON, metrics, plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kycguard.cli import main


@pytest.mark.slow
def test_bench_pad_with_and_without_model(
    eval_data: Path, minifasnet_model: Path, tmp_path: Path
) -> None:
    images = eval_data / "pad" / "silent_face" / "images"
    rc = main(
        [
            "bench",
            "pad",
            "--images",
            str(images),
            "--out",
            str(tmp_path),
            "--minifasnet",
            str(minifasnet_model),
        ]
    )
    assert rc == 0
    out = json.loads((tmp_path / "pad.json").read_text())
    assert out["counts"] == {"real": 1, "attack": 2}
    for name in ("signals_only", "with_minifasnet"):
        cfg = out["configurations"][name]
        m = cfg["metrics"]["at_live_threshold"]
        assert (m["attacks_accepted"], m["bona_fide_rejected"]) == (0, 0), (name, cfg["samples"])
        assert cfg["metrics"]["roc_auc"] is None  # 1 vs 2 samples: no AUC is claimed
        assert cfg["metrics"]["ordered_pairs"] == 1.0
        assert {s["file"] for s in cfg["samples"]} == {
            "image_F1.jpg",
            "image_F2.jpg",
            "image_T1.jpg",
        }
    assert (tmp_path / "pad.png").stat().st_size > 10_000


@pytest.mark.slow
def test_bench_deepfake_on_a_labelled_csv(eval_data: Path, tmp_path: Path) -> None:
    videos = eval_data / "deepfake" / "ghost_faceswap" / "videos"
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\norig.webm,real\nelon.webm,fake\n")
    rc = main(
        [
            "bench",
            "deepfake",
            "--videos",
            str(videos),
            "--labels",
            str(labels),
            "--out",
            str(tmp_path),
            "--max-frames",
            "40",
        ]
    )
    assert rc == 0
    out = json.loads((tmp_path / "deepfake.json").read_text())
    assert out["counts"] == {"real": 1, "fake": 1, "simulated": 0}
    assert out["metrics"]["deepfake"]["every_fake_above_every_real"] is True
    scores = {Path(c["file"]).name: c["deepfake_score"] for c in out["clips"]}
    assert scores["elon.webm"] > out["thresholds"]["deepfake"] > scores["orig.webm"]
    assert (tmp_path / "deepfake.png").stat().st_size > 10_000
