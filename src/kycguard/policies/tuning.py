"""Threshold tuning from labels: what each threshold value would have given on labelled cases.

Each tunable threshold is a gate on one score the stored answers keep: ``face_match.tolerance`` on
``face_match.distance`` (passes at or below), ``decision.approve_at`` on ``scores.before_rules``
(passes at or above), ``liveness.live_threshold`` on ``liveness_check.score`` (at or above). For every
value of a grid the sweep counts, over the cases reviewers labelled (``case_labels``), the labelled
fraud the gate would have passed (false accepts) and the labelled genuine cases it would have held
(false rejects: rejected or sent to review by this gate), each with a 95 % Wilson interval
(``kycguard.metrics.service.rate``). A gate is judged on its own score; the other checks are not
re-run, so the figures say what moving this one threshold does, all else as decided.

The recommendation is, among the values whose false-accept rate meets the target, the one that
rejects the fewest genuine customers (ties: the one closest to today's value). The report says
plainly when there are too few labelled fraud cases to show the target with 95 % confidence: with
``n`` fraud cases and none accepted, the Wilson upper bound is about 3.84 / (n + 3.84), so a target
of 0.2 % needs about 1,900 labelled fraud cases.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, select

from kycguard.metrics.service import _slim, _unslim, _window, rate, wilson
from kycguard.reviews.models import CaseLabel
from kycguard.settings import Settings
from kycguard.store.database import Database
from kycguard.store.models import Verification
from kycguard.store.session_models import KycSession

Z95 = 1.959964

ANSWER_FIELDS: tuple[tuple[str, ...], ...] = (
    ("face_match", "distance"),
    ("scores", "before_rules"),
    ("liveness_check", "score"),
    ("policy", "name"),
    ("policy", "version"),
)


@dataclass(frozen=True)
class Tunable:
    """One threshold: where its score is in the answer and which side of it passes."""

    key: str  # "section.field", the name in a policy document and in TuningSettings.bounds
    score: tuple[str, str]  # path of the score in the stored answer
    passes_below: bool  # True: a score at or below the value passes (a distance)
    grid: tuple[float, float, float]  # start, stop (inclusive), step
    partner: str  # the field of the same section the value must stay on the right side of
    digits: int

    @property
    def section(self) -> str:
        return self.key.split(".")[0]

    @property
    def field(self) -> str:
        return self.key.split(".")[1]

    def passes(self, score: float, value: float) -> bool:
        return score <= value if self.passes_below else score >= value

    def values(self, current: Mapping[str, float]) -> list[float]:
        """The grid, without the values the section's own validator would refuse."""
        start, stop, step = self.grid
        n = round((stop - start) / step)
        grid = [round(start + i * step, self.digits) for i in range(n + 1)]
        other = current[f"{self.section}.{self.partner}"]
        return [v for v in grid if (v < other if self.passes_below else v >= other)]


TUNABLES: tuple[Tunable, ...] = (
    Tunable(
        "face_match.tolerance",
        ("face_match", "distance"),
        True,
        (0.30, 0.80, 0.01),
        "clear_mismatch_distance",
        2,
    ),
    Tunable("decision.approve_at", ("scores", "before_rules"), False, (50, 99, 1), "review_at", 0),
    Tunable(
        "liveness.live_threshold",
        ("liveness_check", "score"),
        False,
        (20, 95, 1),
        "attack_threshold",
        0,
    ),
)
PARTNERS = {f"{t.section}.{t.partner}" for t in TUNABLES}


@dataclass(frozen=True)
class LabelledCase:
    kind: str
    id: str
    at: datetime
    was_fraud: bool
    answer: dict[str, Any]  # the few answer fields of ANSWER_FIELDS, answer-shaped

    def score(self, path: tuple[str, str]) -> float | None:
        v = (self.answer.get(path[0]) or {}).get(path[1])
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    @property
    def policy(self) -> str | None:
        p = self.answer.get("policy") or {}
        return None if p.get("name") is None else str(p["name"])


