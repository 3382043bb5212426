"""Helpers of the security tests: scratch databases, byte scanning, error-shape assertions."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import MetaData, create_engine, select
from support.databases import scratch_database  # noqa: F401  (re-exported for the security tests)
from support.env import missing
from support.servers import Server

REDIS_URL = os.environ.get("KYCGUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_or_missing(url: str = REDIS_URL) -> str:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        missing(f"Redis not reachable at {url}: {type(exc).__name__}")
    finally:
        client.close()
    return url


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The one error shape, with the expected status (and code)."""
    assert response.status_code == status, f"{response.status_code} {response.text[:500]}"
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) <= {"code", "message", "field", "details"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def database_values(url: str) -> Iterator[tuple[str, str, bytes]]:
    """Every value of every column of every table, as bytes: (table, column, value)."""
    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            for table in meta.sorted_tables:
                for row in conn.execute(select(table)):
                    for column, value in zip(table.columns, row, strict=True):
                        if value is None:
                            continue
                        if isinstance(value, bytes | bytearray | memoryview):
                            data = bytes(value)
                        elif isinstance(value, dict | list):
                            data = json.dumps(value).encode()
                        else:
                            data = str(value).encode()
                        yield table.name, column.name, data
    finally:
        engine.dispose()


def files_under(root: Path) -> Iterator[tuple[Path, bytes]]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield path, path.read_bytes()


def find_needles(haystack: bytes, needles: dict[str, bytes]) -> list[str]:
    return [name for name, needle in needles.items() if needle in haystack]


CORS_ORIGIN = "https://app.example.test"


@dataclass
class Deployment:
    """A running server, its database URL and the keys the tests use."""

    kind: str  # "sqlite+memory" | "postgres+redis"
    server: Server
    database_url: str
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _keys: dict[tuple[str, str | None], dict[str, Any]] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    @property
    def tenant_a(self) -> str:
        return f"tenant-a-{self.run}"

    @property
    def tenant_b(self) -> str:
        return f"tenant-b-{self.run}"

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.server.base_url, timeout=120, **kw)

    @property
    def admin_key(self) -> str:
        return self.server.key("admin", None)

    def create_key(self, role: str, tenant: str | None = None, **extra: Any) -> dict[str, Any]:
        """A new key through the admin API (fast; the admin key itself comes from the CLI)."""
        body = {"name": f"{role} {tenant or '-'}", "role": role, **extra}
        if tenant is not None:
            body["tenant"] = tenant
        with self.client() as c:
            r = c.post("/api/v1/admin/keys", json=body, headers=bearer(self.admin_key))
        assert r.status_code == 201, r.text
        return r.json()

    def key(self, role: str, tenant: str | None = None) -> str:
        """One cached key per (role, tenant)."""
        if (role, tenant) not in self._keys:
            self._keys[(role, tenant)] = self.create_key(role, tenant)
        return str(self._keys[(role, tenant)]["key"])

    def headers(self, role: str, tenant: str | None = None) -> dict[str, str]:
        if role == "integrator" and tenant is None:
            tenant = self.tenant_a
        return bearer(self.key(role, tenant))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def post_verification(
    dep: Deployment,
    photos: dict[str, bytes],
    user_id: str,
    tenant: str | None = None,
    device: str | None = None,
) -> httpx.Response:
    """``POST /api/v1/verify`` of the test card and selfie as an integrator of ``tenant``."""
    headers = dep.headers("integrator", tenant or dep.tenant_a)
    with dep.client(headers=headers | ({"X-Device-Id": device} if device else {})) as c:
        return c.post(
            "/api/v1/verify",
            files={
                "id_document": ("id.jpg", photos["card"], "image/jpeg"),
                "selfie": ("selfie.jpg", photos["obama2"], "image/jpeg"),
            },
            data={"user_id": user_id},
        )


def run_verification(
    dep: Deployment,
    photos: dict[str, bytes],
    user_id: str,
    tenant: str | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    r = post_verification(dep, photos, user_id, tenant, device)
    assert r.status_code == 200, r.text
    return r.json()


def start_session(
    dep: Deployment,
    user_id: str,
    document: bytes | None = None,
    tenant: str | None = None,
    verification_id: str | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    headers = dep.headers("integrator", tenant or dep.tenant_a)
    with dep.client(headers=headers | ({"X-Device-Id": device} if device else {})) as c:
        if document is None:
            body: dict[str, Any] = {"user_id": user_id}
            if verification_id is not None:
                body["verification_id"] = verification_id
            r = c.post("/api/v1/sessions", json=body)
        else:
            r = c.post(
                "/api/v1/sessions",
                data={"user_id": user_id},
                files={"id_document": ("id.jpg", document, "image/jpeg")},
            )
    assert r.status_code == 200, r.text
    return r.json()


def send_frame(dep: Deployment, session: dict[str, Any], jpeg: bytes, sequence: int = 0) -> None:
    """One camera frame with the browser's session token."""
    with dep.client(headers={"X-Session-Token": session["session_token"]}) as c:
        r = c.post(
            f"/api/v1/sessions/{session['session_id']}/frames",
            files={"frame": ("f.jpg", jpeg, "image/jpeg")},
            data={"sequence": str(sequence), "timestamp": str(1000 + 100 * sequence)},
        )
    assert r.status_code == 200, r.text
