"""A small cluster on the local PostgreSQL and Redis: host A (`kycguard serve --workers 2`) and host B
(`kycguard serve`), one database, one Redis. Requests sent alternately to A and B go through
different worker processes for certain; A's two workers share its port as a real deployment does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from security.helpers import redis_or_missing
from support.databases import scratch_database
from support.servers import Server

JOB_INTERVAL_S = 3


@dataclass
class Cluster:
    a: Server  # two uvicorn workers
    b: Server  # one more "host"
    database_url: str
    env: dict[str, str]

    @property
    def tenant(self) -> str:
        return f"scale-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def cluster_env() -> dict[str, str]:
    return {
        "KYCGUARD_REDIS_URL": redis_or_missing(),
        "KYCGUARD_SECURITY__RATE_LIMITS__PER_ADDRESS": "100000",
        "KYCGUARD_SECURITY__PURGE_INTERVAL_S": str(JOB_INTERVAL_S),
        "KYCGUARD_SCALE__IDEMPOTENCY_LOCK_S": "10",  # a killed worker's key is taken over soon
    }


@pytest.fixture(scope="session")
def cluster(
    cluster_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("cluster")
    with scratch_database("postgres", folder) as url:
        env = cluster_env | {"KYCGUARD_DATABASE_URL": url}
        dirs = [folder / "a", folder / "b"]
        for d in dirs:
            d.mkdir(mode=0o700)
        # one data-key set for both hosts, as a secret store would provide it
        env["KYCGUARD_DATA_KEYS"] = "k1:" + __import__("base64").b64encode(b"s" * 32).decode()
        a = Server(env, dirs[0], ["--workers", "2"])
        b = Server(env, dirs[1])
        try:
            a.wait_ready(240)
            b.wait_ready(240)
            yield Cluster(a, b, url, env)
        finally:
            a.stop()
            b.stop()


@pytest.fixture(scope="session")
def clip_frames(eval_data: Path) -> list[bytes]:
    """JPEG frames of a real clip (640 px wide), as a browser would send them."""
    import cv2

    video = eval_data / "faces/face_recognition_examples/video/short_hamilton_clip.mp4"
    cap = cv2.VideoCapture(str(video))
    frames: list[bytes] = []
    while len(frames) < 12:
        ok, image = cap.read()
        if not ok:
            break
        scale = 640 / image.shape[1]
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        frames.append(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    cap.release()
    assert len(frames) == 12, video
    return frames
