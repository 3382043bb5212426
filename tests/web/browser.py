"""Debian's Chromium driven by Playwright, with a fake camera fed a real clip (never a downloaded
browser), and fake camera files written as Y4M (header, then ``FRAME`` + raw I420 per frame)."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from support.env import missing

CHROMIUM = "/usr/bin/chromium"
BASE_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def write_y4m(path: Path, frames: Iterable[np.ndarray], fps: int = 30) -> Path:
    """BGR frames (all the same even size) as a Y4M file Chromium's fake camera plays in a loop."""
    with path.open("wb") as out:
        header_written = False
        for bgr in frames:
            h, w = bgr.shape[:2]
            if not header_written:
                out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
                header_written = True
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


def clip_frames(video: Path, start: int, stop: int, width: int = 640) -> list[np.ndarray]:
    """Frames ``start``..``stop`` (0-based decode order) scaled to ``width`` (even height)."""
    cap = cv2.VideoCapture(str(video))
    frames = []
    index = 0
    while index <= stop:
        ok, bgr = cap.read()
        if not ok:
            break
        if index >= start:
            h, w = bgr.shape[:2]
            height = int(round(h * width / w / 2) * 2)
            frames.append(cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA))
        index += 1
    cap.release()
    if not frames:
        raise RuntimeError(f"no frames decoded from {video}")
    return frames


def with_sensor_noise(
    frames: list[np.ndarray], sigma: float = 2.0, seed: int = 0
) -> list[np.ndarray]:
    """Fresh sensor noise on every frame, as a real camera delivers: Chromium loops the file, and
    a frame repeated byte for byte is refused by the server as DUPLICATE_FRAME (a replay)."""
    rng = np.random.default_rng(seed)
    return [
        np.clip(f.astype(np.float32) + rng.normal(0, sigma, f.shape), 0, 255).astype(np.uint8)
        for f in frames
    ]


def still_frames(photo_bgr: np.ndarray, count: int = 300) -> list[np.ndarray]:
    """A photo held still in front of a camera (10 s at 30 fps): the same picture with fresh
    sensor noise per frame, fitted into 640x480 (the size the page asks the camera for; Chromium's
    file camera repeats its first frame when the file's size differs)."""
    h, w = photo_bgr.shape[:2]
    scale = min(640 / w, 480 / h)
    fitted = cv2.resize(
        photo_bgr, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA
    )
    base = np.zeros((480, 640, 3), np.uint8)
    y, x = (480 - fitted.shape[0]) // 2, (640 - fitted.shape[1]) // 2
    base[y : y + fitted.shape[0], x : x + fitted.shape[1]] = fitted
    return with_sensor_noise([base] * count)


@contextmanager
def chromium(camera: Path | None, *, allow_camera: bool = True) -> Iterator[Any]:
    """A headless Chromium. ``camera``: a Y4M file as the fake camera; ``allow_camera`` False
    launches without the fake permission UI, so the page's camera request is refused."""
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        missing("Debian chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed (pip install playwright; never `playwright install`)")
    args = list(BASE_ARGS)
    if camera is not None:
        args += [
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera}",
        ]
    if allow_camera:
        args.append("--use-fake-ui-for-media-stream")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            yield browser
        finally:
            browser.close()


PHONE = {"width": 360, "height": 780}


def page_context(browser: Any, **options: Any) -> Any:
    """A phone-sized browser context whose console, page errors and failed requests go to the
    test's output (shown when it fails)."""
    context = browser.new_context(**({"viewport": PHONE, "locale": "en-GB"} | options))
    context.on("console", lambda m: print(f"console.{m.type}: {m.text}"))
    context.on("weberror", lambda e: print(f"page error: {e.error}"))
    context.on("requestfailed", lambda r: print(f"request failed: {r.url} {r.failure}"))
    return context
