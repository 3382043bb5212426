"""``kycguard bench known-faces``: the known-faces search at up to 100,000 templates.

What is timed is what a worker does for each new verification (``reviews.known_faces``): one exact
nearest-neighbour search (one matrix-vector product) over every template of the tenant, at growing
index sizes; and what it does once at start, loading and decrypting every template from the
database (AES-256-GCM, SQLite here) into the in-memory index. Templates are random 128-d vectors
with the norm of dlib's face descriptors: search time depends on the count and the dimension only,
so the figures hold for real faces; false-match rates at scale do not (they need real faces, see
``kycguard bench faces``). Writes ``known_faces.json`` and ``known_faces.png``.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from kycguard.bench.common import pyplot, timing_summary, write_json

DIM = 128
BUDGET_MS = 50.0  # a search should stay a small part of a ~1-8 s verification


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--templates", type=int, default=100_000, help="largest index size")
    parser.add_argument("--queries", type=int, default=200, help="searches timed per size")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--skip-database", action="store_true", help="do not time loading from the database"
    )


def _templates(n: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v * np.float32(0.95)  # dlib descriptors have norms near 1


def _sizes(largest: int) -> list[int]:
    sizes = [s for s in (1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000) if s < largest]
    return [*sizes, largest]


def time_searches(largest: int, queries: int, seed: int = 0) -> list[dict[str, Any]]:
    from tqdm import tqdm

    from kycguard.reviews.known_faces import FaceIndex

    rng = np.random.default_rng(seed)
    vectors = _templates(largest, rng)
    index = FaceIndex()
    rows = []
    filled = 0
    for size in tqdm(_sizes(largest), desc="search", unit="size"):
        for i in range(filled, size):
            index.add("bench", "verification", f"case-{i}", f"user-{i}", vectors[i])
        filled = size
        probe = _templates(queries + 1, rng)
        index.search("bench", probe[0], 0.45)  # builds the matrix: not a per-search cost
        seconds = []
        for q in probe[1:]:
            t0 = time.perf_counter()
            index.search("bench", q, 0.45)
            seconds.append(time.perf_counter() - t0)
        rows.append({"templates": size, "search_ms": timing_summary(seconds)})
    return rows


def time_loading(n: int) -> dict[str, Any]:
    """Write ``n`` encrypted templates to a scratch SQLite database and load them as a worker does."""
    from tqdm import tqdm

    from kycguard.reviews.known_faces import KnownFaces
    from kycguard.reviews.models import KnownFace
    from kycguard.security.crypto import KeyRing, row_aad
    from kycguard.store.database import Database, upgrade

    keyring = KeyRing({"bench": os.urandom(32)}, "bench")
    vectors = _templates(n, np.random.default_rng(1))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        db = Database(url)
        try:
            now = datetime.now(UTC)
            t0 = time.perf_counter()
            for start in tqdm(range(0, n, 5000), desc="write", unit="batch"):
                with db.session() as s:
                    s.add_all(
                        KnownFace(
                            kind="verification",
                            case_id=f"case-{i}",
                            tenant="bench",
                            user_id=f"user-{i}",
                            fraud=False,
                            created_at=now,
                            key_id="bench",
                            template=keyring.encrypt(
                                vectors[i].tobytes(),
                                row_aad("known_faces", "verification", f"case-{i}"),
                            ),
                        )
                        for i in range(start, min(n, start + 5000))
                    )
            written = time.perf_counter() - t0
            known = KnownFaces(db, keyring, 0.45)
            t0 = time.perf_counter()
            known.refresh()
            loaded = time.perf_counter() - t0
            assert len(known.index) == n
            t0 = time.perf_counter()
            known.refresh()  # nothing new: what every later search pays
            incremental = time.perf_counter() - t0
        finally:
            db.close()
    return {
        "templates": n,
        "write_s": round(written, 2),
        "load_and_decrypt_s": round(loaded, 2),
        "refresh_with_nothing_new_ms": round(incremental * 1000, 2),
        "memory_mb": round(n * DIM * 4 / 2**20, 1),
    }


def limits(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Linear fit of median search time on size; where it crosses the budget."""
    x = np.array([r["templates"] for r in rows], float)
    y = np.array([r["search_ms"]["median"] for r in rows], float)
    slope, intercept = np.polyfit(x, y, 1)
    at_budget = (BUDGET_MS - intercept) / slope if slope > 0 else float("inf")
    return {
        "ms_per_100k_templates": round(float(slope * 100_000), 3),
        "budget_ms": BUDGET_MS,
        "templates_at_budget": int(at_budget),
        "memory_mb_at_budget": round(at_budget * DIM * 4 / 2**20, 1),
    }


def run(args: argparse.Namespace) -> int:
    if args.templates < 1000:
        raise SystemExit("--templates must be at least 1000")
    rows = time_searches(args.templates, args.queries)
    report: dict[str, Any] = {
        "method": "exact brute force, one float32 matrix-vector product per tenant (numpy)",
        "dimension": DIM,
        "queries_per_size": args.queries,
        "machine": {
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            # a shared machine: searches are memory-bound, so other load shows in the figures
            "load_average_1m_at_start": round(os.getloadavg()[0], 2),
        },
        "search": rows,
        "scaling": limits(rows),
        "loading": None if args.skip_database else time_loading(args.templates),
        "note": "random templates: timings hold for real faces; match rates do not",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "known_faces.json", report)
    _plot(report, args.out / "known_faces.png")
    largest = rows[-1]
    print(
        f"{largest['templates']} templates: median {largest['search_ms']['median']} ms, "
        f"p95 {largest['search_ms']['p95']} ms per search; "
        f"budget {BUDGET_MS} ms reached at ~{report['scaling']['templates_at_budget']} templates"
    )
    return 0


def _plot(report: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = [r["templates"] for r in report["search"]]
    ax.plot(x, [r["search_ms"]["median"] for r in report["search"]], "o-", label="median")
    ax.plot(x, [r["search_ms"]["p95"] for r in report["search"]], "s--", label="p95")
    ax.axhline(BUDGET_MS, color="r", linestyle=":", label=f"budget {BUDGET_MS} ms")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("templates in the tenant's index")
    ax.set_ylabel("one search (ms)")
    ax.set_title("known-faces search, exact brute force")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
