"""API keys: shown once, stored as SHA-256 only, roles, tenants, expiry, revocation; the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from security.helpers import (
    Deployment,
    assert_error,
    bearer,
    database_values,
    run_verification,
    scratch_database,
)
from sqlalchemy import create_engine, text
from support.servers import provision_shared_keys

KEY = re.compile(r"kg_[A-Za-z0-9_-]{43}")


class Cli:
    def __init__(self, data_dir: Path, database_url: str) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KYCGUARD_")}
        self.env |= {"KYCGUARD_DATA_DIR": str(data_dir), "KYCGUARD_DATABASE_URL": database_url}
        self.database_url = database_url
        data_dir.mkdir(mode=0o700, exist_ok=True)
        provision_shared_keys(self.env, data_dir)  # PostgreSQL: the keys an operator distributes

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "kycguard.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if ok:
            assert done.returncode == 0, done.stderr[-2000:]
        return done


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def cli(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    folder = tmp_path_factory.mktemp("cli")
    with scratch_database(str(request.param), folder) as url:
        yield Cli(folder / "data", url)


def test_bootstrap_prints_the_first_admin_key_once(cli: Cli) -> None:
    first = cli("keys", "bootstrap")
    keys = KEY.findall(first.stdout)
    assert len(keys) == 1 and "admin" in first.stdout
    again = cli("keys", "bootstrap")
    assert not KEY.findall(again.stdout) and "exists" in again.stdout
    listed = json.loads(cli("keys", "list", "--json").stdout)
    admins = [k for k in listed if k["role"] == "admin"]
    assert len(admins) == 1 and admins[0]["status"] == "active"
    assert "key" not in admins[0] and keys[0] not in json.dumps(listed)
    # only the hash is stored, anywhere in the database
    values = b"\n".join(v for _, _, v in database_values(cli.database_url))
    assert keys[0].encode() not in values
    assert hashlib.sha256(keys[0].encode()).hexdigest().encode() in values


def test_create_list_revoke_and_every_change_is_audited(cli: Cli) -> None:
    made = json.loads(
        cli(
            "keys",
            "create",
            "--role",
            "integrator",
            "--name",
            "shop",
            "--tenant",
            "shop-1",
            "--signed",
            "--json",
        ).stdout
    )
    assert KEY.fullmatch(made["key"]) and made["signing_secret"].startswith("kgsig_")
    assert made["tenant"] == "shop-1" and made["signed_requests"] is True
    assert made["expires_at"] is not None  # expiring is the default
    forever = json.loads(
        cli(
            "keys", "create", "--role", "auditor", "--name", "audit", "--no-expiry", "--json"
        ).stdout
    )
    assert forever["expires_at"] is None
    cli("keys", "revoke", made["id"])
    listed = {k["id"]: k for k in json.loads(cli("keys", "list", "--json").stdout)}
    assert listed[made["id"]]["status"] == "revoked" and listed[forever["id"]]["status"] == "active"
    # the signing secret is stored encrypted, never as text
    values = b"\n".join(v for _, _, v in database_values(cli.database_url))
    assert made["signing_secret"].encode() not in values
    unknown = cli("keys", "revoke", "key_doesnotexist", ok=False)
    assert unknown.returncode == 2 and "API_KEY_NOT_FOUND" in unknown.stderr

    engine = create_engine(cli.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT action, target_id, actor FROM audit_log ORDER BY seq")
            ).all()
    finally:
        engine.dispose()
    assert ("key.created", made["id"]) in [(a, t) for a, t, _ in rows]
    assert ("key.revoked", made["id"]) in [(a, t) for a, t, _ in rows]
    assert all(actor.startswith("cli:") for a, _, actor in rows if a.startswith("key."))
    assert cli("audit", "verify").returncode == 0


def test_revoked_key_is_refused_at_once(deployment: Deployment) -> None:
    made = deployment.create_key("integrator", deployment.tenant_a)
    with deployment.client(headers=bearer(made["key"])) as c:
        assert_error(c.get("/api/v1/verifications/none"), 404, "VERIFICATION_NOT_FOUND")
        with deployment.client(headers=bearer(deployment.admin_key)) as admin:
            revoked = admin.delete(f"/api/v1/admin/keys/{made['id']}")
            assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
            listed = admin.get("/api/v1/admin/keys").json()["keys"]
        assert {k["id"]: k["status"] for k in listed}[made["id"]] == "revoked"
        assert_error(c.get("/api/v1/verifications/none"), 401, "API_KEY_REVOKED")
    audit = _entries(deployment, "key.revoked")
    assert any(e["target_id"] == made["id"] and e["actor"].startswith("key:key_") for e in audit)


def test_expired_key_is_refused(deployment: Deployment) -> None:
    made = deployment.create_key("reviewer", expires_in_days=1)
    with deployment.client(headers=bearer(made["key"])) as c:
        assert_error(c.get("/api/v1/verifications/none"), 404)
        # a day passes: move the expiry into the past
        engine = create_engine(deployment.database_url)
        try:
            with engine.begin() as conn:
                conn.execute(
                    text("UPDATE api_keys SET expires_at = :t WHERE id = :id"),
                    {"t": datetime.now(UTC) - timedelta(seconds=1), "id": made["id"]},
                )
        finally:
            engine.dispose()
        assert_error(c.get("/api/v1/verifications/none"), 401, "API_KEY_EXPIRED")


def test_key_requests_are_strictly_validated(deployment: Deployment) -> None:
    with deployment.client(headers=bearer(deployment.admin_key)) as c:
        assert_error(c.post("/api/v1/admin/keys", json={"name": "x", "role": "root"}), 422)
        assert_error(
            c.post("/api/v1/admin/keys", json={"name": "x", "role": "admin", "is_admin": True}), 422
        )
        assert_error(c.post("/api/v1/admin/keys", json={"name": "", "role": "auditor"}), 422)
        assert_error(c.delete("/api/v1/admin/keys/key_nope"), 404, "API_KEY_NOT_FOUND")


def test_integrator_sees_only_its_own_tenant(
    deployment: Deployment, photos: dict[str, bytes]
) -> None:
    vid = run_verification(deployment, photos, "tenant-user")["verification_id"]
    with deployment.client() as c:
        get = lambda headers: c.get(f"/api/v1/verifications/{vid}", headers=headers)  # noqa: E731
        assert get(deployment.headers("integrator", deployment.tenant_a)).status_code == 200
        assert get(deployment.headers("reviewer")).status_code == 200
        other = assert_error(get(deployment.headers("integrator", deployment.tenant_b)), 404)
        unknown = assert_error(
            c.get("/api/v1/verifications/unknown", headers=deployment.headers("integrator")), 404
        )
        # the same answer as for an id that does not exist: ids of other tenants do not leak
        assert other["code"] == unknown["code"] == "VERIFICATION_NOT_FOUND"
        scoped_reviewer = deployment.headers("reviewer", deployment.tenant_b)
        assert_error(get(scoped_reviewer), 404)


def _entries(dep: Deployment, action: str) -> list[dict[str, Any]]:
    with dep.client(headers=dep.headers("auditor")) as c:
        r = c.get("/api/v1/audit", params={"action": action, "limit": 1000})
    assert r.status_code == 200, r.text
    return r.json()["entries"]
