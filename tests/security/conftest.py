"""Fixtures of the security tests: a hardened server per deployment shape, keys of every role.

Two servers, the two ways kycguard is run: SQLite with in-memory counters (one machine, `make run`)
and PostgreSQL with Redis counters (scale-out). Each gets its own scratch database, so counts of
blobs and audit entries are this suite's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from documents.render import Identity, camera, on_table, render_td1
from PIL import Image
from security.helpers import CORS_ORIGIN, Deployment, redis_or_missing, scratch_database
from support.env import missing
from support.imagefiles import encode
from support.servers import Server


@pytest.fixture(scope="session", params=["sqlite+memory", "postgres+redis"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    kind = str(request.param)
    folder = tmp_path_factory.mktemp(kind.replace("+", "_"))
    env = {
        "KYCGUARD_SECURITY__CORS_ALLOW_ORIGINS": CORS_ORIGIN,
        "KYCGUARD_SECURITY__RATE_LIMITS__PER_KEY": "100000",
        "KYCGUARD_SECURITY__RATE_LIMITS__PER_ADDRESS": "100000",
        "KYCGUARD_SECURITY__PURGE_INTERVAL_S": "0",
    }
    if kind == "postgres+redis":
        env["KYCGUARD_REDIS_URL"] = redis_or_missing()
    with scratch_database(kind.split("+")[0], folder) as url:
        (folder / "data").mkdir(mode=0o700)
        server = Server(env | {"KYCGUARD_DATABASE_URL": url}, folder / "data")
        try:
            server.wait_ready()
            yield Deployment(kind, server, url)
        finally:
            server.stop()


@pytest.fixture(scope="session")
def photos(fr_test_images: Path) -> dict[str, bytes]:
    """Real photos: an ID card rendered around one person's photo, a selfie of that person, another
    person's photo."""
    try:
        card = render_td1(
            np.asarray(Image.open(fr_test_images / "obama.jpg").convert("RGB")),
            Identity(surname="OBAMA", given_names="BARACK", document_number="D23145890"),
        )
    except FileNotFoundError as exc:
        missing(str(exc))
    read = {n: (fr_test_images / f"{n}.jpg").read_bytes() for n in ("obama2", "biden")}
    return read | {"card": encode(camera(on_table(card.image, tilt=0.05, angle_deg=-2)))}
