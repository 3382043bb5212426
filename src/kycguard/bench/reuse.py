"""``kycguard bench reuse``: the selfie-reused-from-document test on genuine pairs and on reuse.

Genuine: LFW same-person pairs (``same == 1`` rows of pairs.csv), one photo as the selfie and the other
as the "document": two different photos of one person, which must never be flagged. Reuse (attacks),
made from the first photo of every pair: the same file sent twice; the picture resized to 60 % and
re-encoded at JPEG 70; the face cut out again (a crop around the portrait, upscaled 2x, JPEG 80), as
someone holding only the ID would make a "selfie". The LFW pictures are face-centred crops, so
the "document" face is found by the face detector directly (the service finds it with its portrait
finder, then aligns it the same way). Writes reuse.json (counts, rates), reuse_scores.json
(every case's three scores) and reuse.png.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from kycguard.bench.common import pyplot, timing_summary, write_json

DEFAULT_ROOT = Path("../shared/data/faces/lfw_devtrain/original_150")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="LFW image folder")
    parser.add_argument("--pairs", type=Path, help="pairs CSV (default: ROOT/../pairs.csv)")
    parser.add_argument("--out", type=Path, required=True, help="folder for reuse.json/.png")
    parser.add_argument("--limit", type=int, help="use only the first N genuine pairs")


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def attacks(image: np.ndarray, face_box: tuple[int, int, int, int]) -> dict[str, np.ndarray]:
    """Ways to reuse one picture as a "selfie"."""
    import cv2

    h, w = image.shape[:2]
    x, y, bw, bh = face_box
    x0, y0 = max(0, x - bw // 2), max(0, y - bh // 2)
    x1, y1 = min(w, x + bw + bw // 2), min(h, y + bh + bh // 2)
    crop = image[y0:y1, x0:x1]
    small = cv2.resize(image, (int(w * 0.6), int(h * 0.6)), interpolation=cv2.INTER_AREA)
    big = cv2.resize(crop, (2 * crop.shape[1], 2 * crop.shape[0]), interpolation=cv2.INTER_CUBIC)
    return {
        "same_file": image,
        "resized_reencoded": _jpeg(small, 70),
        "recropped_face": _jpeg(big, 80),
    }


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from kycguard.decision.reuse import check_reuse
    from kycguard.services.runtime import build_vision
    from kycguard.settings import get_settings
    from kycguard.vision.image_io import decode_image

    settings = get_settings()
    pairs_path = args.pairs or args.root.parent / "pairs.csv"
    with pairs_path.open(newline="") as fh:
        rows = [(r["img1"], r["img2"]) for r in csv.DictReader(fh) if r["same"] == "1"]
    rows = rows[: args.limit] if args.limit else rows
    vision = build_vision(settings)
    ev = settings.evidence

    def load(rel: str) -> np.ndarray:
        data = (args.root / rel).read_bytes()
        return decode_image(data, field=rel, max_bytes=1 << 26, max_pixels=1 << 26)

    def judge(selfie: np.ndarray, document: np.ndarray) -> dict[str, Any] | None:
        faces, on_document = vision.detector.detect(selfie), vision.detector.detect(document)
        if not faces or not on_document:
            return None
        t0 = time.perf_counter()
        c = check_reuse(selfie, faces[0], document, document, on_document[0], ev)
        seconds.append(time.perf_counter() - t0)
        return c.to_dict() | {"same_picture": c.same_picture, "recropped": c.recropped_portrait}

    seconds: list[float] = []
    genuine: list[dict[str, Any]] = []
    attack: dict[str, list[dict[str, Any]]] = {}
    skipped = 0
    try:
        for img1, img2 in tqdm(rows, desc="reuse pairs", unit="pair"):
            a, b = load(img1), load(img2)
            g = judge(a, b)
            if g is None:
                skipped += 1
                continue
            genuine.append(g | {"pair": [img1, img2]})
            faces = vision.detector.detect(a)
            for name, fake in attacks(a, faces[0].box.as_int()).items():
                r = judge(fake, a)
                if r is not None:
                    attack.setdefault(name, []).append(r)
    finally:
        vision.close()

    false_alarms = [g for g in genuine if g["reused"]]
    results: dict[str, Any] = {
        "dataset": {"pairs_csv": str(pairs_path), "root": str(args.root)},
        "thresholds": ev.model_dump(include={k for k in ev.model_fields if k.startswith("reuse")}),
        "genuine": {
            "pairs": len(genuine),
            "skipped_no_face": skipped,
            "false_alarms": len(false_alarms),
            "false_alarm_rate": len(false_alarms) / len(genuine) if genuine else None,
            "false_alarm_pairs": [g["pair"] for g in false_alarms],
            "face_hash_distance_min": min((g["face_hash_distance"] for g in genuine), default=None),
            "face_correlation_max": max((g["face_correlation"] for g in genuine), default=None),
            "image_hash_distance_min": min(
                (g["image_hash_distance"] for g in genuine), default=None
            ),
        },
        "attacks": {
            name: {
                "cases": len(rs),
                "detected": sum(r["reused"] for r in rs),
                "detection_rate": sum(r["reused"] for r in rs) / len(rs),
                "face_hash_distance_max": max(r["face_hash_distance"] for r in rs),
                "face_correlation_min": min(r["face_correlation"] for r in rs),
                "image_hash_distance_max": max(r["image_hash_distance"] for r in rs),
            }
            for name, rs in attack.items()
        },
        "check_time_ms": timing_summary(seconds),
        "scores_file": "reuse_scores.json",
    }
    write_json(args.out / "reuse.json", results)
    # every case's [image hash distance, face hash distance, face correlation], one line per set
    scores = {"genuine": [_scores(g) for g in genuine]}
    scores |= {name: [_scores(r) for r in rs] for name, rs in attack.items()}
    (args.out / "reuse_scores.json").write_text(
        "{\n" + ",\n".join(f'"{k}": {json.dumps(v)}' for k, v in scores.items()) + "\n}\n"
    )
    _plot(args.out / "reuse.png", genuine, attack)
    g = results["genuine"]
    print(f"genuine pairs: {g['pairs']}, false alarms: {g['false_alarms']}")
    for name, a_ in results["attacks"].items():
        print(f"{name}: {a_['detected']}/{a_['cases']} detected")
    return 0


def _scores(r: dict[str, Any]) -> list[float]:
    return [r["image_hash_distance"], r["face_hash_distance"], r["face_correlation"]]


def _plot(
    path: Path, genuine: list[dict[str, Any]], attack: dict[str, list[dict[str, Any]]]
) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter(
        [g["face_hash_distance"] for g in genuine],
        [g["face_correlation"] for g in genuine],
        s=6,
        label="genuine (different photos, same person)",
    )
    for name, rs in attack.items():
        ax.scatter(
            [r["face_hash_distance"] for r in rs],
            [r["face_correlation"] for r in rs],
            s=6,
            label=name,
        )
    ax.set_xlabel("aligned-face hash distance (bits of 64)")
    ax.set_ylabel("aligned-face pixel correlation")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
