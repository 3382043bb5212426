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

from kycguard.security import commands as security_commands

BENCHES: dict[str, str] = {
    "faces": "face verification accuracy and speed vs. the face_recognition-style baseline",
    "mrz": "MRZ reading: exact-MRZ and check-digit rates and time per image, vs. PassportEye",
    "barcode": "PDF417 decoding: byte-exact payloads and time per image",
    "pad": "single-image presentation-attack detection (APCER/BPCER) on labelled images",
    "deepfake": "deepfake, liveness and injection scores of labelled video clips",
    "frames": "video-session frame analysis time per core at 640x480 (median, p95)",
    "known-faces": "known-faces search time at up to 100,000 templates, and index loading",
}


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from kycguard.settings import get_settings

    settings = get_settings()
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


def _db_upgrade(args: argparse.Namespace) -> int:
    from kycguard.settings import get_settings
    from kycguard.store.database import upgrade

    upgrade(get_settings().effective_database_url)
    return 0


def _models_import(args: argparse.Namespace) -> int:
    """Convert Silent-Face MiniFASNet .pth weights to one ONNX file (needs the optional torch extra)."""
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kycguard", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=_serve)

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

    security_commands.register(sub)  # keys, audit, retention

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
