"""Helpers every benchmark uses: ROC figures, timing summaries, JSON output."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> dict[str, float]:
    """True-accept rate at the strictest distance threshold letting at most ``far`` of impostors in.

    A pair is accepted when its distance is strictly below the threshold; with n impostors,
    floor(far * n) of them may be accepted (0 when n < 1 / far: then the figure is at zero false accepts).
    """
    imp = np.sort(impostor)
    allowed = math.floor(far * len(imp) + 1e-9)
    threshold = float(imp[allowed]) if allowed < len(imp) else math.inf
    return {
        "far_target": far,
        "threshold": threshold,
        "tar": float(np.mean(genuine < threshold)),
        "far_measured": float(np.mean(impostor < threshold)),
        "impostor_pairs": len(imp),
    }


def roc_curve(genuine: np.ndarray, impostor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FAR, TAR) for every threshold, distances accepted when <= threshold."""
    finite = np.concatenate([genuine, impostor])
    thresholds = np.unique(finite[np.isfinite(finite)])
    far = np.array([np.mean(impostor <= t) for t in thresholds])
    tar = np.array([np.mean(genuine <= t) for t in thresholds])
    return far, tar


def timing_summary(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000.0
    if ms.size == 0:
        return {"median": math.nan, "p95": math.nan, "mean": math.nan, "n": 0}
    return {
        "median": round(float(np.median(ms)), 2),
        "p95": round(float(np.percentile(ms, 95)), 2),
        "mean": round(float(ms.mean()), 2),
        "n": int(ms.size),
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value)}")


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (no display here)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def roc_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a random positive scores above a random negative), ties counting half (Mann-Whitney U).

    With a handful of samples this is just the share of correctly ordered pairs; callers report the
    counts next to it.
    """
    pos, neg = np.asarray(positive, float), np.asarray(negative, float)
    if pos.size == 0 or neg.size == 0:
        return math.nan
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (pos.size * neg.size))


def apcer_bpcer(
    attack_accepted: np.ndarray, bona_fide_rejected: np.ndarray
) -> dict[str, float | int]:
    """ISO/IEC 30107-3 error rates at one operating point, from per-sample booleans.

    APCER: share of attack presentations accepted as bona fide; BPCER: share of bona fide
    presentations rejected. Counts are returned too: with few samples the rates mean little.
    """
    a, b = np.asarray(attack_accepted, bool), np.asarray(bona_fide_rejected, bool)
    return {
        "apcer": float(a.mean()) if a.size else math.nan,
        "bpcer": float(b.mean()) if b.size else math.nan,
        "attacks": int(a.size),
        "attacks_accepted": int(a.sum()),
        "bona_fide": int(b.size),
        "bona_fide_rejected": int(b.sum()),
    }