def labelled_cases(
    db: Database,
    start: datetime | None,
    end: datetime | None,
    *,
    tenant: str | None = None,
    policy: str | None = None,
    default_policy: str = "default",
) -> tuple[datetime, datetime, list[LabelledCase]]:
    """The labelled verifications and sessions decided in [start, end) (default: 30 days), with
    the scores the thresholds act on. ``policy``: only cases decided under it (answers written
    before policies existed count as the default policy's)."""
    start, end = _window(start, end)
    cases: list[LabelledCase] = []
    with db.session() as s:
        for kind, model, at in (
            ("verification", Verification, Verification.created_at),
            ("session", KycSession, KycSession.completed_at),
        ):
            q = (
                select(model.id, at, CaseLabel.was_fraud, *_slim(model.result, ANSWER_FIELDS))
                .join(CaseLabel, and_(CaseLabel.kind == kind, CaseLabel.case_id == model.id))
                .where(at >= start, at < end, model.result.is_not(None))
            )
            if tenant is not None:
                q = q.where(model.tenant == tenant)
            for row in s.execute(q):
                when = row[1] if row[1].tzinfo else row[1].replace(tzinfo=UTC)
                answer = _unslim(row[3:], ANSWER_FIELDS)
                cases.append(LabelledCase(kind, str(row[0]), when, bool(row[2]), answer))
    if policy is not None:
        cases = [c for c in cases if (c.policy or default_policy) == policy]
    return start, end, sorted(cases, key=lambda c: (c.at, c.id))


def current_thresholds(
    settings: Settings, overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, float]:
    """Today's value of every tunable threshold (and of the partner it must stay beside): the
    policy's override where it has one, else the settings'."""
    out: dict[str, float] = {}
    for key in [t.key for t in TUNABLES] + sorted(PARTNERS):
        section, field = key.split(".")
        given = (overrides or {}).get(section, {})
        out[key] = float(given.get(field, getattr(getattr(settings, section), field)))
    return out


def sweep(
    cases: Sequence[LabelledCase],
    tunable: Tunable,
    values: Iterable[float],
    progress: Callable[[Iterable[float]], Iterable[float]] = lambda x: x,
) -> list[dict[str, Any]]:
    """FAR and FRR of the gate at each value, over the labelled cases that hold its score."""
    scored = [(c.was_fraud, s) for c in cases if (s := c.score(tunable.score)) is not None]
    fraud = [s for was_fraud, s in scored if was_fraud]
    genuine = [s for was_fraud, s in scored if not was_fraud]
    rows = []
    for v in progress(values):
        accepted = sum(tunable.passes(s, v) for s in fraud)
        held = sum(not tunable.passes(s, v) for s in genuine)
        rows.append(
            {"value": v, "far": rate(accepted, len(fraud)), "frr": rate(held, len(genuine))}
        )
    return rows


def fraud_needed(target_far: float) -> int:
    """Labelled fraud cases, none accepted, for the 95 % Wilson upper bound to reach the target."""
    n = math.ceil(Z95 * Z95 * (1 - target_far) / target_far)
    while wilson(0, n)[1] > target_far:
        n += 1
    return n


def recommend(
    rows: Sequence[dict[str, Any]], current: float, target_far: float, max_frr: float
) -> dict[str, Any]:
    """The value to use and why: the fewest false rejects among the values meeting the FAR target
    (ties: closest to ``current``); with none meeting it, the one with the fewest false accepts."""

    def key(r: dict[str, Any]) -> tuple[float, float]:
        return (r["frr"]["rate"] or 0.0, abs(r["value"] - current))

    meeting = [r for r in rows if (r["far"]["rate"] or 0.0) <= target_far]
    if meeting:
        best = min(meeting, key=key)
    else:
        best = min(rows, key=lambda r: (r["far"]["rate"] or 0.0, *key(r)))
    far, frr = best["far"], best["frr"]
    notes: list[str] = []
    if not meeting:
        notes.append(f"no value meets the FAR target {target_far}: this one accepts the fewest")
    if far["total"] == 0:
        notes.append("no labelled fraud case holds this score: the FAR is unknown")
    elif far["ci95"][1] > target_far:
        needed = fraud_needed(target_far)
        notes.append(
            f"too few labelled fraud cases to show FAR <= {target_far} with 95 % confidence: "
            f"{far['total']} labelled, at least {needed} with none accepted would be needed "
            f"(95 % upper bound now {far['ci95'][1]})"
        )
    meets_frr = frr["total"] > 0 and (frr["rate"] or 0.0) <= max_frr
    if frr["total"] == 0:
        notes.append("no labelled genuine case holds this score: the FRR is unknown")
    elif not meets_frr:
        notes.append(f"FRR {frr['rate']} is above the maximum {max_frr} at this value")
    return {
        "value": best["value"],
        "change": round(best["value"] - current, 6),
        "far": far,
        "frr": frr,
        "meets_far_target": bool(meeting) and far["total"] > 0,
        "far_target_shown_95": far["total"] > 0 and far["ci95"][1] <= target_far,
        "meets_max_frr": meets_frr,
        "notes": notes,
    }


