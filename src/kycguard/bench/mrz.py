"""``kycguard bench mrz``: MRZ reading accuracy and speed, ours and PassportEye's, on one image set.

Per image: our reading (status, lines, check digits, time) and, when ``passporteye`` is installed
(with Debian tesseract), PassportEye's on the same file in the same run. With an expectation file,
exact-MRZ rate (every line identical; an image expected to have no MRZ counts as exact when nothing
is read). Writes ``mrz_<set>.json`` and ``mrz_<set>.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"}
DEFAULT_IMAGES = "../shared/data/documents/mrz_specimens/images"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", default=DEFAULT_IMAGES, help="folder of document images")
    parser.add_argument(
        "--expected",
        help="JSON {file: {'mrz': [lines] | null} | {'same_as': file}}; default: the one JSON file beside the images folder",
    )
    parser.add_argument(
        "--out", default="bench-results", help="folder for the JSON results and the plot"
    )
    parser.add_argument(
        "--no-passporteye", action="store_true", help="skip PassportEye even if installed"
    )
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads for our OCR")


def load_expected(path: Path | None) -> dict[str, list[str] | None]:
    """File name -> expected MRZ lines (None: no MRZ in the image); ``same_as`` entries resolved."""
    if path is None or not path.is_file():
        return {}
    raw = json.loads(path.read_text())
    out: dict[str, list[str] | None] = {}
    for name, entry in raw.items():
        target = (
            raw.get(entry["same_as"], {})
            if isinstance(entry, dict) and "same_as" in entry
            else entry
        )
        if isinstance(target, dict) and "mrz" in target:
            out[name] = target["mrz"]
    return out


def _default_expected(images: Path) -> Path | None:
    candidates = sorted(images.parent.glob("*.json"))
    return candidates[0] if len(candidates) == 1 else None


def _load_bgr(path: Path) -> Any:
    import numpy as np
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        rgb = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    return np.ascontiguousarray(rgb[..., ::-1])


def _ours(paths: list[Path], threads: int) -> list[dict[str, Any]]:
    from kycguard.documents.mrz.read import ReadOptions, read_mrz
    from kycguard.documents.ocr import OcrEngine, tesseract_available

    engine = OcrEngine(threads=threads)
    options = ReadOptions(use_tesseract=tesseract_available())
    if paths:  # warm-up: first inferences allocate
        read_mrz(_load_bgr(paths[0]), engine, options)
    results = []
    for path in paths:
        image = _load_bgr(path)
        t = time.perf_counter()
        reading = read_mrz(image, engine, options)
        ms = (time.perf_counter() - t) * 1000
        fields = reading.fields if reading.status == "ok" else None
        results.append(
            {
                "status": reading.status,
                "lines": reading.text_lines if fields else None,
                "format": fields.format if fields else None,
                "all_check_digits_valid": bool(fields and fields.valid),
                "failed_checks": fields.failed_checks if fields else None,
                "confidence": round(reading.confidence, 4),
                "corrections": len(reading.corrections),
                "engine": reading.engine,
                "ms": round(ms, 1),
            }
        )
    return results


def _passporteye(paths: list[Path]) -> list[dict[str, Any]] | None:
    try:
        from passporteye import read_mrz as pe_read  # MIT; optional bench extra
    except ImportError:
        return None
    import logging
    import warnings

    logging.getLogger("passporteye").setLevel(logging.ERROR)
    results = []
    for path in paths:
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                mrz = pe_read(str(path))
                error = None
            except Exception as exc:  # its pipeline raises on some inputs; count as no read
                mrz, error = None, repr(exc)
        ms = (time.perf_counter() - t) * 1000
        lines = None
        valid = False
        if mrz is not None:
            info = mrz.to_dict()
            lines = [ln for ln in str(info.get("raw_text", "")).split("\n") if ln]
            valid = info.get("valid_score") == 100
        results.append(
            {
                "status": "ok" if lines else "not_found",
                "lines": lines,
                "all_check_digits_valid": valid,
                "error": error,
                "ms": round(ms, 1),
            }
        )
    return results


def _summary(
    results: list[dict[str, Any]], names: list[str], expected: dict[str, list[str] | None]
) -> dict[str, Any]:
    judged = [(r, expected[n]) for r, n in zip(results, names, strict=True) if n in expected]
    exact = sum(1 for r, e in judged if (r["lines"] or None) == e)
    with_mrz = (
        [(r, e) for r, e in judged if e is not None] if judged else [(r, None) for r in results]
    )
    valid = sum(1 for r, _ in with_mrz if r["all_check_digits_valid"])
    times = [r["ms"] for r in results]
    return {
        "images": len(results),
        "with_expectation": len(judged),
        "exact_mrz": exact,
        "exact_mrz_rate": round(exact / len(judged), 4) if judged else None,
        "expected_to_have_mrz": len(with_mrz),
        "all_check_digits_valid": valid,
        "check_digit_valid_rate": round(valid / len(with_mrz), 4) if with_mrz else None,
        "median_ms": round(statistics.median(times), 1) if times else None,
        "mean_ms": round(statistics.fmean(times), 1) if times else None,
    }


def run(args: argparse.Namespace) -> int:
    images = Path(args.images)
    if not images.is_dir():
        print(f"images folder not found: {images}")
        return 2
    expected_path = Path(args.expected) if args.expected else _default_expected(images)
    expected = load_expected(expected_path)
    paths = sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    names = [p.name for p in paths]
    ours = _ours(paths, args.threads)
    theirs = None if args.no_passporteye else _passporteye(paths)
    set_name = images.parent.name if images.name == "images" else images.name
    report: dict[str, Any] = {
        "set": set_name,
        "images_dir": str(images),
        "expected": str(expected_path) if expected_path else None,
        "tools": {"kycguard": _summary(ours, names, expected)},
        "per_image": {},
    }
    if theirs is not None:
        report["tools"]["passporteye"] = _summary(theirs, names, expected)
    else:
        report["passporteye_note"] = (
            "passporteye not installed (pip install passporteye; apt install tesseract-ocr) or skipped"
        )
    for i, name in enumerate(names):
        entry: dict[str, Any] = {"expected": expected.get(name, "unknown"), "kycguard": ours[i]}
        if theirs is not None:
            entry["passporteye"] = theirs[i]
        report["per_image"][name] = entry
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"mrz_{set_name}.json").write_text(json.dumps(report, indent=2))
    _plot(report, out / f"mrz_{set_name}.png")
    for tool, summary in report["tools"].items():
        print(
            f"{set_name} {tool}: exact {summary['exact_mrz']}/{summary['with_expectation']}, "
            f"check digits valid {summary['all_check_digits_valid']}/{summary['expected_to_have_mrz']}, "
            f"median {summary['median_ms']} ms/image"
        )
    return 0


def _plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tools = list(report["tools"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    width = 0.8 / len(tools)
    for i, tool in enumerate(tools):
        s = report["tools"][tool]
        vals = [s["exact_mrz_rate"] or 0, s["check_digit_valid_rate"] or 0]
        ax1.bar([x + i * width for x in range(2)], vals, width, label=tool)
        ax2.bar(i, s["median_ms"] or 0, label=tool)
    ax1.set_xticks(
        [x + width * (len(tools) - 1) / 2 for x in range(2)],
        ["exact MRZ", "all check digits valid"],
    )
    ax1.set_ylim(0, 1.05)
    ax1.legend()
    ax1.set_title(f"{report['set']}: accuracy")
    ax2.set_xticks(range(len(tools)), tools)
    ax2.set_ylabel("median ms / image")
    ax2.set_title("speed")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
