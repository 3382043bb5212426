"""Training the learned detectors (``kycguard models train-pad`` / ``train-deepfake``), numpy only.

Input: a folder and a CSV ``file,label[,attack_type,source,subject]`` with paths relative to the
folder. ``label`` is ``real``/``bona_fide``/``genuine``/``live`` or ``attack``/``fake``/``spoof``/
``fraud``; other labels are skipped. This is also the format for a deployment's own labelled cases
(selfies and kept session frames exported from the review workflow, labelled fraud/genuine).
``subject`` groups samples of one person for subject-disjoint validation; without it the subject is
read from NUAA (``nuaa_<kind>_<subject>_...``) and DeepFaceLive (``dfl_<Name>_<n>_...``) file names,
else the identity folder (``by_identity/<name>/``), else the file itself.

Features are those of :mod:`kycguard.liveness.learned`, computed through the same code as at run
time (``PassiveLivenessDetector.assess`` then ``pad_features``; ``sequence.deepfake_features``), and
cached per file in a tmp folder so re-runs cost seconds. The model is an L2-regularised logistic
regression (Newton's method); the regularisation strength and the operating threshold are chosen
by subject-disjoint cross-validation *inside* the training data only.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from kycguard.liveness.learned import FEATURE_VERSION, LinearModel, ModelKind

REAL_LABELS = {"real", "bona_fide", "bonafide", "live", "genuine"}
ATTACK_LABELS = {"attack", "fake", "spoof", "fraud"}
L2_GRID = (1.0, 10.0, 100.0, 1000.0)
INNER_FOLDS = 4
MAX_BPCER = 0.15  # operating point: the largest threshold keeping bona fide errors at this share
CLIP_FRAMES = 24  # frames decoded per clip (evenly spread), at most 640 px
_NUAA = re.compile(r"nuaa_[a-z]+_(\d{4})_")
_DFL = re.compile(r"dfl_(.+?)_\d+_(left|right)")


@dataclass(frozen=True)
class Case:
    file: str
    attack: bool
    attack_type: str
    source: str
    subject: str


def subject_of(file: str) -> str:
    name = Path(file).name
    if m := _NUAA.search(name):
        return f"nuaa:{m.group(1)}"
    if m := _DFL.search(name):
        return f"dfl:{m.group(1)}"
    parts = Path(file).parts
    if "by_identity" in parts:
        return f"identity:{parts[parts.index('by_identity') + 1]}"
    return f"file:{file}"


def read_cases(labels: Path) -> list[Case]:
    """Labelled cases of a CSV (see the module docstring); rows with other labels are skipped."""
    out = []
    with labels.open(newline="") as fh:
        for row in csv.DictReader(fh):
            file = (row.get("file") or row.get("path") or "").strip()
            label = (row.get("label") or "").strip().lower()
            if not file or label not in REAL_LABELS | ATTACK_LABELS:
                continue
            attack = label in ATTACK_LABELS
            source = (row.get("source") or row.get("source_repo") or "").strip()
            out.append(
                Case(
                    file=file,
                    attack=attack,
                    attack_type=(row.get("attack_type") or "").strip()
                    or ("unspecified" if attack else "none"),
                    source=source or str(Path(file).parent),
                    subject=(row.get("subject") or "").strip() or subject_of(file),
                )
            )
    return out


# ---------------------------------------------------------------- feature extraction with a cache


def cache_dir(given: Path | None) -> Path:
    d = given or Path(tempfile.gettempdir()) / f"kycguard-features-{os.getuid()}"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _cached(
    cache: Path, key_parts: Sequence[str], compute: Callable[[], dict[str, float] | None]
) -> dict[str, float] | None:
    key = hashlib.sha1("|".join(key_parts).encode()).hexdigest()
    path = cache / f"{key}.json"
    if path.is_file():
        data = json.loads(path.read_text())
        return data.get("features")
    features = compute()
    path.write_text(json.dumps({"features": features, "key": list(key_parts)}))
    return features


def _file_key(path: Path) -> list[str]:
    st = path.stat()
    return [str(path.resolve()), str(st.st_size), str(st.st_mtime_ns), f"v{FEATURE_VERSION}"]


def pad_feature_rows(
    root: Path, cases: Sequence[Case], minifasnet: Path | None, cache: Path | None = None
) -> list[dict[str, float] | None]:
    """PAD features of every case (None: no face found), through the run-time code path."""
    from tqdm import tqdm

    from kycguard.liveness.learned import pad_features
    from kycguard.liveness.passive import PassiveLivenessDetector
    from kycguard.settings import get_settings
    from kycguard.vision.detector import MediaPipeDetectorOptions, MediaPipeFaceDetector
    from kycguard.vision.image_io import decode_image, downscale
    from kycguard.vision.landmarker import FaceLandmarkerOptions
    from kycguard.vision.model_files import sha256_of

    settings = get_settings()
    base = settings.liveness.model_copy(
        update={"minifasnet_path": minifasnet, "pad_model_path": None, "deepfake_model_path": None}
    )
    if minifasnet is not None:
        base = base.model_copy(update={"minifasnet_sha256": sha256_of(minifasnet)})
    # every setting the features depend on is part of the cache key
    tag = "|".join(
        [
            str(base.minifasnet_sha256) if minifasnet is not None else "no-minifasnet",
            json.dumps(base.passive_weights, sort_keys=True),
            str(base.min_texture_face_px),
            str(settings.limits.analysis_max_side_px),
        ]
    )
    cache = cache_dir(cache)
    state: dict[str, Any] = {}

    def compute(path: Path) -> dict[str, float] | None:
        if not state:  # models load only when something is not cached yet
            state["passive"] = PassiveLivenessDetector.create_from_options(base)
            state["faces"] = MediaPipeFaceDetector.create_from_options(
                MediaPipeDetectorOptions(
                    landmarker=FaceLandmarkerOptions(
                        model_path=settings.models.face_landmarker_path
                    ),
                    search="pyramid",
                )
            )
        lim = settings.limits
        image = decode_image(
            path.read_bytes(),
            field=path.name,
            max_bytes=lim.max_upload_bytes,
            max_pixels=lim.max_pixels,
        )
        image = downscale(image, lim.analysis_max_side_px)
        faces = state["faces"].detect(image)
        if not faces:
            return None
        result = state["passive"].assess(image, faces[0])
        return pad_features(image, faces[0], result.signals)

    rows = []
    try:
        for case in tqdm(cases, desc="PAD features", unit="image", leave=False):
            path = root / case.file
            rows.append(_cached(cache, ["pad", *_file_key(path), str(tag)], partial(compute, path)))
    finally:
        if state:
            state["faces"].close()
            state["passive"].close()
    return rows


def clip_feature_rows(
    root: Path, cases: Sequence[Case], cache: Path | None = None, frames: int = CLIP_FRAMES
) -> list[dict[str, float] | None]:
    """Clip features of every case (None: no face track), ``frames`` decoded per clip."""
    import cv2
    from tqdm import tqdm

    from kycguard.liveness.sequence import deepfake_features
    from kycguard.liveness.video import read_video, track_faces
    from kycguard.settings import get_settings

    options = get_settings().liveness
    cache = cache_dir(cache)

    def compute(path: Path) -> dict[str, float] | None:
        cap = cv2.VideoCapture(str(path))
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        cap.release()
        step = max(1, total // frames) if total > 0 else 1
        decoded = list(
            read_video(path, max_side=options.sequence_max_side_px, step=step, max_frames=frames)
        )
        return deepfake_features(track_faces(decoded), options)

    rows = []
    for case in tqdm(cases, desc="clip features", unit="clip", leave=False):
        path = root / case.file
        key = [
            "clip",
            *_file_key(path),
            str(frames),
            options.model_dump_json(
                include={"sequence_max_side_px", "min_sequence_frames", "sequence_weights"}
            ),
        ]
        rows.append(_cached(cache, key, partial(compute, path)))
    return rows


# ---------------------------------------------------------------- the model


def matrix(rows: Sequence[dict[str, float]], names: Sequence[str]) -> np.ndarray:
    return np.array([[r.get(n, math.nan) for n in names] for r in rows], float)


def usable_features(rows: Sequence[dict[str, float]]) -> list[str]:
    """Features measured on at least half the samples and not constant."""
    names = sorted({n for r in rows for n in r})
    x = matrix(rows, names)
    keep = []
    for j, n in enumerate(names):
        col = x[:, j][np.isfinite(x[:, j])]
        if col.size >= max(2, x.shape[0] // 2) and float(col.std()) > 1e-9:
            keep.append(n)
    return keep


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression on standardised x by Newton's method (intercept free)."""
    n, d = x.shape
    a = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    penalty = np.full(d + 1, l2)
    penalty[-1] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ w, -40, 40)))
        grad = a.T @ (p - y) + penalty * w
        hess = (a * (p * (1 - p))[:, None]).T @ a + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return w[:-1], float(w[-1])


