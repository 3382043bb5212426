"""``kycguard bench faces``: face verification accuracy and speed on labelled pairs.

Two pipelines run in the same process on the same images:
- **kycguard**: MediaPipe face landmarker -> dlib ResNet on a chip aligned on MediaPipe's eye corners and
  nose, mirror-averaged inside the uncertain band, distance threshold from the settings;
- **baseline**: the face_recognition library's default pipeline re-implemented on the same dlib
  files (HOG detector upsampled once, dlib 5-point alignment, ResNet, threshold 0.6).
When an image holds several faces both take the one nearest the centre (LFW's labelled face);
an image where no face is found makes every pair with it a non-match.
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kycguard.bench.common import pyplot, roc_curve, tar_at_far, timing_summary, write_json
from kycguard.decision.calibration import fit
from kycguard.vision.dlib_models import DlibHogDetector, DlibHogDetectorOptions
from kycguard.vision.image_io import decode_image
from kycguard.vision.matcher import FaceMatcher, FaceSample
from kycguard.vision.types import Face

if TYPE_CHECKING:
    from kycguard.services.runtime import Vision

DEFAULT_ROOT = Path("../shared/data/faces/lfw_devtrain/original_150")
BASELINE_THRESHOLD = 0.6


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pairs", type=Path, help="CSV with columns img1,img2,same (default: ROOT/../pairs.csv)"
    )
    parser.add_argument(
        "--root", type=Path, default=DEFAULT_ROOT, help="folder the image paths are relative to"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="output folder for faces.json and faces_roc.png"
    )
    parser.add_argument(
        "--limit", type=int, help="use only the first N pairs of each label (quick runs)"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline pipeline")
    parser.add_argument(
        "--write-calibration",
        type=Path,
        help="also write the fitted confidence calibration to this JSON file",
    )


@dataclass
class _Pipeline:
    name: str
    threshold: float
    face_seconds: dict[str, float] = field(default_factory=dict)
    samples: dict[str, FaceSample | None] = field(default_factory=dict)
    distances: list[float] = field(default_factory=list)
    refined: int = 0


def _central(faces: list[Face], shape: tuple[int, ...]) -> Face | None:
    if not faces:
        return None
    cx, cy = shape[1] / 2, shape[0] / 2
    return min(faces, key=lambda f: math.hypot(f.box.center[0] - cx, f.box.center[1] - cy))


def read_pairs(path: Path, limit: int | None) -> list[tuple[str, str, int]]:
    with path.open(newline="") as fh:
        rows = [(r["img1"], r["img2"], int(r["same"])) for r in csv.DictReader(fh)]
    if limit:
        rows = [r for r in rows if r[2] == 1][:limit] + [r for r in rows if r[2] == 0][:limit]
    return rows


def run(args: argparse.Namespace) -> int:
    from kycguard.services.runtime import build_vision
    from kycguard.settings import get_settings

    settings = get_settings()
    pairs_path = args.pairs or args.root.parent / "pairs.csv"
    pairs = read_pairs(pairs_path, args.limit)
    vision = build_vision(settings)
    try:
        return _run(args, pairs_path, pairs, vision)
    finally:
        vision.close()


def _run(
    args: argparse.Namespace, pairs_path: Path, pairs: list[tuple[str, str, int]], vision: Vision
) -> int:
    from kycguard.settings import get_settings

    settings = get_settings()
    matcher: FaceMatcher = vision.matcher
    hog = (
        None
        if args.no_baseline
        else DlibHogDetector.create_from_options(DlibHogDetectorOptions(upsample=1))
    )
    ours = _Pipeline("kycguard", settings.face_match.tolerance)
    base = _Pipeline("baseline_face_recognition", BASELINE_THRESHOLD)

    def sample(
        pipe: _Pipeline, rel: str, detect: Callable[[np.ndarray], list[Face]]
    ) -> FaceSample | None:
        if rel not in pipe.samples:
            image = decode_image(
                (args.root / rel).read_bytes(), field=rel, max_bytes=1 << 26, max_pixels=1 << 26
            )
            t0 = time.perf_counter()
            face = _central(detect(image), image.shape)
            s = FaceSample(image, face) if face is not None else None
            if s is not None:
                s.embedding(matcher.embedder, flip=False)
            pipe.face_seconds[rel] = time.perf_counter() - t0
            pipe.samples[rel] = s
        return pipe.samples[rel]

    labels = []
    for img1, img2, same in pairs:
        labels.append(same)
        a = sample(ours, img1, vision.detector.detect)
        b = sample(ours, img2, vision.detector.detect)
        if a is None or b is None:
            ours.distances.append(math.inf)
        else:
            lacking = [rel for rel, s in ((img1, a), (img2, b)) if s._mirror is None]
            t0 = time.perf_counter()
            d, refined = matcher.distance(a, b)
            extra = time.perf_counter() - t0
            ours.distances.append(d)
            ours.refined += refined
            for rel in (
                lacking if refined else []
            ):  # charge mirror passes to the faces that needed them
                ours.face_seconds[rel] += extra / len(lacking)
        if hog is not None:
            a = sample(base, img1, hog.detect)
            b = sample(base, img2, hog.detect)
            base.distances.append(
                math.inf
                if a is None or b is None
                else float(
                    np.linalg.norm(
                        a.embedding(matcher.embedder, flip=False)
                        - b.embedding(matcher.embedder, flip=False)
                    )
                )
            )

    y = np.asarray(labels)
    results: dict[str, Any] = {
        "pairs": len(pairs),
        "genuine_pairs": int(y.sum()),
        "impostor_pairs": int((1 - y).sum()),
    }
    results["dataset"] = {"pairs_csv": str(pairs_path), "root": str(args.root)}
    calibration = fit(
        np.minimum(np.asarray(ours.distances), 2.0),
        y,
        model=matcher.embedder.name,
        fitted_on=str(args.root),
    )
    results["kycguard"] = _metrics(ours, y) | {
        "pipeline": "mediapipe face_landmarker + dlib resnet (mirror-averaged in band)",
        "refined_pairs": ours.refined,
        "calibration": {"slope": calibration.slope, "midpoint": calibration.midpoint},
        "calibration_cv": _cross_validated_calibration(np.asarray(ours.distances), y),
    }
    if hog is not None:
        results["baseline"] = _metrics(base, y) | {
            "pipeline": "dlib HOG (upsample 1) + 5-point + dlib resnet, threshold 0.6 (face_recognition defaults)"
        }
    results["per_pair"] = [
        {
            "img1": i1,
            "img2": i2,
            "same": same,
            "kycguard": _finite(d1),
            "baseline": _finite(d2) if base.distances else None,
        }
        for (i1, i2, same), d1, d2 in zip(
            pairs, ours.distances, base.distances or ours.distances, strict=True
        )
    ]
    # top-level figures are ours, as the schema asks
    for key in ("accuracy", "threshold", "tar_at_far", "ms_per_face_median"):
        results[key] = results["kycguard"][key]
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "faces.json", results)
    _plot(args.out / "faces_roc.png", [p for p in (ours, base) if p.distances], y)
    if args.write_calibration:
        calibration.save(args.write_calibration)
    print(_summary(results))
    return 0


def _finite(d: float) -> float | None:
    """JSON has no infinity: a pair where a face was not found is written as null."""
    return round(d, 5) if math.isfinite(d) else None


def _metrics(pipe: _Pipeline, y: np.ndarray) -> dict[str, object]:
    d = np.asarray(pipe.distances)
    gen, imp = d[y == 1], d[y == 0]
    pred = d <= pipe.threshold
    return {
        "threshold": pipe.threshold,
        "accuracy": round(float(np.mean(pred == (y == 1))), 4),
        "far_at_threshold": round(float(np.mean(imp <= pipe.threshold)), 4),
        "frr_at_threshold": round(float(np.mean(gen > pipe.threshold)), 4),
        "tar_at_far": {str(f): tar_at_far(gen, imp, f) for f in (0.01, 0.001)},
        "no_face_images": sum(1 for s in pipe.samples.values() if s is None),
        "images": len(pipe.samples),
        "ms_per_face_median": timing_summary(list(pipe.face_seconds.values()))["median"],
        "ms_per_face": timing_summary(list(pipe.face_seconds.values())),
        "best_accuracy": round(
            max(float(np.mean((d <= t) == (y == 1))) for t in np.linspace(0.2, 1.0, 161)), 4
        ),
    }


def _cross_validated_calibration(d: np.ndarray, y: np.ndarray, folds: int = 10) -> dict[str, float]:
    """Out-of-fold log-loss and Brier score of the Platt fit: how well confidences are calibrated."""
    rng = np.random.default_rng(0)
    order = rng.permutation(len(d))
    probs = np.empty(len(d))
    x = np.minimum(d, 2.0)
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        cal = fit(x[train], y[train], model="cv", fitted_on="cv")
        probs[test] = [cal.probability(v) for v in x[test]]
    p = np.clip(probs, 1e-6, 1 - 1e-6)
    return {
        "folds": folds,
        "log_loss": round(float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))), 4),
        "brier": round(float(np.mean((p - y) ** 2)), 4),
    }


def _plot(path: Path, pipes: list[_Pipeline], y: np.ndarray) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for pipe in pipes:
        d = np.asarray(pipe.distances)
        far, tar = roc_curve(d[y == 1], d[y == 0])
        ax.plot(np.maximum(far, 1e-4), tar, label=pipe.name)
    ax.set_xscale("log")
    ax.set_xlim(1e-4, 1)
    ax.set_xlabel("false accept rate")
    ax.set_ylabel("true accept rate")
    ax.set_title(f"Face verification ROC ({len(y)} pairs)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _summary(results: dict[str, Any]) -> str:
    lines = [f"pairs: {results['pairs']}"]
    for name in ("kycguard", "baseline"):
        if name in results:
            r = results[name]
            t = r["tar_at_far"]
            lines.append(
                f"{name:10s} acc {r['accuracy']:.4f}  TAR@FAR1e-2 {t['0.01']['tar']:.4f}  "
                f"TAR@FAR1e-3 {t['0.001']['tar']:.4f}  ms/face {r['ms_per_face_median']}  no-face {r['no_face_images']}"
            )
    return "\n".join(lines)
