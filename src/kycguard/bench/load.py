"""``kycguard bench load``: N concurrent video sessions plus a stream of ``/verify`` calls against a
running server; throughput, p50/p95/p99 latency per endpoint, errors by code, peak RSS per worker.

Every session sends real JPEG frames of a real clip at ``--fps`` (640 px wide, as the capture page
sends them), with increasing sequence numbers and capture times; a session that reaches its frame
limit is completed and replaced, so the load stays at N sessions. ``--verify-concurrency`` clients
post ``/verify`` back to back (an ID image and a selfie; by default two frames of the clip, or
``--id-image`` / ``--selfie``). The server's worker processes (found from the port, or ``--pid``) are
sampled once a second for RSS. The server must allow the load: raise its per-address and per-key
rate limits (``KYCGUARD_SECURITY__RATE_LIMITS__PER_ADDRESS`` / ``__PER_KEY``) for a benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from kycguard.bench.common import pyplot, write_json

DEFAULT_CLIP = "../shared/data/faces/face_recognition_examples/video/short_hamilton_clip.mp4"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", required=True, help="base URL of a running server")
    p.add_argument(
        "--key",
        default=os.environ.get("KYCGUARD_API_KEY"),
        help="integrator API key (env KYCGUARD_API_KEY)",
    )
    p.add_argument("--sessions", type=int, default=10, help="concurrent video sessions")
    p.add_argument("--fps", type=float, default=1.0, help="frames per second per session")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    p.add_argument("--verify-concurrency", type=int, default=1, help="/verify clients (0: none)")
    p.add_argument("--video", type=Path, default=Path(DEFAULT_CLIP))
    p.add_argument("--id-image", type=Path, help="ID document image for /verify")
    p.add_argument("--selfie", type=Path, help="selfie for /verify")
    p.add_argument("--pid", type=int, action="append", help="server process to sample (repeat)")
    p.add_argument("--label", default="load", help="name of the run (file names)")
    p.add_argument("--out", type=Path, default=Path("bench-results/load"))


@dataclass
class Sample:
    t: float  # seconds since the start
    endpoint: str
    latency_ms: float
    status: int
    code: str | None


@dataclass
class Recorder:
    start: float = field(default_factory=time.monotonic)
    samples: list[Sample] = field(default_factory=list)
    rss: dict[int, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, endpoint: str, began: float, status: int, code: str | None) -> None:
        now = time.monotonic()
        self.samples.append(
            Sample(began - self.start, endpoint, (now - began) * 1000, status, code)
        )


def clip_frames(video: Path, count: int = 60) -> list[bytes]:
    import cv2

    cap = cv2.VideoCapture(str(video))
    frames: list[bytes] = []
    while len(frames) < count:
        ok, image = cap.read()
        if not ok:
            break
        scale = 640 / image.shape[1]
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        frames.append(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    cap.release()
    if not frames:
        raise SystemExit(f"no frames could be read from {video}")
    return frames


def unique_jpeg(jpeg: bytes, tag: str) -> bytes:
    """The same pixels with a JPEG comment naming (session, frame): a camera never sends the same
    bytes twice, and the server refuses a frame it has seen before in any session (injection)."""
    text = tag.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text + jpeg[2:]


def server_pids(url: str, given: list[int] | None) -> list[int]:
    """The serving processes: uvicorn's worker children of the process listening on the URL's port
    (the socket is shared, so the listener found may be a worker: its parent is the server)."""
    import psutil

    def is_worker(p: psutil.Process) -> bool:
        return "spawn_main" in " ".join(p.cmdline())

    roots = [psutil.Process(pid) for pid in given or []]
    if not roots:
        port = urlsplit(url).port or 80
        for conn in psutil.net_connections(kind="tcp"):
            listening = conn.status == psutil.CONN_LISTEN and conn.laddr
            if listening and conn.laddr.port == port and conn.pid:
                roots.append(psutil.Process(conn.pid))
    pids: set[int] = set()
    for proc in roots:
        parent = proc.parent()
        if is_worker(proc) and parent is not None:
            proc = parent
        workers = [c.pid for c in proc.children() if is_worker(c)]
        pids |= set(workers) or {proc.pid}
    return sorted(pids)


def _code(response: Any) -> str | None:
    if response.status_code < 400:
        return None
    try:
        return str(response.json()["error"]["code"])
    except Exception:
        return f"HTTP_{response.status_code}"


async def _timed(rec: Recorder, endpoint: str, call: Any) -> Any:
    import httpx

    began = time.monotonic()
    try:
        response = await call
    except httpx.HTTPError as exc:
        rec.add(endpoint, began, 0, type(exc).__name__)
        return None
    rec.add(endpoint, began, response.status_code, _code(response))
    return response


async def _session_loop(
    client: Any,
    rec: Recorder,
    key: str,
    frames: list[bytes],
    fps: float,
    stop: float,
    offset: float,
) -> None:
    await asyncio.sleep(offset)
    auth = {"Authorization": f"Bearer {key}"}
    while time.monotonic() < stop:
        # one user per session: sessions per user and hour are capped
        r = await _timed(
            rec,
            "POST /sessions",
            client.post(
                "/api/v1/sessions", json={"user_id": f"load-{uuid.uuid4().hex[:12]}"}, headers=auth
            ),
        )
        if r is None or r.status_code != 200:
            await asyncio.sleep(1.0)
            continue
        session = r.json()
        sid, token = session["session_id"], {"X-Session-Token": session["session_token"]}
        began = time.monotonic()
        seq = 0
        while time.monotonic() < stop:
            due = began + seq / fps
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            jpeg = unique_jpeg(frames[seq % len(frames)], f"{sid}:{seq}")
            files = {"frame": ("f.jpg", jpeg, "image/jpeg")}
            data = {"sequence": str(seq), "timestamp": str((time.monotonic() - began) * 1000)}
            r = await _timed(
                rec,
                "POST /sessions/{id}/frames",
                client.post(
                    f"/api/v1/sessions/{sid}/frames", files=files, data=data, headers=token
                ),
            )
            seq += 1
            if (
                r is not None
                and r.status_code in (409, 410)
                and _code(r) in ("FRAME_LIMIT_REACHED", "SESSION_EXPIRED", "SESSION_COMPLETED")
            ):
                break
        await _timed(
            rec,
            "POST /sessions/{id}/complete",
            client.post(f"/api/v1/sessions/{sid}/complete", headers=token),
        )


async def _verify_loop(
    client: Any, rec: Recorder, key: str, id_image: bytes, selfie: bytes, stop: float
) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    while time.monotonic() < stop:
        files = {
            "id_document": ("id.jpg", id_image, "image/jpeg"),
            "selfie": ("s.jpg", selfie, "image/jpeg"),
        }
        r = await _timed(
            rec, "POST /verify", client.post("/api/v1/verify", files=files, headers=auth)
        )
        if r is None:
            await asyncio.sleep(0.5)


async def _health_loop(client: Any, rec: Recorder, stop: float) -> None:
    """One /health a second: what an orchestrator's probe sees while the models are busy."""
    while time.monotonic() < stop:
        await _timed(rec, "GET /health", client.get("/health"))
        await asyncio.sleep(1.0)


