"""``kycguard bench frames`` on a real clip: the report has the figures the issue asks for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.evaldata
def test_bench_frames_reports_time_per_frame_on_one_core(eval_data: Path, tmp_path: Path) -> None:
    video = eval_data / "faces/face_recognition_examples/video/short_hamilton_clip.mp4"
    cmd = [sys.executable, "-m", "kycguard.cli", "bench", "frames", "--video", str(video)]
    cmd += ["--out", str(tmp_path), "--limit", "120"]
    done = subprocess.run(cmd, capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    report = json.loads((tmp_path / "frames.json").read_text())
    assert report["resolution"] == [640, 480] and report["frames"] == 120
    assert report["frames_timed"] == 115 and len(report["total_ms_by_frame"]) == 115
    # the singer's face is in frames 82-119 of these 120 (none in the warm-up frames 0-4)
    assert report["per_frame_with_face_ms"]["n"] == report["frames_with_face"] >= 30
    for key in ("per_frame_ms", "per_frame_with_face_ms"):
        t = report[key]
        assert 0 < t["median"] <= t["p95"]
    assert report["fps_per_core"] > 0 and report["cpu_pinned"] in range(
        report["cpus_available"] + 64
    )
    assert (tmp_path / "frames.png").stat().st_size > 1000