def fit_model(
    rows: Sequence[dict[str, float]],
    y: np.ndarray,
    names: Sequence[str],
    l2: float,
    kind: ModelKind,
    threshold: float = 0.5,
) -> LinearModel:
    x = matrix(rows, names)
    mean = np.nanmean(x, axis=0)
    x = np.where(np.isfinite(x), x, mean)
    scale = np.maximum(x.std(axis=0), 1e-6)
    coef, intercept = fit_logistic((x - mean) / scale, y, l2)
    return LinearModel(kind, tuple(names), mean, scale, coef, intercept, threshold)


def group_folds(groups: Sequence[str], y: np.ndarray, k: int) -> np.ndarray:
    """Fold index per sample; a group (subject) lives in exactly one fold. Deterministic: groups
    sorted by (majority label, size, name) and dealt round-robin so each fold gets both classes."""
    names = sorted(set(groups))
    stats = {g: [y[i] for i in range(len(y)) if groups[i] == g] for g in names}
    order = sorted(names, key=lambda g: (round(float(np.mean(stats[g]))), -len(stats[g]), g))
    fold_of = {g: i % k for i, g in enumerate(order)}
    return np.array([fold_of[g] for g in groups])


def operating_threshold(p_bona_fide: np.ndarray, max_bpcer: float = MAX_BPCER) -> float:
    """Smallest P(attack) threshold at which at most ``max_bpcer`` of these bona fide are rejected
    (a sample is an attack when p >= threshold)."""
    p = np.sort(np.asarray(p_bona_fide, float))
    allowed = math.floor(max_bpcer * p.size + 1e-9)
    if p.size == 0:
        return 0.5
    # rejecting the `allowed` highest: threshold just above the next one down
    cut = p[p.size - allowed - 1]
    above = p[p > cut]
    return float((cut + above.min()) / 2) if above.size else float(np.nextafter(cut, 1.0))


