"""Genuine approval on rendered, photographed ID cards, with and without the evidence rules.

For the first N LFW same-person pairs: an ID card (valid MRZ in OCR-B, tests/documents/render.py)
around photo 1, photographed on a table (perspective, noise), and photo 2 as the selfie, through the
service's own ``VerificationService``. "Without the rules" re-decides each case with the findings of
the evidence rules removed (NOT_AN_IDENTITY_DOCUMENT, DOCUMENT_NOT_RECOGNISED,
SELFIE_REUSED_FROM_DOCUMENT) and liveness at its old strength (an attack verdict held for review),
so the difference is what the rules cost honest customers.

    PYTHONPATH=src:tests .venv/bin/python scripts/genuine_cards.py --limit 40 --out docs/bench/genuine_cards.json
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
from documents.render import Identity, camera, on_table, render_td1
from PIL import Image
from support.imagefiles import encode

from kycguard.decision.engine import decide
from kycguard.decision.findings import Finding, Severity
from kycguard.services.runtime import open_runtime
from kycguard.settings import Settings

NEW_CODES = {"NOT_AN_IDENTITY_DOCUMENT", "DOCUMENT_NOT_RECOGNISED", "SELFIE_REUSED_FROM_DOCUMENT"}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--root", type=Path, default=Path("../shared/data/faces/lfw_devtrain/deepfunneled_250")
    )
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    with (args.root.parent / "pairs.csv").open(newline="") as fh:
        rows = [(r["img1"], r["img2"]) for r in csv.DictReader(fh) if r["same"] == "1"]
    rows = rows[: args.limit]
    after: Counter[str] = Counter()
    before: Counter[str] = Counter()
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        with open_runtime(settings) as rt:
            for i, (a, b) in enumerate(rows):
                face = np.asarray(Image.open(args.root / a).convert("RGB"))
                card = render_td1(face, Identity(document_number=f"D{23145890 + i}"), seed=i)
                doc = encode(camera(on_table(card.image, tilt=0.05, angle_deg=-2, seed=i), seed=i))
                try:
                    r = rt.verification.verify(doc, (args.root / b).read_bytes())
                except Exception as exc:  # no face found etc.: counted, not hidden
                    after[type(exc).__name__] += 1
                    before[type(exc).__name__] += 1
                    continue
                old = [
                    Finding(
                        f["code"],
                        f["message"],
                        Severity.REVIEW
                        if f["code"] == "LIVENESS_FAILED"
                        else Severity(f["severity"]),
                    )
                    for f in r["findings"]
                    if f["code"] not in NEW_CODES
                ]
                was = decide(r["scores"]["components"], old, settings.decision).status.value
                after[r["status"]] += 1
                before[was] += 1
                cases.append(
                    {
                        "pair": [a, b],
                        "status": r["status"],
                        "without_rules": was,
                        "reasons": r["reasons"],
                        "source": r["document_authenticity"]["identity_evidence"]["source"],
                    }
                )
    out = {
        "cards": len(rows),
        "with_rules": dict(after),
        "without_rules": dict(before),
        "identity_source": dict(Counter(str(c["source"]) for c in cases)),
        "reason_counts": dict(Counter(code for c in cases for code in c["reasons"])),
        "cases": cases,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: out[k] for k in ("cards", "with_rules", "without_rules")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