def tune(
    cases: Sequence[LabelledCase],
    current: Mapping[str, float],
    target_far: float,
    max_frr: float,
    progress: Callable[[Iterable[float]], Iterable[float]] = lambda x: x,
) -> dict[str, Any]:
    """The sweep and recommendation of every tunable threshold; ``proposed``: the changes, as a
    policy document's ``thresholds`` overrides (only thresholds with labelled cases of both kinds
    that meet the FAR target and move)."""
    out: dict[str, Any] = {}
    proposed: dict[str, dict[str, float]] = {}
    for t in TUNABLES:
        rows = sweep(cases, t, t.values(current), progress)
        if not rows:
            continue
        now = current[t.key]
        rec = recommend(rows, now, target_far, max_frr)
        here = sweep(cases, t, [now])[0]
        out[t.key] = {
            "score": ".".join(t.score),
            "passes": "at or below" if t.passes_below else "at or above",
            "current": {"value": now, "far": here["far"], "frr": here["frr"]},
            "recommended": rec,
            "sweep": rows,
        }
        if rec["meets_far_target"] and rec["frr"]["total"] > 0 and rec["change"] != 0:
            proposed.setdefault(t.section, {})[t.field] = rec["value"]
    return {
        "targets": {"far": target_far, "max_frr": max_frr},
        "labelled": {
            "total": len(cases),
            "fraud": sum(c.was_fraud for c in cases),
            "genuine": sum(not c.was_fraud for c in cases),
        },
        "thresholds": out,
        "proposed": proposed,
    }


def plot(report: Mapping[str, Any], path: Path) -> None:
    """FAR and FRR (with 95 % bands) against each threshold; today's and the recommended value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = list(report["thresholds"].items())
    fig, axes = plt.subplots(1, max(1, len(items)), figsize=(5.5 * max(1, len(items)), 4.2))
    for ax, (name, t) in zip(list(getattr(axes, "flat", [axes])), items, strict=False):
        xs = [r["value"] for r in t["sweep"]]
        for which, colour in (("far", "tab:red"), ("frr", "tab:blue")):
            ys = [r[which]["rate"] for r in t["sweep"]]
            lo = [r[which]["ci95"][0] for r in t["sweep"]]
            hi = [r[which]["ci95"][1] for r in t["sweep"]]
            if all(y is not None for y in ys):
                ax.plot(xs, ys, color=colour, label=which.upper())
                ax.fill_between(xs, lo, hi, color=colour, alpha=0.15)
        ax.axvline(t["current"]["value"], color="grey", ls="--", label="current")
        ax.axvline(t["recommended"]["value"], color="green", ls="-", label="recommended")
        ax.axhline(report["targets"]["far"], color="tab:red", ls=":", lw=0.8)
        ax.axhline(report["targets"]["max_frr"], color="tab:blue", ls=":", lw=0.8)
        ax.set_title(f"{name} ({t['score']})")
        ax.set_xlabel("threshold")
        ax.set_ylabel("rate on labelled cases")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8)
    n = report["labelled"]
    fig.suptitle(f"{n['fraud']} labelled fraud, {n['genuine']} labelled genuine cases")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
