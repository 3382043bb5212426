"""``kycguard verify`` prints the API's JSON and stores the verification in the embedded database."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from documents.render import Identity, render_td1
from PIL import Image
from support.env import missing
from support.imagefiles import encode


def test_cli_verify_prints_the_api_json(fr_test_images: Path, tmp_path: Path) -> None:
    photo = np.asarray(Image.open(fr_test_images / "obama.jpg").convert("RGB"))
    try:
        card = render_td1(
            photo,
            Identity(
                surname="OBAMA",
                given_names="BARACK",
                expiry_date=dt.date(2021, 3, 1),
                issue_date=dt.date(2011, 3, 2),
            ),
        ).image
    except FileNotFoundError as exc:
        missing(str(exc))
    (tmp_path / "card.jpg").write_bytes(encode(card))
    (tmp_path / "data.json").write_text(json.dumps({"date_expiration": "20210301"}))
    env = {"PATH": "/usr/bin:/bin", "KYCGUARD_DATA_DIR": str(tmp_path / "data")}
    cmd = [
        sys.executable,
        "-m",
        "kycguard.cli",
        "verify",
        str(tmp_path / "card.jpg"),
        str(fr_test_images / "obama3.jpg"),
    ]
    done = subprocess.run(
        [*cmd, "--data", str(tmp_path / "data.json")], env=env, capture_output=True, timeout=300
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    body = json.loads(done.stdout)
    assert body["status"] == "rejected" and "DOCUMENT_EXPIRED" in body["reasons"]
    assert body["face_match"]["is_match"] is True
    assert (tmp_path / "data" / "kycguard.db").is_file()

    blank = tmp_path / "blank.png"
    blank.write_bytes(encode(np.full((300, 300, 3), 128, np.uint8), "PNG"))
    done = subprocess.run([*cmd[:-1], str(blank)], env=env, capture_output=True, timeout=300)
    assert done.returncode == 2
    assert json.loads(done.stdout)["error"]["code"] == "NO_FACE_IN_SELFIE"
