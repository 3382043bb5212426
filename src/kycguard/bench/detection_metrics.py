"""Error rates of the learned detectors with their counts and 95 % intervals, and the protocols.

- APCER per attack type and BPCER at the operating threshold (ISO/IEC 30107-3), each with its count
  and a Wilson score interval; ROC AUC with a Hanley-McNeil interval (normal approximation; with
  small classes it is optimistic, so the counts are always next to it).
- Protocols (the threshold of each fold is chosen on that fold's training data only, by
  :func:`kycguard.bench.train.train`): subject-disjoint k-fold, leave-one-source-out, and train on one
  source / test on all others. Out-of-fold scores are pooled for the AUC and the rates.
- DET curve: APCER against BPCER on normal-deviate axes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from kycguard.bench.common import pyplot, roc_auc
from kycguard.bench.train import Case, group_folds, train
from kycguard.liveness.learned import ModelKind

Z95 = 1.959963984540054
__all__ = ["auc_interval", "det_plot", "operating_report", "roc_auc", "run_protocols", "wilson"]


def wilson(errors: int, n: int) -> dict[str, Any]:
    """Rate with its 95 % Wilson score interval (sound for small n and rates near 0 or 1)."""
    if n == 0:
        return {"rate": None, "errors": 0, "n": 0, "ci95": None}
    p = errors / n
    den = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / den
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / den
    return {
        "rate": round(p, 4),
        "errors": errors,
        "n": n,
        "ci95": [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)],
    }


def auc_interval(positive: np.ndarray, negative: np.ndarray) -> dict[str, Any]:
    """ROC AUC (attack scores above bona fide) and its Hanley-McNeil 95 % interval."""
    n1, n2 = len(positive), len(negative)
    if n1 == 0 or n2 == 0:
        return {"auc": None, "attacks": n1, "bona_fide": n2, "ci95": None}
    a = roc_auc(positive, negative)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    se = math.sqrt(
        max(0.0, a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n2 - 1) * (q2 - a * a)) / (n1 * n2)
    )
    return {
        "auc": round(a, 4),
        "attacks": n1,
        "bona_fide": n2,
        "ci95": [round(max(0.0, a - Z95 * se), 4), round(min(1.0, a + Z95 * se), 4)],
    }


def operating_report(
    cases: Sequence[Case], p: np.ndarray, attack_called: np.ndarray
) -> dict[str, Any]:
    """AUC over ``p`` and APCER per attack type / BPCER of the per-sample decisions."""
    y = np.array([c.attack for c in cases])
    ok = np.isfinite(p)
    per_type: dict[str, Any] = {}
    for t in sorted({c.attack_type for c in cases if c.attack}):
        idx = np.array([c.attack and c.attack_type == t for c in cases]) & ok
        per_type[t] = wilson(int((~attack_called[idx]).sum()), int(idx.sum()))
    att, bf = y & ok, ~y & ok
    return {
        "roc_auc": auc_interval(p[att], p[bf]),
        "apcer": wilson(int((~attack_called[att]).sum()), int(att.sum())),
        "apcer_by_attack_type": per_type,
        "bpcer": wilson(int(attack_called[bf].sum()), int(bf.sum())),
    }


def _evaluate_split(
    rows: Sequence[dict[str, float]],
    cases: Sequence[Case],
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    kind: ModelKind,
    p: np.ndarray,
    called: np.ndarray,
) -> dict[str, Any] | None:
    from kycguard.bench.train import matrix

    y = np.array([c.attack for c in cases], float)
    if len(set(y[train_idx])) < 2 or test_idx.size == 0:
        return None
    model, inner = train(
        [rows[i] for i in train_idx], y[train_idx], [cases[i].subject for i in train_idx], kind
    )
    p[test_idx] = model.probabilities(matrix([rows[i] for i in test_idx], model.features))
    called[test_idx] = p[test_idx] >= model.threshold
    return {
        "train": int(train_idx.size),
        "test": int(test_idx.size),
        "threshold": inner["threshold"],
        "l2": inner["l2"],
        "feature_group": inner["feature_group"],
    }


def run_protocols(
    rows: Sequence[dict[str, float]],
    cases: Sequence[Case],
    kind: ModelKind,
    *,
    folds: int = 5,
    train_on: str | None = None,
) -> dict[str, Any]:
    """Every protocol's pooled out-of-fold report, per-fold details and the pooled scores."""
    n = len(cases)
    y = np.array([c.attack for c in cases], float)
    sources = sorted({c.source for c in cases})
    splits: dict[str, list[tuple[str, np.ndarray, np.ndarray]]] = {}
    f = group_folds([c.subject for c in cases], y, folds)
    splits["subject_disjoint_cv"] = [
        (f"fold {i}", np.flatnonzero(f != i), np.flatnonzero(f == i)) for i in range(folds)
    ]
    src = np.array([c.source for c in cases])
    splits["leave_one_source_out"] = [
        (s, np.flatnonzero(src != s), np.flatnonzero(src == s)) for s in sources
    ]
    if train_on is not None:
        splits[f"train_{train_on}_test_others"] = [
            (train_on, np.flatnonzero(src == train_on), np.flatnonzero(src != train_on))
        ]
    out: dict[str, Any] = {}
    for name, parts in splits.items():
        p = np.full(n, math.nan)
        called = np.zeros(n, bool)
        details = {}
        for label, tr, te in parts:
            details[label] = _evaluate_split(rows, cases, tr, te, kind, p, called) or {
                "skipped": "training part lacks one class"
            }
        tested = np.isfinite(p)
        report = operating_report(cases, p, called)
        if name == "leave_one_source_out":
            report["by_held_out_source"] = {
                s: operating_report(
                    [c for c, t in zip(cases, tested & (src == s), strict=True) if t],
                    p[tested & (src == s)],
                    called[tested & (src == s)],
                )
                for s in sources
            }
        out[name] = {
            **report,
            "untested": int((~tested).sum()),
            "splits": details,
            "scores": [
                {
                    "file": c.file,
                    "attack": c.attack,
                    "p": None if not math.isfinite(v) else round(float(v), 4),
                    "called_attack": bool(k),
                }
                for c, v, k in zip(cases, p, called, strict=True)
            ],
        }
    return out


