"""``kycguard models export-labels``: the reviewers' labels become training data for train-pad.

Real cases from the real server, labelled through the feedback route, exported by the CLI on the
server's own database and keys: the files, the labels, the pseudonymous subject and the audit entry.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from reviews.conftest import Photos
from reviews.helpers import audit_entries
from support.servers import Server

from kycguard.client import Client

EXPORT = (sys.executable, "-m", "kycguard.cli", "models", "export-labels")


def test_labelled_cases_export_as_a_train_pad_folder(
    server: Server, clients: Callable[..., Client], review_photos: Photos, tmp_path: Path
) -> None:
    tenant = f"export-{uuid.uuid4().hex[:6]}"
    integrator, reviewer = clients("integrator", tenant), clients("reviewer", tenant)
    user = f"user-{uuid.uuid4().hex[:8]}"
    accepted = integrator.verify(review_photos.card, review_photos.holder, user_id=user)
    refused = integrator.verify(review_photos.card, review_photos.other_person, user_id=user + "b")
    assert (accepted.status, refused.status) == ("approved", "rejected")
    reviewer.verifications.feedback(accepted.id, was_fraud=True, notes="chargeback")
    reviewer.verifications.feedback(refused.id, was_fraud=False)

    out = tmp_path / "labelled"
    done = subprocess.run(
        [*EXPORT, "--out", str(out), "--tenant", tenant],
        env=server.env,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    report = json.loads(done.stdout.decode().split("\ntrain with:")[0])
    assert {k: report[k] for k in ("cases", "images", "fraud", "genuine", "without_images")} == {
        "cases": 2,
        "images": 2,
        "fraud": 1,
        "genuine": 1,
        "without_images": 0,
    }

    text = (out / "labels.csv").read_text()
    assert user not in text  # subjects are pseudonyms, never the user id
    rows = list(csv.DictReader(io.StringIO(text)))
    by_case = {r["file"].split("-", 1)[1].rsplit("-", 1)[0]: r for r in rows}
    assert by_case[accepted.id]["label"] == "fraud" and by_case[refused.id]["label"] == "genuine"
    for row in rows:
        assert row["source"] == tenant and row["subject"].startswith("subj_")
        with Image.open(out / row["file"]) as image:  # the kept selfie itself, decrypted
            assert min(image.size) >= 100
    assert by_case[accepted.id]["subject"] != by_case[refused.id]["subject"]

    exported = [
        e
        for e in audit_entries(clients("auditor", None), "labels.exported")
        if e.get("tenant") == tenant
    ]
    assert len(exported) == 1 and exported[0]["details"]["images"] == 2
