"""Labelled cases for the tuning and experiment-report tests, made the way a deployment makes them.

Real LFW pairs (``faces/lfw_devtrain/deepfunneled_250``) go through ``/verify`` of a real server on
PostgreSQL: an ID card rendered with photo 1 as its portrait (valid TD1 MRZ, photographed on a
table) and photo 2 as the selfie. A reviewer then labels each case through the feedback route:
genuine for a same-person pair, fraud for a different-person pair (an impostor presenting someone
else's card). The impostors are the six hardest of LFW DevTrain for our pipeline (lowest distance
in ``docs/bench/faces_lfw_deepfunneled_250.json``, 0.49-0.57): the pairs a threshold is about. The
genuine pairs are spread over the genuine distance range. Every case is decided under an A/A
experiment (``EXPERIMENT``), which the experiment-report tests read. 14 calls at 1-4 s each (8-10 s on a loaded 2-core machine): built once per
test session and shared by every module here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from documents.render import Identity, camera, on_table, render_td1
from PIL import Image
from support.imagefiles import encode
from support.servers import Server

from kycguard.client import Client, KycguardError

GENUINE = [
    ("Grant_Hackett/Grant_Hackett_0002.jpg", "Grant_Hackett/Grant_Hackett_0003.jpg"),
    ("Monica_Seles/Monica_Seles_0004.jpg", "Monica_Seles/Monica_Seles_0006.jpg"),
    ("Lennox_Lewis/Lennox_Lewis_0002.jpg", "Lennox_Lewis/Lennox_Lewis_0003.jpg"),
    ("Yasar_Yakis/Yasar_Yakis_0001.jpg", "Yasar_Yakis/Yasar_Yakis_0003.jpg"),
    (
        "Alexandra_Stevenson/Alexandra_Stevenson_0001.jpg",
        "Alexandra_Stevenson/Alexandra_Stevenson_0003.jpg",
    ),
    ("Valdas_Adamkus/Valdas_Adamkus_0001.jpg", "Valdas_Adamkus/Valdas_Adamkus_0002.jpg"),
    ("Carla_Myers/Carla_Myers_0001.jpg", "Carla_Myers/Carla_Myers_0002.jpg"),
    ("Costas_Simitis/Costas_Simitis_0002.jpg", "Costas_Simitis/Costas_Simitis_0004.jpg"),
]
IMPOSTORS = [
    ("Li_Zhaoxing/Li_Zhaoxing_0007.jpg", "Yang_Jianli/Yang_Jianli_0001.jpg"),
    ("Alberto_Gonzales/Alberto_Gonzales_0001.jpg", "Li_Changchun/Li_Changchun_0001.jpg"),
    ("Bernardo_Segura/Bernardo_Segura_0002.jpg", "Ray_Romano/Ray_Romano_0009.jpg"),
    ("Hatsui_Hasuike/Hatsui_Hasuike_0001.jpg", "Kim_Dae-jung/Kim_Dae-jung_0004.jpg"),
    ("Dan_LaCoutre/Dan_LaCoutre_0001.jpg", "Michael_Jasny/Michael_Jasny_0001.jpg"),
    ("Qian_Qichen/Qian_Qichen_0001.jpg", "Sok_An/Sok_An_0001.jpg"),
]


EXPERIMENT = "tuning-aa"  # an A/A experiment: both variants decide with the default policy


@dataclass(frozen=True)
class Labelled:
    id: str
    pair: tuple[str, str]
    user_id: str
    was_fraud: bool
    answer: dict[str, Any]


@dataclass(frozen=True)
class LabelledSet:
    server: Server
    database_url: str
    tenant: str
    cases: list[Labelled]
    skipped: list[tuple[tuple[str, str], str]]  # pairs /verify refused (no face found, ...)


def card_for(root: Path, portrait: str, seed: int) -> bytes:
    face = np.asarray(Image.open(root / portrait).convert("RGB"))
    card = render_td1(face, Identity(document_number=f"T{40000000 + seed}"), seed=seed)
    return encode(camera(on_table(card.image, tilt=0.05, angle_deg=-2, seed=seed), seed=seed))


def run_pairs(
    client: Client,
    reviewer: Client,
    root: Path,
    pairs: list[tuple[tuple[str, str], bool]],
    *,
    seed0: int = 0,
    label: bool = True,
    user_ids: list[str] | None = None,
) -> tuple[list[Labelled], list[tuple[tuple[str, str], str]]]:
    """Each pair through ``/verify`` (and labelled through feedback when ``label``)."""
    done: list[Labelled] = []
    skipped: list[tuple[tuple[str, str], str]] = []
    for i, ((portrait, selfie), was_fraud) in enumerate(pairs):
        user = user_ids[i] if user_ids else f"tune-{uuid.uuid4().hex[:10]}"
        try:
            v = client.verify(
                card_for(root, portrait, seed0 + i), (root / selfie).read_bytes(), user_id=user
            )
        except KycguardError as exc:
            skipped.append(((portrait, selfie), str(exc)))
            continue
        if label:
            reviewer.verifications.feedback(v.id, was_fraud=was_fraud, notes="tuning test")
        done.append(Labelled(v.id, (portrait, selfie), user, was_fraud, v.raw))
    return done, skipped
