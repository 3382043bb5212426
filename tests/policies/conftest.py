"""Fixtures of the policy tests: one real server on a database of its own (policy changes must
not leak into other modules' servers), real photos, and rendered documents carrying the holder's
face as their portrait: an ID card (TD1 MRZ), a passport (TD3 MRZ) and a driving licence whose
only machine-readable data is a PDF417 barcode."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from documents.render import (
    ELEMENTS,
    Identity,
    camera,
    licence_back,
    on_table,
    portrait_crop,
    render_td1,
    render_td3,
)
from PIL import Image
from policies.helpers import Call, Photos
from policies.labelled import EXPERIMENT, GENUINE, IMPOSTORS, LabelledSet, run_pairs
from support.databases import scratch_database
from support.env import missing
from support.imagefiles import encode
from support.servers import Server

from kycguard.client import Client
from kycguard.documents.aamva import build_aamva


def _licence(photo: np.ndarray) -> np.ndarray:
    """A licence: the portrait above the card's PDF417 back, as a scanner shows both sides."""
    back = licence_back(build_aamva(ELEMENTS))
    top = np.full((300, back.shape[1], 3), 236, np.uint8)
    top[20:280, 30:240] = np.asarray(Image.fromarray(portrait_crop(photo)).resize((210, 260)))
    return np.vstack([top, back])


@pytest.fixture(scope="session")
def photos(fr_test_images: Path) -> Photos:
    try:
        face = np.asarray(Image.open(fr_test_images / "obama.jpg").convert("RGB"))
        identity = Identity(surname="OBAMA", given_names="BARACK", document_number="D23145890")
        card = render_td1(face, identity)
        passport = render_td3(face, identity)
    except FileNotFoundError as exc:
        missing(str(exc))
    return Photos(
        id_card=encode(camera(on_table(card.image, tilt=0.05, angle_deg=-2))),
        passport=encode(camera(on_table(passport.image, tilt=0.04, angle_deg=1))),
        licence=encode(camera(_licence(face))),
        holder=(fr_test_images / "obama2.jpg").read_bytes(),
        other_person=(fr_test_images / "biden.jpg").read_bytes(),
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with scratch_database("postgres", tmp_path_factory.mktemp("policies_db")) as url:
        srv = Server({"KYCGUARD_DATABASE_URL": url}, tmp_path_factory.mktemp("policies_server"))
        try:
            srv.wait_ready()
            yield srv
        finally:
            srv.stop()


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[Call]:
    """``api(method, path, role="admin", tenant="tests", **httpx kwargs)``: a request with a
    key of that role (an auditor of no tenant sees the deployment-wide policy entries)."""
    client = httpx.Client(base_url=server.base_url, timeout=300)

    def call(
        method: str, path: str, role: str | None = "admin", tenant: str | None = "tests", **kw: Any
    ) -> httpx.Response:
        headers = (server.headers(role, tenant) if role else {}) | kw.pop("headers", {})
        return client.request(method, path, headers=headers, **kw)

    yield call
    client.close()


@pytest.fixture(scope="module")
def verify(api: Call, photos: Photos) -> Callable[..., dict[str, Any]]:
    """``verify(document=..., selfie=..., **form fields)``: a real /verify, its 200 answer."""

    def run(
        document: bytes | None = None, selfie: bytes | None = None, **fields: str
    ) -> dict[str, Any]:
        files = {
            "id_document": ("doc.jpg", document or photos.id_card, "image/jpeg"),
            "selfie": ("selfie.jpg", selfie or photos.holder, "image/jpeg"),
        }
        r = api("POST", "/api/v1/verify", role="integrator", files=files, data=fields)
        assert r.status_code == 200, r.text
        return dict(r.json())

    return run


# -- labelled cases of the tuning and experiment-report tests (tests/policies/labelled.py) ---------


@pytest.fixture(scope="session")
def lfw_root(eval_data: Path) -> Path:
    return eval_data / "faces" / "lfw_devtrain" / "deepfunneled_250"


@pytest.fixture(scope="session")
def tuning_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """A server of its own on a fresh PostgreSQL database (its tuning job at the default 1,000
    decisions, so it never fires on its own here)."""
    with scratch_database("postgres", tmp_path_factory.mktemp("tuning-pg")) as url:
        srv = Server({"KYCGUARD_DATABASE_URL": url}, tmp_path_factory.mktemp("tuning-server"))
        try:
            srv.wait_ready()
            yield srv, url
        finally:
            srv.stop()


@pytest.fixture(scope="session")
def labelled(tuning_server: tuple[Server, str], lfw_root: Path) -> LabelledSet:
    server, url = tuning_server
    tenant = "tuning"
    pairs = [(p, False) for p in GENUINE] + [(p, True) for p in IMPOSTORS]
    with (
        Client(server.base_url, server.key("admin", None)) as admin,
        Client(server.base_url, server.key("integrator", tenant)) as client,
        Client(server.base_url, server.key("reviewer", tenant)) as reviewer,
    ):
        admin.request(
            "POST",
            "/experiments",
            json={
                "name": EXPERIMENT,
                "variants": [
                    {"name": "control", "policy": "default", "weight": 1},
                    {"name": "treatment", "policy": "default", "weight": 1},
                ],
            },
        )
        cases, skipped = run_pairs(client, reviewer, lfw_root, pairs)
    return LabelledSet(server, url, tenant, cases, skipped)
