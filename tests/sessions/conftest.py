"""Fixtures of the session tests: models loaded once, each real clip decoded and analysed once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sessions.helpers import CLIPS, Clip, decode
from support.databases import scratch_database

from kycguard.services.runtime import Vision, build_vision
from kycguard.sessions.analysis import FrameAnalysis, analyse_image
from kycguard.settings import Settings


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh database per test module, on SQLite and on PostgreSQL. The session servers of a
    module share their data keys; a database shared with servers holding other keys (the suite's
    ``server``) would hold ciphertexts they cannot read (e.g. face templates the known-face search
    decrypts), which no real deployment has."""
    with scratch_database(str(request.param), tmp_path_factory.mktemp("sessions_db")) as url:
        yield url


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def vision(settings: Settings) -> Iterator[Vision]:
    v = build_vision(settings)
    yield v
    v.close()


@pytest.fixture(scope="session")
def clip(eval_data: Path) -> Callable[[str], Clip]:
    """``clip(name)``: a real clip of ../shared/data decoded with OpenCV (once per test session)."""
    cache: dict[str, Clip] = {}

    def get(name: str) -> Clip:
        if name not in cache:
            cache[name] = decode(eval_data / CLIPS[name], name)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def analysed(
    clip: Callable[[str], Clip], vision: Vision, settings: Settings
) -> Callable[[str], list[FrameAnalysis]]:
    """``analysed(name)``: every frame of a clip through the sessions' frame analysis (once)."""
    cache: dict[str, list[FrameAnalysis]] = {}

    def get(name: str) -> list[FrameAnalysis]:
        if name not in cache:
            cache[name] = [analyse_image(f, vision.detector, settings) for f in clip(name).frames]
        return cache[name]

    return get