def out_of_fold(
    rows: Sequence[dict[str, float]],
    y: np.ndarray,
    groups: Sequence[str],
    names: Sequence[str],
    l2: float,
    kind: ModelKind,
    k: int,
) -> np.ndarray:
    folds = group_folds(groups, y, k)
    p = np.full(len(rows), math.nan)
    for f in range(k):
        train, test = folds != f, folds == f
        if not test.any() or len(set(y[train])) < 2:
            continue
        model = fit_model([rows[i] for i in np.flatnonzero(train)], y[train], names, l2, kind)
        p[test] = model.probabilities(matrix([rows[i] for i in np.flatnonzero(test)], names))
    return p


FEATURE_GROUPS: dict[str, Callable[[str], bool]] = {
    "all": lambda name: True,
    # the cue values and fusions only: 60+ texture bins are many for a few hundred samples
    "cues": lambda name: "lbp_" not in name,
}


def train(
    rows: Sequence[dict[str, float]],
    y: np.ndarray,
    groups: Sequence[str],
    kind: ModelKind,
    max_bpcer: float = MAX_BPCER,
) -> tuple[LinearModel, dict[str, Any]]:
    """Fit on all ``rows``; the feature group, l2 and the threshold come from inner
    subject-disjoint CV on these rows only."""
    from kycguard.bench.detection_metrics import roc_auc

    usable = usable_features(rows)
    k = max(2, min(INNER_FOLDS, len(set(groups))))
    scores: dict[tuple[str, float], float] = {}
    oof: dict[tuple[str, float], np.ndarray] = {}
    for group, keep in FEATURE_GROUPS.items():
        names = [n for n in usable if keep(n)]
        for l2 in L2_GRID:
            p = out_of_fold(rows, y, groups, names, l2, kind, k)
            ok = np.isfinite(p)
            oof[group, l2] = p
            scores[group, l2] = roc_auc(p[ok & (y == 1)], p[ok & (y == 0)])
    best = max(scores, key=lambda key: (np.nan_to_num(scores[key], nan=-1.0), key[1]))
    p = oof[best]
    ok = np.isfinite(p)
    threshold = operating_threshold(p[ok & (y == 0)], max_bpcer)
    names = [n for n in usable if FEATURE_GROUPS[best[0]](n)]
    model = fit_model(rows, y, names, best[1], kind, threshold)
    inner = {
        "grid_auc": {f"{g}/l2={v:g}": a for (g, v), a in scores.items()},
        "feature_group": best[0],
        "l2": best[1],
        "inner_folds": k,
        "inner_cv_auc": scores[best],
        "threshold": threshold,
        "threshold_rule": f"largest bona fide error <= {max_bpcer:.0%} on inner out-of-fold scores",
    }
    return model, inner


