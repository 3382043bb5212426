"""``kycguard bench barcode``: PDF417 decoding (zxing-cpp) against the payloads the tests assert.

An image counts as byte-exact when it yields exactly the expected number of symbols and every
expected payload (text, or hex for binary) is among the decoded byte strings. Writes
``barcode_<set>.json`` and ``barcode_<set>.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from pathlib import Path
from typing import Any

DEFAULT_IMAGES = "../shared/data/documents/pdf417/images"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", default=DEFAULT_IMAGES, help="folder of barcode images")
    parser.add_argument(
        "--expected",
        help="JSON {file: {count, text: [...] | binary_hex}}; default: expected.json beside the folder",
    )
    parser.add_argument(
        "--out", default="bench-results", help="folder for the JSON results and the plot"
    )


def expected_payloads(entry: dict[str, Any]) -> list[list[bytes]] | None:
    """For each expected symbol, the byte strings that count as exact (text may be Latin-1 or UTF-8)."""
    if entry.get("binary_hex"):
        return [[bytes.fromhex(entry["binary_hex"])]]
    if entry.get("text"):
        out = []
        for text in entry["text"]:
            forms = [text.encode("utf-8")]
            with contextlib.suppress(UnicodeEncodeError):  # PDF417's default character set
                forms.append(text.encode("latin-1"))
            out.append(forms)
        return out
    return None


def load_rgb(path: Path) -> Any:
    """RGB pixels; transparent areas become white (the PNGs draw black bars on transparency)."""
    import numpy as np
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        rgba = ImageOps.exif_transpose(im).convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(canvas, rgba).convert("RGB"))


def run(args: argparse.Namespace) -> int:
    from kycguard.documents.barcode import decode_pdf417

    images = Path(args.images)
    if not images.is_dir():
        print(f"images folder not found: {images}")
        return 2
    expected_path = Path(args.expected) if args.expected else images.parent / "expected.json"
    expected = json.loads(expected_path.read_text()) if expected_path.is_file() else {}
    paths = sorted(
        p
        for p in images.iterdir()
        if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
    )
    per_image: dict[str, Any] = {}
    judged = exact = 0
    times = []
    for path in paths:
        image = load_rgb(path)
        t = time.perf_counter()
        reads = decode_pdf417(image)
        ms = (time.perf_counter() - t) * 1000
        times.append(ms)
        payloads = [r.payload for r in reads]
        entry = expected.get(path.name, {})
        want = expected_payloads(entry)
        ok = None
        if want is not None:
            judged += 1
            ok = len(payloads) == entry.get("count", len(want)) and all(
                any(f in payloads for f in forms) for forms in want
            )
            exact += int(ok)
        per_image[path.name] = {
            "decoded": len(reads),
            "payloads_hex": [p.hex() for p in payloads],
            "aamva": [r.aamva.to_dict() if r.aamva else None for r in reads],
            "expected_count": entry.get("count"),
            "byte_exact": ok,
            "ms": round(ms, 2),
        }
    set_name = images.parent.name if images.name == "images" else images.name
    summary = {
        "images": len(paths),
        "with_expected_payload": judged,
        "byte_exact": exact,
        "median_ms": round(statistics.median(times), 2) if times else None,
    }
    report = {
        "set": set_name,
        "images_dir": str(images),
        "summary": summary,
        "per_image": per_image,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"barcode_{set_name}.json").write_text(json.dumps(report, indent=2))
    _plot(per_image, out / f"barcode_{set_name}.png", set_name)
    print(f"{set_name}: byte-exact {exact}/{judged}, median {summary['median_ms']} ms/image")
    return 0


def _plot(per_image: dict[str, Any], path: Path, set_name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(per_image)
    colours = [
        "tab:green" if v["byte_exact"] else ("tab:grey" if v["byte_exact"] is None else "tab:red")
        for v in per_image.values()
    ]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.bar(range(len(names)), [v["ms"] for v in per_image.values()], color=colours)
    ax.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=7)
    ax.set_ylabel("ms (green: byte-exact, grey: no expectation)")
    ax.set_title(f"PDF417 decoding, {set_name}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
