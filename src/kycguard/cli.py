"""The ``kycguard`` command: serve, verify, bench, db.

Each benchmark lives in ``kycguard.bench.<name>`` and exposes ``add_arguments(parser)`` and
``run(args) -> int``; add its name to ``BENCHES`` to make ``kycguard bench <name>`` exist.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Literal

from kycguard.policies import commands as policy_commands
from kycguard.policies import tuning_commands
from kycguard.security import commands as security_commands

BENCHES: dict[str, str] = {
    "faces": "face verification accuracy and speed vs. the face_recognition-style baseline",
    "mrz": "MRZ reading: exact-MRZ and check-digit rates and time per image, vs. PassportEye",
    "barcode": "PDF417 decoding: byte-exact payloads and time per image",
    "pad": "single-image presentation-attack detection (APCER/BPCER) on labelled images",
    "deepfake": "deepfake, liveness and injection scores of labelled video clips",
    "frames": "video-session frame analysis time per core at 640x480 (median, p95)",
    "reuse": "selfie-reused-from-document test: false alarms on genuine pairs, detection of reuse",
    "cards": "photographed ID cards through /verify: MRZ reads, tampering false alarms, decisions, attacks",
    "load": "N concurrent video sessions plus /verify calls against a running server",
    "audit": "audit-chain appends per second under concurrent writers",
    "known-faces": "known-faces search time at up to 100,000 templates, and index loading",
}


def _serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from kycguard.errors import ConfigError
    from kycguard.scale.executor import native_environment
    from kycguard.scale.guard import check_shared_state
    from kycguard.settings import get_settings

    settings = get_settings()
    try:
        check_shared_state(settings, args.workers)  # refused here, before any worker starts
    except ConfigError as exc:
        print(f"kycguard serve: {exc.message}", file=sys.stderr)
        return 2
    # glibc reads MALLOC_ARENA_MAX and OpenBLAS its thread count when the process starts: set them,
    # then start this command again (once) so the serving process itself has them, as do its workers
    wanted = native_environment(settings.scale.native_threads)
    wanted["KYCGUARD_SCALE__WORKERS"] = str(args.workers)
    if any(os.environ.get(k) != v for k, v in wanted.items()):
        os.environ.update(wanted)
        again = ["serve", "--workers", str(args.workers)]
        again += ["--host", args.host] if args.host else []
        again += ["--port", str(args.port)] if args.port else []
        os.execv(sys.executable, [sys.executable, "-m", "kycguard.cli", *again])
    uvicorn.run(
        "kycguard.api.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        log_level="info",
        log_config=None,  # kycguard.metrics.logging: JSON lines with a request id
        access_log=False,  # replaced by kycguard.access (route templates, no addresses)
        server_header=False,
    )
    return 0


def _verify(args: argparse.Namespace) -> int:
    from kycguard.errors import KycError
    from kycguard.services.runtime import open_runtime

    structured = None
    if args.data:
        structured = json.loads(Path(args.data).read_text())
    with open_runtime() as runtime:
        try:
            result = runtime.verification.verify(
                Path(args.id_image).read_bytes(),
                Path(args.selfie_image).read_bytes(),
                structured,
            )
        except KycError as exc:
            print(json.dumps(exc.to_dict(), indent=2))
            return 2
    print(json.dumps(result, indent=2))
    return 0


def _worker(args: argparse.Namespace) -> int:
    from kycguard.errors import ConfigError
    from kycguard.scale.tasks import run_worker

    try:
        return run_worker(args.concurrency, schedule=not args.no_scheduler)
    except ConfigError as exc:
        print(f"kycguard worker: {exc.message}", file=sys.stderr)
        return 2


def _db_upgrade(args: argparse.Namespace) -> int:
    from kycguard.settings import get_settings
    from kycguard.store.database import upgrade

    upgrade(get_settings().effective_database_url)
    return 0


def _models_import(args: argparse.Namespace) -> int:
    """Convert Silent-Face MiniFASNet .pth weights to one ONNX file (needs the optional torch extra)."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        print(
            "kycguard models import needs torch, which the service itself never installs: "
            "run `make models` (or pip install 'kycguard[models]')",
            file=sys.stderr,
        )
        return 2
    from kycguard.liveness.minifasnet_onnx import convert
    from kycguard.settings import get_settings
    from kycguard.vision.model_files import sha256_of

    out = convert(args.weights, args.out or get_settings().data_dir / "models")
    digest = sha256_of(out)
    print(json.dumps({"path": str(out.resolve()), "sha256": digest}, indent=2))
    print(
        f"set KYCGUARD_LIVENESS__MINIFASNET_PATH={out.resolve()} and KYCGUARD_LIVENESS__MINIFASNET_SHA256={digest}"
    )
    return 0


