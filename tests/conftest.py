"""Shared fixtures: where real inputs come from, and the rule for absent services.

A test that needs ../shared/data, PostgreSQL, Redis or Chromium skips with the reason when the thing is
absent on a developer's laptop, but fails when ``KYCGUARD_REQUIRE_SERVICES=1`` (CI) or, for the data,
when ``KYCGUARD_EVAL_DATA`` names a folder that is missing: a broken path never passes silently.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from support.databases import scratch_database
from support.env import missing
from support.servers import Server

from kycguard.store.database import Database, upgrade

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EVAL_DATA = ROOT.parent / "shared" / "data"
SDIST_DIR = ROOT / ".cache" / "sdists"


@pytest.fixture(scope="session")
def eval_data() -> Path:
    """Root of the shared third-party evaluation data (../shared/data)."""
    named = os.environ.get("KYCGUARD_EVAL_DATA")
    root = Path(named).resolve() if named else DEFAULT_EVAL_DATA
    if not (root / "README.md").is_file():
        if named:
            pytest.fail(f"KYCGUARD_EVAL_DATA={named} does not hold the evaluation data")
        pytest.skip(f"evaluation data not found at {root} (set KYCGUARD_EVAL_DATA)")
    return root


@pytest.fixture(scope="session")
def fr_test_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real photos in the face_recognition 1.3.0 sdist (downloaded by `make install`)."""
    sdists = sorted(SDIST_DIR.glob("face_recognition-*.tar.gz"))
    if not sdists:
        missing(f"face_recognition sdist not in {SDIST_DIR}; run `make install`")
    out = tmp_path_factory.mktemp("fr_images")
    with tarfile.open(sdists[0]) as tar:
        for member in tar.getmembers():
            if "/tests/test_images/" in member.name and member.isfile():
                member.name = Path(member.name).name
                tar.extract(member, out, filter="data")
    return out


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """skimage.data.astronaut(): a real RGB portrait (Eileen Collins), 512x512."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    yield monkeypatch


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh database migrated to the newest schema, per test, once on SQLite and once on
    PostgreSQL (the service layers' tests without a server)."""
    with scratch_database(str(request.param), tmp_path) as url:
        upgrade(url)
        database = Database(url)
        try:
            yield database
        finally:
            database.close()


# -- real servers ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the local server, dropped afterwards."""
    with scratch_database("postgres", tmp_path_factory.mktemp("pg")) as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Every test using this runs once on the embedded SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'kycguard.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server({"KYCGUARD_DATABASE_URL": database_url}, tmp_path_factory.mktemp("server"))
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()