def labelled_rows(
    cases: Sequence[Case], rows: Sequence[dict[str, float] | None]
) -> tuple[list[Case], list[dict[str, float]], list[Case]]:
    kept = [(c, r) for c, r in zip(cases, rows, strict=True) if r is not None]
    skipped = [c for c, r in zip(cases, rows, strict=True) if r is None]
    return [c for c, _ in kept], [r for _, r in kept], skipped


def write_model(
    model: LinearModel,
    out: Path,
    *,
    cases: Sequence[Case],
    skipped: Sequence[Case],
    data: dict[str, Any],
    inner: dict[str, Any],
) -> dict[str, Any]:
    """Model file plus its card ``<out>.card.json``; returns the card (with the file's SHA-256)."""
    from kycguard.vision.model_files import sha256_of

    counts: dict[str, int] = {}
    for c in cases:
        key = f"{'attack' if c.attack else 'bona_fide'}/{c.attack_type}"
        counts[key] = counts.get(key, 0) + 1
    card = {
        "kind": model.kind,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": data
        | {
            "samples": len(cases),
            "subjects": len({c.subject for c in cases}),
            "sources": sorted({c.source for c in cases}),
            "counts": counts,
            "skipped_no_face": [c.file for c in skipped],
        },
        "model": "L2 logistic regression on standardised features (numpy Newton)",
        "features": list(model.features),
        "feature_version": FEATURE_VERSION,
        "metrics": {
            "inner_cv": inner,
            "note": "inner CV on the training data only: not a test; see `kycguard bench` for one",
        },
    }
    model = LinearModel(**{**model.__dict__, "card": card})
    model.save(out)
    digest = sha256_of(out)
    card["sha256"] = digest
    card["file"] = str(out)
    Path(f"{out}.card.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def run_train(kind: ModelKind, root: Path, labels: Path, out: Path, **kw: Any) -> dict[str, Any]:
    """What both CLI commands do: read, extract (cached), fit, write model + card."""
    cases = read_cases(labels)
    if kind == "pad":
        rows = pad_feature_rows(root, cases, kw.get("minifasnet"), kw.get("cache"))
    else:
        rows = clip_feature_rows(root, cases, kw.get("cache"))
    kept, feats, skipped = labelled_rows(cases, rows)
    y = np.array([c.attack for c in kept], float)
    if len(set(y)) < 2:
        raise ValueError("training needs both labels (bona fide and attack) with a detected face")
    model, inner = train(feats, y, [c.subject for c in kept], kind)
    data = {
        "root": str(root),
        "labels": str(labels),
        "labels_sha256": hashlib.sha256(labels.read_bytes()).hexdigest(),
        "minifasnet": str(kw.get("minifasnet")) if kw.get("minifasnet") else None,
    }
    return write_model(model, out, cases=kept, skipped=skipped, data=data, inner=inner)