def _models_train(args: argparse.Namespace) -> int:
    """Train a learned detector (numpy only) from a folder and a labels CSV; writes model + card."""
    from kycguard.bench.train import run_train

    kind: Literal["pad", "deepfake"] = "pad" if args.models_command == "train-pad" else "deepfake"
    root = args.images if kind == "pad" else args.videos
    card = run_train(
        kind,
        root,
        args.labels,
        args.out,
        minifasnet=getattr(args, "minifasnet", None),
        cache=args.cache,
    )
    prefix = "PAD" if kind == "pad" else "DEEPFAKE"
    inner = card["metrics"]["inner_cv"]
    print(
        json.dumps(
            {"path": card["file"], "sha256": card["sha256"], "samples": card["data"]["samples"],
             "inner_cv_auc": inner["inner_cv_auc"], "threshold": inner["threshold"]},
            indent=2,
        )
    )  # fmt: skip
    print(
        f"set KYCGUARD_LIVENESS__{prefix}_MODEL_PATH={Path(card['file']).resolve()} and "
        f"KYCGUARD_LIVENESS__{prefix}_MODEL_SHA256={card['sha256']}"
    )
    return 0


def _models_export_labels(args: argparse.Namespace) -> int:
    """The deployment's labelled selfies and frames, as training data for ``models train-pad``."""
    from kycguard.reviews.export import export_labels
    from kycguard.security.audit import Actor
    from kycguard.security.runtime import open_security
    from kycguard.settings import get_settings

    with open_security(get_settings()) as security:
        report = export_labels(security, args.out, Actor.cli(), args.tenant)
    print(json.dumps({"out": str(args.out.resolve()), **report.to_dict()}, indent=2))
    print(
        f"train with: kycguard models train-pad --images {args.out} --labels {args.out}/labels.csv "
        "--out pad-model.json  (then delete the folder: it holds personal data)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kycguard", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=_serve)

    worker = sub.add_parser(
        "worker", help="consume the task queue (KYCGUARD_SCALE__BROKER_URL) and schedule the jobs"
    )
    worker.add_argument("--concurrency", type=int, default=1, help="jobs run at once")
    worker.add_argument(
        "--no-scheduler", action="store_true", help="only consume; another worker schedules"
    )
    worker.set_defaults(func=_worker)

    verify = sub.add_parser(
        "verify", help="verify an ID image against a selfie; prints the API's JSON"
    )
    verify.add_argument("id_image")
    verify.add_argument("selfie_image")
    verify.add_argument(
        "--data", help="JSON file with structured data (full_name, date_expiration, ...)"
    )
    verify.set_defaults(func=_verify)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply Alembic migrations").set_defaults(func=_db_upgrade)

    models = sub.add_parser("models", help="optional model files")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    imp = models_sub.add_parser(
        "import", help="convert MiniFASNet .pth weights to ONNX (needs torch)"
    )
    imp.add_argument("weights", type=Path, nargs="+", help="<scale>_80x80_MiniFASNet*.pth files")
    imp.add_argument("--out", type=Path, help="output file or folder (default: DATA_DIR/models)")
    imp.set_defaults(func=_models_import)
    for name, what, folder in (
        ("train-pad", "single-image presentation-attack model", "--images"),
        ("train-deepfake", "clip deepfake model", "--videos"),
    ):
        tr = models_sub.add_parser(name, help=f"train the learned {what} (numpy; CPU, minutes)")
        tr.add_argument(
            folder, type=Path, required=True, help="folder the CSV's paths are relative to"
        )
        tr.add_argument(
            "--labels", type=Path, required=True, help="CSV file,label[,attack_type,source,subject]"
        )
        tr.add_argument("--out", type=Path, required=True, help="model file to write (JSON)")
        tr.add_argument("--cache", type=Path, help="feature cache folder (default: a tmp folder)")
        if name == "train-pad":
            tr.add_argument(
                "--minifasnet", type=Path, help="MiniFASNet ONNX: use its output as a feature"
            )
        tr.set_defaults(func=_models_train)
    export = models_sub.add_parser(
        "export-labels",
        help="write the reviewers' labelled selfies and frames + labels.csv for train-pad (audited)",
    )
    export.add_argument("--out", type=Path, required=True, help="folder to write (personal data)")
    export.add_argument("--tenant", help="only this tenant's labelled cases")
    export.set_defaults(func=_models_export_labels)

    security_commands.register(sub)  # keys, audit, retention
    policy_commands.register(sub, security_commands._guard)  # policies list|show|set
    tuning_commands.register(sub)  # tune, experiments report

    bench = sub.add_parser("bench", help="benchmarks writing JSON and a plot")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    for name, help_text in BENCHES.items():
        module = importlib.import_module(f"kycguard.bench.{name.replace('-', '_')}")
        p = bench_sub.add_parser(name, help=help_text)
        module.add_arguments(p)
        p.set_defaults(func=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
