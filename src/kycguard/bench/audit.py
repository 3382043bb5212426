"""``kycguard bench audit``: appends per second to the hash-chained audit log under concurrent writers.

Every decision appends one entry, and an append locks the single ``audit_head`` row until its
transaction commits, so concurrent writers queue there. This measures how many appends per second
that queue allows with 1..N writer threads (``--hold-ms`` keeps each transaction open longer, as the
rest of a case's writes do), on SQLite or PostgreSQL, then checks that the chain still verifies.
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path
from typing import Any

from kycguard.bench.common import pyplot, write_json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--database-url", required=True, help="a scratch database (it gets entries)")
    p.add_argument("--writers", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--seconds", type=float, default=5.0, help="per writer count")
    p.add_argument("--hold-ms", type=float, default=0.0, help="extra time inside each transaction")
    p.add_argument("--label", default="audit")
    p.add_argument("--out", type=Path, default=Path("bench-results/audit"))


def measure(url: str, writers: int, seconds: float, hold_ms: float) -> dict[str, Any]:
    from kycguard.security.audit import SYSTEM, AuditLog
    from kycguard.store.database import Database

    db = Database(url)
    audit = AuditLog(db)
    counts = [0] * writers
    stop = time.monotonic() + seconds

    def write(i: int) -> None:
        while time.monotonic() < stop:
            with db.session() as session:
                audit.append(session, SYSTEM, "bench.append", details={"writer": i})
                if hold_ms:
                    time.sleep(hold_ms / 1000)
            counts[i] += 1

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    db.close()
    return {
        "writers": writers,
        "appends": sum(counts),
        "appends_per_s": round(sum(counts) / elapsed, 1),
    }


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from kycguard.security.audit import AuditLog
    from kycguard.store.database import Database, upgrade

    upgrade(args.database_url)
    rows = [
        measure(args.database_url, n, args.seconds, args.hold_ms)
        for n in tqdm(args.writers, desc="audit writers")
    ]
    db = Database(args.database_url)
    try:
        report_ok = AuditLog(db).verify().ok
    finally:
        db.close()
    dialect = args.database_url.split(":", 1)[0]
    report = {
        "database": dialect,
        "hold_ms": args.hold_ms,
        "runs": rows,
        "chain_verifies": report_ok,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / f"{args.label}.json", report)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([r["writers"] for r in rows], [r["appends_per_s"] for r in rows], marker="o")
    ax.set_xlabel("concurrent writers")
    ax.set_ylabel("audit appends / s")
    ax.set_title(f"audit chain throughput ({dialect}, hold {args.hold_ms} ms)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out / f"{args.label}.png", dpi=110)
    plt.close(fig)
    import json

    print(json.dumps(report, indent=2))
    return 0 if report_ok else 1
