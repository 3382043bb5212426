"""``kycguard policies list|show|set`` as a user runs it, on an embedded database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYCGUARD_")}
    env["KYCGUARD_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-m", "kycguard.cli", "policies", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_set_show_and_list_a_policy_audited_as_the_cli_user(tmp_path: Path) -> None:
    doc = tmp_path / "strict.json"
    doc.write_text(json.dumps({"thresholds": {"face_match": {"tolerance": 0.5}}}))
    done = _run(tmp_path, "set", "strict", "--file", str(doc), "--comment", "fewer false accepts")
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert (created["name"], created["version"], created["active"]) == ("strict", 1, True)
    assert created["created_by"].startswith("cli:")

    shown = json.loads(_run(tmp_path, "show", "strict").stdout)
    assert shown["document"]["thresholds"] == {"face_match": {"tolerance": 0.5}}
    listed = json.loads(_run(tmp_path, "list", "--json").stdout)
    assert {(p["name"], p["version"]) for p in listed} == {("default", 1), ("strict", 1)}

    doc.write_text(json.dumps({"thresholds": {"face_match": {"tolerance": 0.9}}}))
    bad = _run(tmp_path, "set", "strict", "--file", str(doc), "--comment", "too loose")
    assert bad.returncode == 2
    assert json.loads(bad.stderr)["error"]["code"] == "INVALID_POLICY"
    missing = _run(tmp_path, "show", "strict", "--version", "2")
    assert missing.returncode == 2 and "POLICY_NOT_FOUND" in missing.stderr
