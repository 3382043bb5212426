"""``kycguard bench cards``: genuine and attacked ID cards, photographed, through the real /verify.

Each genuine case is an ID-1 card rendered with a valid TD1 MRZ in OCR-B and a real LFW photo as the
portrait, photographed (:func:`kycguard.documents.specimens.photograph`: table, perspective, scale
0.9-1.3, lighting gradient, glare, shadow, blur, noise, JPEG), with another LFW photo of the same
person as the selfie. Everything is deterministic by ``--seed``. Every case runs through the full
:class:`~kycguard.services.verification.VerificationService` of a runtime opened on a temporary data
directory (the pipeline behind ``POST /api/v1/verify``), so the figures are the decisions a customer
gets. Reported: MRZ read with valid check digits, how often each document reason code and each
tampering sign fires on genuine cards (false alarms), decision counts and reason codes, rectification,
and per attack kind how often its sign was detected. Writes ``cards.json`` and ``cards.png``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from kycguard.bench.common import pyplot, timing_summary, write_json

DEFAULT_FACES = (
    f"{os.environ.get('KYCGUARD_EVAL_DATA', '../shared/data')}/faces/lfw_devtrain/deepfunneled_250"
)
TAMPER_CHECKS = ("portrait_tampering", "mrz_geometry", "screen_capture")
# the sign each attack must raise to count as detected
ATTACK_SIGNS = {
    "screen_replay": "SCREEN_CAPTURE_SUSPECTED",
    "portrait_pasted": "PORTRAIT_TAMPERING_SUSPECTED",
    "mrz_edited": "MRZ_GEOMETRY_INCONSISTENT",
    "viz_altered": "MRZ_VIZ_MISMATCH",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--count", type=int, default=60, help="genuine photographed cards")
    parser.add_argument("--attacks", type=int, default=8, help="cases per attack kind (0: none)")
    parser.add_argument("--seed", type=int, default=0, help="chooses holders and photo conditions")
    parser.add_argument("--faces", default=DEFAULT_FACES, help="LFW deepfunneled folder")
    parser.add_argument("--out", default="bench-results", help="folder for cards.json / cards.png")


def _case(service: Any, spec: Any) -> dict[str, Any]:
    from kycguard.documents.specimens import REFERENCE_DAY

    t = time.perf_counter()
    try:
        result = service.verify(
            spec.photo.data,
            spec.selfie,
            today=REFERENCE_DAY,
        )
    except Exception as exc:  # an API error (no face found, ...) is an outcome too
        # the document checks alone, on the portrait box the card was drawn with, still say
        # whether the attack's sign fired
        report = service.documents.analyze(
            spec.photo.image,
            structured_data=None,
            today=REFERENCE_DAY,
            portrait_box=spec.photo.portrait_box,
        )
        return {
            "kind": spec.kind,
            "holder": spec.holder.name,
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}",
            "document_reasons": report.reasons,
            "seconds": time.perf_counter() - t,
        }
    doc = result["document_authenticity"]
    mrz = doc.get("mrz") or {}
    checks = {c["name"]: c for c in doc.get("checks", [])}
    lines = mrz.get("raw")
    return {
        "kind": spec.kind,
        "holder": spec.holder.name,
        "status": result["status"],
        "confidence": result["overall_confidence"],
        "reasons": result["reasons"],
        "document_reasons": doc.get("reasons", []),
        "document_hard_reject": doc.get("hard_reject"),
        "mrz_status": mrz.get("status", "not_found"),
        # read = status ok (state codes real, confidence enough) and every check digit holds
        "mrz_valid": mrz.get("status") == "ok" and bool(mrz.get("all_check_digits_valid")),
        "mrz_exact": lines == spec.rendered.mrz,
        "rectified": (doc.get("rectification") or {}).get("rectified"),
        "tamper": {n: checks[n]["passed"] for n in TAMPER_CHECKS if n in checks},
        "quality": {
            side: {k: v["value"] for k, v in q.items() if isinstance(v, dict)}
            for side, q in result.get("quality", {}).items()
        },
        "photo": spec.photo.params,
        "seconds": time.perf_counter() - t,
    }


def _summary(cases: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(cases)
    ok = [c for c in cases if c["status"] != "error"]
    any_tamper = sum(1 for c in ok if any(v is False for v in c["tamper"].values()))
    return {
        "cases": n,
        "errors": n - len(ok),
        "mrz_valid_check_digits": sum(c["mrz_valid"] for c in ok),
        "mrz_exact": sum(c["mrz_exact"] for c in ok),
        "rectified": sum(1 for c in ok if c["rectified"]),
        "decisions": dict(Counter(c["status"] for c in cases)),
        "reason_codes": dict(Counter(r for c in ok for r in c["reasons"]).most_common()),
        "document_reason_codes": dict(
            Counter(r for c in ok for r in c["document_reasons"]).most_common()
        ),
        "tampering_sign_fired": {
            name: sum(1 for c in ok if c["tamper"].get(name) is False) for name in TAMPER_CHECKS
        },
        "any_tampering_sign": any_tamper,
        "no_tampering_sign": len(ok) - any_tamper,
        "document_hard_reject": sum(1 for c in ok if c["document_hard_reject"]),
        "seconds_per_case": timing_summary([c["seconds"] for c in cases]),
    }


def _attack_summary(cases: list[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for kind, sign in ATTACK_SIGNS.items():
        mine = [c for c in cases if c["kind"] == kind]
        if not mine:
            continue
        out[kind] = {
            "cases": len(mine),
            "sign": sign,
            "detected": sum(1 for c in mine if sign in c.get("document_reasons", [])),
            "decisions": dict(Counter(c["status"] for c in mine)),
            "approved": sum(1 for c in mine if c["status"] == "approved"),
        }
    return out


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from kycguard.documents.specimens import ATTACKS, lfw_holders, ocrb_path, specimen
    from kycguard.services.runtime import open_runtime
    from kycguard.settings import Settings

    if ocrb_path() is None:
        print("OCR-B font missing: apt-get install fonts-ocr-b")
        return 2
    if not Path(args.faces).is_dir():
        print(f"faces folder not found: {args.faces}")
        return 2
    holders = lfw_holders(args.faces, args.count + 1, args.seed)
    plan = [(holders[i], args.seed * 10_000 + i, "genuine", None) for i in range(args.count)]
    for k, kind in enumerate(ATTACKS):
        for j in range(args.attacks):
            i = (k * args.attacks + j) % args.count
            other = holders[(i + 1) % len(holders)]
            plan.append((holders[i], args.seed * 10_000 + 5_000 + k * 100 + j, kind, other))
    cases = []
    with tempfile.TemporaryDirectory() as tmp, open_runtime(Settings(data_dir=Path(tmp))) as rt:
        for holder, seed, kind, other in tqdm(plan, desc="cards", unit="case"):
            spec = specimen(holder, seed, kind, other)
            cases.append(_case(rt.verification, spec))
    genuine = [c for c in cases if c["kind"] == "genuine"]
    report = {
        "set": f"{args.count} genuine photographed ID-1 cards (TD1 MRZ, OCR-B) + "
        f"{args.attacks} per attack kind; LFW holders, seed {args.seed}",
        "faces": args.faces,
        "seed": args.seed,
        "genuine": _summary(genuine),
        "attacks": _attack_summary(cases),
        "per_case": cases,
    }
    out = Path(args.out)
    write_json(out / "cards.json", report)
    _plot(report, out / "cards.png")
    g = report["genuine"]
    print(
        f"genuine {g['cases']}: MRZ valid {g['mrz_valid_check_digits']}/{g['cases']}, "
        f"no tampering sign {g['no_tampering_sign']}/{g['cases']}, decisions {g['decisions']}"
    )
    for kind, a in report["attacks"].items():
        print(f"{kind}: {a['sign']} {a['detected']}/{a['cases']}, decisions {a['decisions']}")
    return 0


def _plot(report: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    g = report["genuine"]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 4))
    statuses = ["approved", "manual_review", "rejected", "error"]
    ax1.bar(statuses, [g["decisions"].get(s, 0) for s in statuses], color="tab:blue")
    ax1.set_title(f"genuine cards ({g['cases']}): decisions")
    codes = g["document_reason_codes"]
    ax2.barh(list(codes) or ["(none)"], list(codes.values()) or [0], color="tab:orange")
    ax2.set_title("document reason codes on genuine cards")
    attacks = report["attacks"]
    ax3.bar(list(attacks), [a["detected"] / max(a["cases"], 1) for a in attacks.values()])
    ax3.set_ylim(0, 1.05)
    ax3.set_title("attacks: share detected by their sign")
    ax3.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
