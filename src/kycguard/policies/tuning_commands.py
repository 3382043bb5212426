"""``kycguard tune`` and ``kycguard experiments report``: the tuning and experiment reports from the
command line, on the deployment's own database (no model is loaded).

``tune`` writes ``tuning.json`` (every threshold's sweep, the recommendation and why) and
``tuning.png`` (FAR/FRR curves with 95 % bands) to ``--out``; ``--apply`` turns the proposal into a
new version of the policy (audited, the CLI user as an admin actor).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from kycguard.security.commands import _guard


@contextmanager
def _services() -> Iterator[tuple[Any, Any, Any]]:
    """(PolicyService, TuningService, MetricsService) on the configured database."""
    from kycguard.metrics.service import MetricsService
    from kycguard.policies.service import PolicyService
    from kycguard.policies.tuning_service import TuningService
    from kycguard.security.runtime import open_security
    from kycguard.settings import get_settings

    settings = get_settings()
    with open_security(settings) as security:
        policies = PolicyService(security.database, security.audit, settings)
        policies.bootstrap()
        tuning = TuningService(security.database, security.audit, settings, policies)
        yield policies, tuning, MetricsService(security.database)


def _bar(desc: str) -> Callable[[Iterable[float]], Iterable[float]]:
    from tqdm import tqdm

    def wrap(values: Iterable[float]) -> Iterable[float]:
        items = list(values)
        return tqdm(items, desc=desc, unit="threshold", file=sys.stderr, leave=False)

    return wrap


def tune_command(args: argparse.Namespace) -> int:
    from kycguard.policies.tuning import plot
    from kycguard.security.audit import Actor

    with _services() as (_, tuning, _m):
        report = tuning.report(
            start=args.start,
            end=args.end,
            policy=args.policy,
            target_far=args.target_far,
            max_frr=args.max_frr,
            tenant=args.tenant,
            progress=_bar("sweeping"),
        )
        if args.apply:
            made = tuning.apply(report, actor=Actor.cli(), comment=args.comment)
            report["applied"] = made.to_dict()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tuning.json").write_text(json.dumps(report, indent=2) + "\n")
    plot(report, args.out / "tuning.png")
    print(json.dumps(summary(report, args.out), indent=2))
    return 0


def summary(report: dict[str, Any], out: Path) -> dict[str, Any]:
    """What a reader needs on the terminal; the sweep itself is in the JSON file."""
    return {
        "out": [str(out / "tuning.json"), str(out / "tuning.png")],
        "policy": report["policy"],
        "labelled": report["labelled"],
        "thresholds": {
            k: {
                "current": t["current"]["value"],
                "recommended": t["recommended"]["value"],
                "far": t["recommended"]["far"],
                "frr": t["recommended"]["frr"],
                "notes": t["recommended"]["notes"],
            }
            for k, t in report["thresholds"].items()
        },
        "proposed": report["proposed"],
        "applied": {k: report["applied"][k] for k in ("name", "version")}
        if "applied" in report
        else None,
    }


def experiment_report_command(args: argparse.Namespace) -> int:
    from kycguard.policies.report import experiment_report
    from kycguard.policies.tuning_routes import experiment_window

    with _services() as (_, _t, metrics):
        w = experiment_window(metrics.db, args.name)
        report = experiment_report(
            metrics,
            args.name,
            w.variants,
            args.start or w.start,
            args.end or w.end,
            tenant=args.tenant,
            min_cases=args.min_cases,
        )
    print(json.dumps(report, indent=2) if args.json else as_text(report))
    return 0


def as_text(report: dict[str, Any]) -> str:
    def pct(r: dict[str, Any]) -> str:
        return "-" if r["rate"] is None else f"{100 * r['rate']:.1f} % of {r['total']}"

    lines = [f"experiment {report['experiment']}: {report['cases']} cases, "
             f"{report['from']} .. {report['to']}"]  # fmt: skip
    for name, f in report["variants"].items():
        lines.append(
            f"  {name}: {f['cases']} cases, approved {pct(f['approval_rate'])}, review "
            f"{pct(f['review_rate'])}, avg confidence {f['average_confidence']}, fraud caught "
            f"{pct(f['fraud_caught'])}"
        )
    for metric, t in report["tests"].items():
        lines.append(f"  {metric}: {t['verdict']} ({t['test']}): {t['message']}")
    return "\n".join(lines)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def register(sub: Any) -> None:
    """Add ``tune`` and ``experiments report`` to the top-level subparsers."""
    tune = sub.add_parser(
        "tune", help="FAR/FRR of each threshold on labelled cases; recommend, plot, --apply"
    )
    tune.add_argument("--target-far", type=float, help="default: policies.tuning.target_far")
    tune.add_argument("--max-frr", type=float, help="default: policies.tuning.max_frr")
    tune.add_argument("--from", dest="start", type=_when, help="ISO 8601 (default: window_days)")
    tune.add_argument("--to", dest="end", type=_when, help="ISO 8601, exclusive (default: now)")
    tune.add_argument("--policy", help="policy to tune (default: policies.default_policy)")
    tune.add_argument("--tenant", help="only this tenant's labelled cases")
    tune.add_argument("--out", type=Path, required=True, help="folder for tuning.json, tuning.png")
    tune.add_argument(
        "--apply", action="store_true", help="create a new policy version with the proposal"
    )
    tune.add_argument("--comment", default="kycguard tune --apply", help="the version's comment")
    tune.set_defaults(func=_guard(tune_command))

    experiments = sub.add_parser("experiments", help="A/B experiments")
    ex = experiments.add_subparsers(dest="experiments_command", required=True)
    rep = ex.add_parser("report", help="compare an experiment's variants, with significance tests")
    rep.add_argument("name")
    rep.add_argument("--from", dest="start", type=_when)
    rep.add_argument("--to", dest="end", type=_when)
    rep.add_argument("--tenant")
    rep.add_argument("--min-cases", type=int, default=30, help="fewer per variant: too small")
    rep.add_argument("--json", action="store_true")
    rep.set_defaults(func=_guard(experiment_report_command))
