"""Types shared by the policy tests and their fixtures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Photos:
    id_card: bytes
    passport: bytes
    licence: bytes
    holder: bytes
    other_person: bytes


Call = Callable[..., httpx.Response]