async def _sample_rss(rec: Recorder, pids: list[int], stop: float, bar: Any) -> None:
    import psutil

    procs = {pid: psutil.Process(pid) for pid in pids}
    while time.monotonic() < stop:
        t = time.monotonic() - rec.start
        for pid, proc in procs.items():
            with contextlib.suppress(psutil.Error):
                rec.rss[pid].append((t, proc.memory_info().rss / 2**20))
        bar.n = min(bar.total, round(t))
        bar.refresh()
        await asyncio.sleep(1.0)


async def drive(args: argparse.Namespace, rec: Recorder, pids: list[int]) -> None:
    import httpx
    from tqdm import tqdm

    frames = clip_frames(args.video)
    id_image = args.id_image.read_bytes() if args.id_image else frames[0]
    selfie = args.selfie.read_bytes() if args.selfie else frames[len(frames) // 2]
    limits = httpx.Limits(max_connections=args.sessions + args.verify_concurrency + 8)
    timeout = httpx.Timeout(120.0)
    stop = rec.start + args.duration
    with tqdm(total=round(args.duration), desc=f"load {args.label}", unit="s") as bar:
        async with httpx.AsyncClient(base_url=args.url, limits=limits, timeout=timeout) as client:
            tasks = [
                _session_loop(
                    client,
                    rec,
                    args.key,
                    frames,
                    args.fps,
                    stop,
                    i / max(1, args.sessions) / args.fps,
                )
                for i in range(args.sessions)
            ]
            tasks += [
                _verify_loop(client, rec, args.key, id_image, selfie, stop)
                for _ in range(args.verify_concurrency)
            ]
            tasks += [_health_loop(client, rec, stop), _sample_rss(rec, pids, stop, bar)]
            await asyncio.gather(*tasks)


def summarise(rec: Recorder, duration: float) -> dict[str, Any]:
    by_endpoint: dict[str, list[Sample]] = defaultdict(list)
    for s in rec.samples:
        by_endpoint[s.endpoint].append(s)
    endpoints = {}
    for name, samples in sorted(by_endpoint.items()):
        ok = np.array([s.latency_ms for s in samples if s.code is None])
        errors: dict[str, int] = defaultdict(int)
        for s in samples:
            if s.code is not None:
                errors[s.code] += 1
        endpoints[name] = {
            "requests": len(samples),
            "ok": int(ok.size),
            "throughput_per_s": round(ok.size / duration, 3),
            "latency_ms": {
                q: round(float(np.percentile(ok, p)), 1) if ok.size else None
                for q, p in (("p50", 50), ("p95", 95), ("p99", 99))
            },
            "errors_by_code": dict(errors),
        }
    peak = {
        str(pid): round(max(v for _, v in series), 1) for pid, series in rec.rss.items() if series
    }
    return {"endpoints": endpoints, "peak_rss_mb_per_worker": peak}


def plot(rec: Recorder, path: Path, title: str) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(3, 1, figsize=(9, 9), sharex=True)
    names = sorted({s.endpoint for s in rec.samples})
    end = max((s.t for s in rec.samples), default=1.0)
    edges = np.arange(0, end + 5, 5)
    for name in names:
        ts = np.array([s.t for s in rec.samples if s.endpoint == name and s.code is None])
        lat = np.array([s.latency_ms for s in rec.samples if s.endpoint == name and s.code is None])
        if ts.size == 0:
            continue
        counts, _ = np.histogram(ts, edges)
        axes[0].plot(edges[:-1], counts / 5, label=name)
        p95 = [
            np.percentile(lat[(ts >= a) & (ts < b)], 95) if ((ts >= a) & (ts < b)).any() else np.nan
            for a, b in itertools.pairwise(edges)
        ]
        axes[1].plot(edges[:-1], p95, label=name)
    for pid, series in rec.rss.items():
        axes[2].plot([t for t, _ in series], [v for _, v in series], label=f"pid {pid}")
    axes[0].set_ylabel("ok requests / s")
    axes[1].set_ylabel("p95 latency (ms, 5 s bins)")
    axes[1].set_yscale("log")
    axes[2].set_ylabel("RSS (MiB)")
    axes[2].set_xlabel("seconds")
    for ax in axes:
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    if not args.key:
        raise SystemExit("an integrator API key is needed: --key or KYCGUARD_API_KEY")
    pids = server_pids(args.url, args.pid)
    rec = Recorder()
    load_before = os.getloadavg()
    asyncio.run(drive(args, rec, pids))
    elapsed = time.monotonic() - rec.start
    report = {
        "label": args.label,
        "url": args.url,
        "sessions": args.sessions,
        "fps": args.fps,
        "duration_s": round(elapsed, 1),
        "verify_concurrency": args.verify_concurrency,
        "video": str(args.video),
        "machine": {
            "cores": os.cpu_count(),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
        },
        "worker_pids": pids,
        **summarise(rec, elapsed),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / f"{args.label}.json", report)
    plot(rec, args.out / f"{args.label}.png", f"kycguard bench load: {args.label}")
    import json

    print(json.dumps({k: report[k] for k in ("endpoints", "peak_rss_mb_per_worker")}, indent=2))
    return 0
