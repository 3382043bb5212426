"""``kycguard bench pad``: single-image presentation-attack detection on labelled images.

Every image goes through what ``/verify`` does with a selfie: decode (EXIF applied), downscale to the
analysis size, MediaPipe face detection (largest face), then :class:`PassiveLivenessDetector`, once
with the hand-made signals only and once more with MiniFASNet when a model is available (``--minifasnet``,
the settings, or converted on the fly from ``--minifasnet-weights`` when torch is installed).

Labels: a CSV with columns ``file,label`` (``real``/``bona_fide`` or ``attack``/``fake``/``spoof``),
paths relative to ``--images``; without one, Silent-Face's naming (``image_F*`` attack, ``image_T*``
real). Writes ``pad.json`` (every sample's score, verdict and signals; APCER/BPCER at the live
threshold, ISO/IEC 30107-3 style; AUC with the counts it rests on) and ``pad.png``.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kycguard.bench.common import apcer_bpcer, pyplot, roc_auc, timing_summary, write_json

DEFAULT_IMAGES = Path("../shared/data/pad/silent_face/images")
DEFAULT_WEIGHTS = Path("../shared/data/pad/silent_face/models")
REAL_LABELS = {"real", "bona_fide", "bonafide", "live", "genuine"}
ATTACK_LABELS = {"attack", "fake", "spoof"}
MIN_CLASS_FOR_AUC = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--images", type=Path, default=DEFAULT_IMAGES, help="folder the CSV's paths are relative to"
    )
    parser.add_argument(
        "--labels", type=Path, help="CSV file,label (default: Silent-Face F/T file names)"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="output folder for pad.json and pad.png"
    )
    parser.add_argument(
        "--minifasnet", type=Path, help="converted MiniFASNet ONNX (default: the settings)"
    )
    parser.add_argument(
        "--model",
        type=Path,
        help="learned PAD model file (`kycguard models train-pad`) to test on the labelled images",
    )
    parser.add_argument(
        "--cv",
        action="store_true",
        help="learned model protocols: subject-disjoint CV, leave-one-source-out, train on NUAA "
        "(default data: docs/bench/pad_cv_labels.csv under ../shared/data)",
    )
    parser.add_argument("--cache", type=Path, help="feature cache folder (default: a tmp folder)")
    parser.add_argument(
        "--minifasnet-weights",
        type=Path,
        default=DEFAULT_WEIGHTS,
        help="folder of upstream .pth files converted into --out when no ONNX is given (needs torch)",
    )


@dataclass(frozen=True)
class Item:
    file: str
    label: str  # "real" | "attack"


def read_labels(images: Path, labels: Path | None) -> list[Item]:
    if labels is None:
        items = []
        for p in sorted(images.glob("image_[FT]*.jpg")):
            if p.stem.endswith("_result"):
                continue
            items.append(Item(p.name, "attack" if p.name.startswith("image_F") else "real"))
        return items
    out = []
    with labels.open(newline="") as fh:
        for row in csv.DictReader(fh):
            name = (row.get("file") or row.get("path") or "").strip()
            label = (row.get("label") or "").strip().lower()
            if label in REAL_LABELS:
                out.append(Item(name, "real"))
            elif label in ATTACK_LABELS:
                out.append(Item(name, "attack"))
    return out


def _model_path(args: argparse.Namespace, configured: Path | None) -> tuple[Path | None, str]:
    if args.minifasnet is not None:
        return args.minifasnet, "given"
    if configured is not None:
        return configured, "settings"
    weights = sorted(Path(args.minifasnet_weights).glob("*.pth")) if args.minifasnet_weights else []
    if not weights:
        return None, "no model and no weights"
    try:
        import torch  # noqa: F401
    except ImportError:
        return None, "torch not installed: cannot convert the .pth weights"
    from kycguard.liveness.minifasnet_onnx import convert

    return convert(
        weights, args.out / "minifasnet.onnx"
    ), f"converted from {len(weights)} .pth files"


def metrics(samples: list[dict[str, Any]]) -> dict[str, Any]:
    scored = [s for s in samples if s["score"] is not None]
    real = np.array([s["score"] for s in scored if s["label"] == "real"])
    attack = np.array([s["score"] for s in scored if s["label"] == "attack"])
    n_min = min(real.size, attack.size)
    return {
        "at_live_threshold": apcer_bpcer(
            np.array([s["verdict"] == "live" for s in scored if s["label"] == "attack"]),
            np.array([s["verdict"] != "live" for s in scored if s["label"] == "real"]),
        ),
        "at_attack_threshold": apcer_bpcer(
            np.array([s["verdict"] != "attack" for s in scored if s["label"] == "attack"]),
            np.array([s["verdict"] == "attack" for s in scored if s["label"] == "real"]),
        ),
        "roc_auc": roc_auc(real, attack) if n_min >= MIN_CLASS_FOR_AUC else None,
        "ordered_pairs": roc_auc(real, attack) if n_min else None,
        "auc_note": (
            f"AUC needs >= {MIN_CLASS_FOR_AUC} samples per class; 'ordered_pairs' is the share of "
            f"(real, attack) pairs where the real one scores higher, over {real.size} x {attack.size} pairs"
        ),
        "faces_missing": sum(s["score"] is None for s in samples),
    }


def _plot(path: Path, configs: dict[str, list[dict[str, Any]]], live: float, attack: float) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(configs), figsize=(5 * len(configs), 4), squeeze=False)
    for ax, (name, samples) in zip(axes[0], configs.items(), strict=True):
        for i, label in enumerate(("real", "attack")):
            ys = [s["score"] for s in samples if s["label"] == label and s["score"] is not None]
            xs = np.full(len(ys), i) + np.linspace(-0.15, 0.15, len(ys)) if ys else []
            ax.scatter(
                xs,
                ys,
                color="tab:green" if label == "real" else "tab:red",
                label=f"{label} ({len(ys)})",
            )
        ax.axhline(live, ls="--", color="grey", lw=1)
        ax.axhline(attack, ls=":", color="grey", lw=1)
        ax.set_xticks([0, 1], ["real", "attack"])
        ax.set_ylim(-5, 105)
        ax.set_ylabel("liveness score (100 = live)")
        ax.set_title(name)
        ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


CV_LABELS = Path("docs/bench/pad_cv_labels.csv")
CV_ROOT = Path(os.environ.get("KYCGUARD_EVAL_DATA") or "../shared/data")
CV_TRAIN_ON = "nvlong21/face_anti_spoofing"


def run(args: argparse.Namespace) -> int:
    if args.cv or args.model is not None:
        return _run_learned(args)
    return _run_cues(args)


def _run_learned(args: argparse.Namespace) -> int:
    from kycguard.bench.detection_metrics import learned_bench

    default = args.labels is None
    learned_bench(
        "pad",
        CV_ROOT if default and args.images == DEFAULT_IMAGES else args.images,
        CV_LABELS if default else args.labels,
        args.out,
        model_path=args.model,
        cross_validate=args.cv,
        train_on=CV_TRAIN_ON if default else None,
        minifasnet=args.minifasnet,
        cache=args.cache,
    )
    return 0


def _run_cues(args: argparse.Namespace) -> int:
    from kycguard.liveness.passive import PassiveLivenessDetector
    from kycguard.settings import get_settings
    from kycguard.vision.detector import MediaPipeDetectorOptions, MediaPipeFaceDetector
    from kycguard.vision.image_io import decode_image, downscale
    from kycguard.vision.landmarker import FaceLandmarkerOptions

    settings = get_settings()
    items = read_labels(args.images, args.labels)
    if not items:
        print(f"no labelled images under {args.images}")
        return 2
    model, model_source = _model_path(args, settings.liveness.minifasnet_path)
    base = settings.liveness.model_copy(update={"minifasnet_path": None, "pad_model_path": None})
    detectors = {"signals_only": PassiveLivenessDetector.create_from_options(base)}
    if model is not None:
        with_model = settings.liveness.model_copy(update={"minifasnet_path": model})
        detectors["with_minifasnet"] = PassiveLivenessDetector.create_from_options(with_model)
    face_detector = MediaPipeFaceDetector.create_from_options(
        MediaPipeDetectorOptions(
            landmarker=FaceLandmarkerOptions(model_path=settings.models.face_landmarker_path),
            search="pyramid",
        )
    )
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in detectors}
    seconds: dict[str, list[float]] = {name: [] for name in detectors}
    try:
        for item in items:
            data = (args.images / item.file).read_bytes()
            lim = settings.limits
            image = decode_image(
                data, field=item.file, max_bytes=lim.max_upload_bytes, max_pixels=lim.max_pixels
            )
            image = downscale(image, lim.analysis_max_side_px)
            faces = face_detector.detect(image)
            for name, det in detectors.items():
                if not faces:
                    results[name].append(
                        {"file": item.file, "label": item.label, "score": None, "verdict": None}
                    )
                    continue
                t0 = time.perf_counter()
                res = det.assess(image, faces[0]).to_dict()
                seconds[name].append(time.perf_counter() - t0)
                results[name].append(
                    {
                        "file": item.file,
                        "label": item.label,
                        "score": res["score"],
                        "verdict": res["verdict"],
                        "signals": {
                            k: {"value": v["value"], "score": v["score"]}
                            for k, v in res["signals"].items()
                        },
                        "inactive": res["inactive_detectors"],
                    }
                )
    finally:
        face_detector.close()
        for det in detectors.values():
            det.close()
    n_real = sum(i.label == "real" for i in items)
    report: dict[str, Any] = {
        "dataset": {
            "images": str(args.images),
            "labels": str(args.labels) if args.labels else "file names (F/T)",
        },
        "counts": {"real": n_real, "attack": len(items) - n_real},
        "minifasnet": {"path": str(model) if model else None, "source": model_source},
        "thresholds": {"live": base.live_threshold, "attack": base.attack_threshold},
        "weights": base.passive_weights,
        "configurations": {
            name: {
                "metrics": metrics(samples),
                "timing_ms": timing_summary(seconds[name]),
                "samples": samples,
            }
            for name, samples in results.items()
        },
        "caveat": (
            f"{n_real} bona fide and {len(items) - n_real} attack images: a smoke test. Error rates on a set "
            "this small say whether these samples are handled, not how often attacks get through."
        ),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "pad.json", report)
    _plot(args.out / "pad.png", results, base.live_threshold, base.attack_threshold)
    for name, cfg in report["configurations"].items():
        m = cfg["metrics"]["at_live_threshold"]
        print(
            f"{name}: APCER {m['attacks_accepted']}/{m['attacks']}, BPCER {m['bona_fide_rejected']}/{m['bona_fide']}"
        )
        for s in cfg["samples"]:
            print(f"  {s['file']:40} {s['label']:7} {s['score']!s:>6} {s['verdict']}")
    print(f"wrote {args.out / 'pad.json'} and {args.out / 'pad.png'}")
    return 0
