"""`kycguard bench load` against the two-worker cluster, and `kycguard bench audit`, kept short."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scale.conftest import Cluster
from scale.test_cluster import new_key

from kycguard.cli import main

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_bench_load_writes_json_and_plot(cluster: Cluster, eval_data: Path, tmp_path: Path) -> None:
    key = new_key(cluster, "integrator", cluster.tenant)["key"]
    video = eval_data / "faces/face_recognition_examples/video/short_hamilton_clip.mp4"
    args = ["bench", "load", "--url", cluster.a.base_url, "--key", key, "--sessions", "2"]
    args += [
        "--fps",
        "2",
        "--duration",
        "8",
        "--video",
        str(video),
        "--label",
        "t",
        "--out",
        str(tmp_path),
    ]
    assert main(args) == 0
    report = json.loads((tmp_path / "t.json").read_text())
    frames = report["endpoints"]["POST /sessions/{id}/frames"]
    assert frames["ok"] >= 4 and frames["latency_ms"]["p50"] > 0
    assert report["endpoints"]["GET /health"]["ok"] >= 4
    assert "POST /verify" in report["endpoints"]
    assert sorted(map(int, report["peak_rss_mb_per_worker"])) == sorted(cluster.a.worker_pids())
    assert all(mb > 100 for mb in report["peak_rss_mb_per_worker"].values())  # models are loaded
    assert (tmp_path / "t.png").stat().st_size > 10_000


def test_bench_audit_chain_under_concurrent_writers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    args = ["bench", "audit", "--database-url", url, "--writers", "1", "4", "--seconds", "1"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "audit.json").read_text())
    assert [r["writers"] for r in report["runs"]] == [1, 4]
    assert all(r["appends"] > 0 for r in report["runs"]) and report["chain_verifies"] is True