def det_points(p_attack: np.ndarray, p_bona: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(BPCER, APCER) at every threshold (attack when p >= t)."""
    ts = np.unique(np.concatenate([p_attack, p_bona, [np.inf]]))
    apcer = np.array([np.mean(p_attack < t) for t in ts])
    bpcer = np.array([np.mean(p_bona >= t) for t in ts])
    return bpcer, apcer


def det_plot(path: Path, curves: dict[str, dict[str, Any]], title: str) -> None:
    """DET curves (normal-deviate axes) of several protocols, their operating points marked."""
    plt = pyplot()
    nd = NormalDist()
    lo, hi = 0.005, 0.995

    def dev(v: np.ndarray) -> np.ndarray:
        return np.array([nd.inv_cdf(min(hi, max(lo, float(x)))) for x in v])

    fig, ax = plt.subplots(figsize=(6, 5))
    for name, rep in curves.items():
        scores = [s for s in rep["scores"] if s["p"] is not None]
        pa = np.array([s["p"] for s in scores if s["attack"]])
        pb = np.array([s["p"] for s in scores if not s["attack"]])
        if pa.size == 0 or pb.size == 0:
            continue
        bp, ap = det_points(pa, pb)
        auc = rep["roc_auc"]["auc"]
        line = ax.plot(dev(bp), dev(ap), label=f"{name} (AUC {auc}, {pa.size} att / {pb.size} bf)")[
            0
        ]
        op_b, op_a = rep["bpcer"]["rate"], rep["apcer"]["rate"]
        if op_b is not None and op_a is not None:
            ax.plot(dev(np.array([op_b])), dev(np.array([op_a])), "o", color=line.get_color())
    ticks = [0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.95]
    ax.set_xticks(dev(np.array(ticks)), [f"{t:.0%}" for t in ticks])
    ax.set_yticks(dev(np.array(ticks)), [f"{t:.0%}" for t in ticks])
    ax.set_xlabel("BPCER (bona fide rejected)")
    ax.set_ylabel("APCER / fakes accepted")
    ax.axvline(nd.inv_cdf(0.15), ls=":", color="grey", lw=1)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def learned_bench(
    kind: ModelKind,
    root: Path,
    labels: Path,
    out: Path,
    *,
    model_path: Path | None,
    cross_validate: bool,
    train_on: str | None,
    minifasnet: Path | None = None,
    cache: Path | None = None,
) -> dict[str, Any]:
    """``bench pad|deepfake --cv`` and ``--model``: features (cached), protocols or a given model's
    test, JSON and a DET plot in ``out`` (``<kind>_learned.json``, ``<kind>_det.png``)."""
    import hashlib

    from kycguard.bench.common import write_json
    from kycguard.bench.train import (
        clip_feature_rows,
        labelled_rows,
        matrix,
        pad_feature_rows,
        read_cases,
    )
    from kycguard.liveness.learned import load_model
    from kycguard.vision.model_files import sha256_of

    cases = read_cases(labels)
    rows = (
        pad_feature_rows(root, cases, minifasnet, cache)
        if kind == "pad"
        else clip_feature_rows(root, cases, cache)
    )
    kept, feats, skipped = labelled_rows(cases, rows)
    counts: dict[str, int] = {}
    for c in kept:
        key = f"{'attack' if c.attack else 'bona_fide'}/{c.attack_type}"
        counts[key] = counts.get(key, 0) + 1
    report: dict[str, Any] = {
        "kind": kind,
        "dataset": {
            "root": str(root),
            "labels": str(labels),
            "labels_sha256": hashlib.sha256(labels.read_bytes()).hexdigest(),
            "samples": len(kept),
            "subjects": len({c.subject for c in kept}),
            "counts": counts,
            "sources": {
                s: sum(c.source == s for c in kept) for s in sorted({c.source for c in kept})
            },
            "skipped_no_face": [
                f"{c.file} ({'attack' if c.attack else 'bona fide'})" for c in skipped
            ],
        },
        "minifasnet": str(minifasnet) if minifasnet else None,
        "operating_point": "attack when P(attack) >= the threshold chosen on training data only "
        "(largest bona fide error <= 15 % on inner subject-disjoint out-of-fold scores)",
    }
    curves: dict[str, dict[str, Any]] = {}
    if cross_validate:
        report["protocols"] = run_protocols(feats, kept, kind, train_on=train_on)
        curves |= {k: v for k, v in report["protocols"].items()}
    if model_path is not None:
        digest = sha256_of(model_path)
        model = load_model(model_path, digest, kind)
        p = model.probabilities(matrix(feats, model.features))
        called = p >= model.threshold
        own = model.card.get("data", {}).get("labels_sha256") == report["dataset"]["labels_sha256"]
        rep = operating_report(kept, p, called)
        rep["scores"] = [
            {"file": c.file, "attack": c.attack, "p": round(float(v), 4), "called_attack": bool(k)}
            for c, v, k in zip(kept, p, called, strict=True)
        ]
        report["model"] = {
            **model.describe(),
            "sha256": digest,
            "threshold": model.threshold,
            "warning": "evaluated on its own training labels: a fit, not a test" if own else None,
            **rep,
        }
        curves["model"] = report["model"]
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / f"{kind}_learned.json", report)
    det_plot(out / f"{kind}_det.png", curves, f"{kind}: {len(kept)} samples, {labels.name}")
    for name, rep in curves.items():
        a, ap, bp = rep["roc_auc"], rep["apcer"], rep["bpcer"]
        print(
            f"{name:36} AUC {a['auc']} {a['ci95']}  APCER {ap['errors']}/{ap['n']} {ap['ci95']}  "
            f"BPCER {bp['errors']}/{bp['n']} {bp['ci95']}"
        )
    print(f"wrote {out / f'{kind}_learned.json'} and {out / f'{kind}_det.png'}")
    return report
