"""``kycguard bench deepfake``: deepfake, liveness and injection scores of labelled clips.

Each clip is decoded (OpenCV/FFmpeg), downscaled to the session analysis size, its face tracked with
MediaPipe (VIDEO mode) and scored by :func:`kycguard.liveness.sequence.assess_sequence` with the dlib
embedder (identity drift) and the passive detector (per-frame PAD; MiniFASNet if configured).

Labels: a CSV with ``file`` (or ``path``) and ``label`` (``real`` or ``fake``/``attack``; other labels
such as ghost_faceswap's ``REAL_STILL`` are skipped), paths relative to ``--videos``. Default: the
ghost_faceswap set plus the real ``short_hamilton_clip.mp4`` of faces/face_recognition_examples.
``--simulate`` adds, for each real clip, a still frame replayed as a swinging plane and as a frozen
loop: *simulated* presentation attacks for the geometric liveness cues only, reported apart.
Writes ``deepfake.json`` and ``deepfake.png``.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from kycguard.bench.common import pyplot, roc_auc, write_json

DEFAULT_VIDEOS = Path("../shared/data/deepfake/ghost_faceswap")
DEFAULT_EXTRA_REAL = Path(
    "../shared/data/faces/face_recognition_examples/video/short_hamilton_clip.mp4"
)
REAL_LABELS = {"real"}
FAKE_LABELS = {"fake", "attack"}
MIN_CLASS_FOR_AUC = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--videos", type=Path, default=DEFAULT_VIDEOS, help="folder the CSV's paths are relative to"
    )
    parser.add_argument("--labels", type=Path, help="CSV file,label (default: VIDEOS/labels.csv)")
    parser.add_argument(
        "--extra-real",
        type=Path,
        action="append",
        help="more real clips (default with the default set: the face_recognition Hamilton clip)",
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="output folder for deepfake.json and deepfake.png"
    )
    parser.add_argument(
        "--simulate", action="store_true", help="add simulated flat/static replays of real clips"
    )
    parser.add_argument("--max-frames", type=int, default=300, help="frames read per clip")
    parser.add_argument(
        "--model",
        type=Path,
        help="learned clip model (`kycguard models train-deepfake`) to test on the labelled clips",
    )
    parser.add_argument(
        "--cv",
        action="store_true",
        help="learned model protocols: subject-disjoint CV, leave-one-source-out, train on "
        "DeepFaceLive (default data: docs/bench/deepfake_cv_labels.csv under ../shared/data)",
    )
    parser.add_argument("--cache", type=Path, help="feature cache folder (default: a tmp folder)")


def read_labels(videos: Path, labels: Path) -> list[tuple[Path, str]]:
    out = []
    with labels.open(newline="") as fh:
        for row in csv.DictReader(fh):
            name = (row.get("file") or row.get("path") or "").strip()
            label = (row.get("label") or "").strip().lower()
            if label in REAL_LABELS:
                out.append((videos / name, "real"))
            elif label in FAKE_LABELS:
                out.append((videos / name, "fake"))
    return out


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "liveness_score": result["liveness_score"],
        "deepfake_score": result["deepfake_score"],
        "injection_score": result["injection_score"],
        "verdicts": result["verdicts"],
        "segments": result["segments"],
        "frames_with_face": result["frames_with_face"],
        "frames_used": result["frames_used"],
        "signals": {
            k: {"value": v["value"], "score": v["score"], "active": v["active"]}
            for k, v in result["signals"].items()
        },
    }


def _plot(
    path: Path,
    clips: list[dict[str, Any]],
    sims: list[dict[str, Any]],
    threshold: float,
    live: float,
) -> None:
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for i, c in enumerate(clips):
        color = "tab:red" if c["label"] == "fake" else "tab:green"
        ax1.barh(i, c["deepfake_score"], color=color)
        ax1.text(1, i, Path(c["file"]).name, va="center", fontsize=8)
    ax1.axvline(threshold, ls="--", color="grey")
    ax1.set_xlim(0, 100)
    ax1.set_yticks([])
    ax1.set_xlabel("deepfake score (100 = synthetic); red = swap, green = real")
    rows = [
        (Path(c["file"]).name, c["liveness_score"], "tab:green")
        for c in clips
        if c["label"] == "real"
    ]
    rows += [(s["name"], s["liveness_score"], "tab:orange") for s in sims]
    for i, (name, score, color) in enumerate(rows):
        ax2.barh(i, score, color=color)
        ax2.text(1, i, name, va="center", fontsize=8)
    ax2.axvline(live, ls="--", color="grey")
    ax2.set_xlim(0, 100)
    ax2.set_yticks([])
    ax2.set_xlabel("liveness score (100 = live); orange = simulated attack")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


CV_LABELS = Path("docs/bench/deepfake_cv_labels.csv")
CV_ROOT = Path(os.environ.get("KYCGUARD_EVAL_DATA") or "../shared/data")
CV_TRAIN_ON = "iperov/DeepFaceLive"


def run(args: argparse.Namespace) -> int:
    if args.cv or args.model is not None:
        from kycguard.bench.detection_metrics import learned_bench

        default = args.labels is None
        learned_bench(
            "deepfake",
            CV_ROOT if default and args.videos == DEFAULT_VIDEOS else args.videos,
            CV_LABELS if default else args.labels,
            args.out,
            model_path=args.model,
            cross_validate=args.cv,
            train_on=CV_TRAIN_ON if default else None,
            cache=args.cache,
        )
        return 0
    return _run_cues(args)


def _run_cues(args: argparse.Namespace) -> int:
    from kycguard.liveness.passive import PassiveLivenessDetector
    from kycguard.liveness.sequence import assess_sequence
    from kycguard.liveness.simulate import flat_replay, static_replay
    from kycguard.liveness.video import read_video, track_faces
    from kycguard.settings import get_settings
    from kycguard.vision.embedder import DlibEmbedder

    settings = get_settings()
    options = settings.liveness.model_copy(
        update={"pad_model_path": None, "deepfake_model_path": None}
    )
    labels = args.labels or args.videos / "labels.csv"
    items = read_labels(args.videos, labels)
    extra = args.extra_real
    if extra is None and args.videos == DEFAULT_VIDEOS and args.labels is None:
        extra = [DEFAULT_EXTRA_REAL]
    items += [(Path(p), "real") for p in extra or []]
    if not items:
        print(f"no labelled clips in {labels}")
        return 2
    embedder = DlibEmbedder.create(settings.models.dlib_resnet_path)
    passive = PassiveLivenessDetector.create_from_options(options)
    side = options.sequence_max_side_px
    clips, sims = [], []
    try:
        for path, label in items:
            t0 = time.perf_counter()
            decoded = list(read_video(path, max_side=side, max_frames=args.max_frames))
            frames = track_faces(decoded)
            result = assess_sequence(frames, options, embedder=embedder, passive=passive).to_dict()
            clips.append(
                {
                    "file": str(path),
                    "label": label,
                    "seconds": round(time.perf_counter() - t0, 2),
                    **_summary(result),
                }
            )
            print(
                f"{path.name:28} {label:5} deepfake {result['deepfake_score']:5.1f} liveness {result['liveness_score']:5.1f}"
            )
            if args.simulate and label == "real":
                still = decoded[len(decoded) // 2]
                fps_ms = (decoded[1][1] - decoded[0][1]) if len(decoded) > 1 else 40.0
                for kind, images in (
                    ("flat_replay", flat_replay(still[0], 60)),
                    ("static_replay", static_replay(still[0], 60)),
                ):
                    replay = track_faces([(im, i * fps_ms) for i, im in enumerate(images)])
                    res = assess_sequence(
                        replay, options, embedder=embedder, passive=passive
                    ).to_dict()
                    sims.append(
                        {
                            "name": f"{kind} of {path.name}",
                            "kind": kind,
                            "source": str(path),
                            **_summary(res),
                        }
                    )
                    print(
                        f"  simulated {kind:14} liveness {res['liveness_score']:5.1f} ({res['verdicts']['liveness']})"
                    )
    finally:
        passive.close()
    real = np.array([c["deepfake_score"] for c in clips if c["label"] == "real"])
    fake = np.array([c["deepfake_score"] for c in clips if c["label"] == "fake"])
    n_min = min(real.size, fake.size)
    flagged = [c["verdicts"]["deepfake"] == "fake" for c in clips if c["label"] == "fake"]
    wrongly = [c["verdicts"]["deepfake"] == "fake" for c in clips if c["label"] == "real"]
    report: dict[str, Any] = {
        "dataset": {
            "videos": str(args.videos),
            "labels": str(labels),
            "extra_real": [str(p) for p in extra or []],
        },
        "counts": {"real": int(real.size), "fake": int(fake.size), "simulated": len(sims)},
        "thresholds": {"deepfake": options.deepfake_threshold, "live": options.live_threshold},
        "weights": options.sequence_weights,
        "metrics": {
            "deepfake": {
                "fakes_flagged": f"{sum(flagged)}/{len(flagged)}",
                "reals_flagged": f"{sum(wrongly)}/{len(wrongly)}",
                "min_fake_minus_max_real": float(fake.min() - real.max()) if n_min else None,
                "every_fake_above_every_real": bool(n_min and fake.min() > real.max()),
                "roc_auc": roc_auc(fake, real) if n_min >= MIN_CLASS_FOR_AUC else None,
                "ordered_pairs": roc_auc(fake, real) if n_min else None,
                "auc_note": f"AUC needs >= {MIN_CLASS_FOR_AUC} clips per class; 'ordered_pairs' is the share of "
                f"(fake, real) pairs ordered correctly over {fake.size} x {real.size} pairs",
            },
            "liveness_of_real_clips": {
                c["file"]: c["verdicts"]["liveness"] for c in clips if c["label"] == "real"
            },
            "simulated_attacks_flagged": f"{sum(s['verdicts']['liveness'] != 'live' for s in sims)}/{len(sims)}",
        },
        "clips": clips,
        "simulated": sims,
        "caveat": (
            f"{real.size} real and {fake.size} fake clips; the fakes are one method (GHOST) applied to one clip. "
            "The deepfake cues were tuned looking at these clips: these figures show the set is handled, "
            "not how a new method or new footage would fare. Simulated replays test geometry only."
        ),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "deepfake.json", report)
    _plot(
        args.out / "deepfake.png", clips, sims, options.deepfake_threshold, options.live_threshold
    )
    print(f"wrote {args.out / 'deepfake.json'} and {args.out / 'deepfake.png'}")
    return 0
