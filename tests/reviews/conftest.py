"""Fixtures of the review tests: real photos, a rendered ID card, clients of every role.

Cases come from real ``/verify`` calls on the real server: the holder's selfie (approved), the same
selfie slightly blurred (Gaussian radius 1.5: passive liveness becomes uncertain -> manual_review)
and another person (rejected, face mismatch).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from documents.render import Identity, camera, on_table, render_td1
from PIL import Image, ImageFilter
from support.env import missing
from support.imagefiles import encode
from support.servers import Server

from kycguard.client import Client


@dataclass(frozen=True)
class Photos:
    card: bytes
    holder: bytes
    blurred: bytes
    other_person: bytes


@pytest.fixture(scope="session")
def review_photos(fr_test_images: Path) -> Photos:
    try:
        card = render_td1(
            np.asarray(Image.open(fr_test_images / "obama.jpg").convert("RGB")),
            Identity(surname="OBAMA", given_names="BARACK", document_number="D23145890"),
        )
    except FileNotFoundError as exc:
        missing(str(exc))
    holder = (fr_test_images / "obama2.jpg").read_bytes()
    buf = io.BytesIO()
    Image.open(io.BytesIO(holder)).filter(ImageFilter.GaussianBlur(1.5)).save(buf, "JPEG")
    return Photos(
        card=encode(camera(on_table(card.image, tilt=0.05, angle_deg=-2))),
        holder=holder,
        blurred=buf.getvalue(),
        other_person=(fr_test_images / "biden.jpg").read_bytes(),
    )


@pytest.fixture
def clients(server: Server) -> Iterator[Callable[..., Client]]:
    """``clients(role, tenant)``: a kycguard.client.Client with a key of that role."""
    made: list[Client] = []

    def make(role: str = "integrator", tenant: str | None = "tests") -> Client:
        c = Client(server.base_url, server.key(role, tenant))
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"
