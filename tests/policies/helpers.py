"""Types and helpers shared by the policy tests and their fixtures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Photos:
    id_card: bytes
    passport: bytes
    licence: bytes
    holder: bytes
    other_person: bytes


Call = Callable[..., httpx.Response]


def audit_entries(api: Call, action: str) -> list[dict[str, Any]]:
    """The audit log's entries of ``action`` (every tenant), as an auditor reads them."""
    answer = api(
        "GET",
        "/api/v1/audit",
        role="auditor",
        tenant=None,
        params={"action": action, "limit": 1000},
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["entries"])
