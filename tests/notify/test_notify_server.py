"""End to end through the real server (``kycguard serve``) on SQLite and PostgreSQL: integrator
webhooks after a real ``/verify``, an endpoint that fails then recovers, alerts from a real face
mismatch to a real webhook receiver and SMTP server, the reviewer's acknowledge / resolve in the
audit log, and a server killed with SIGKILL between storing a decision and delivering its webhook."""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from notify.receivers import HttpReceiver, SmtpReceiver, authentic, wait_until
from security.helpers import assert_error, bearer
from sqlalchemy import create_engine, text
from support.databases import scratch_database
from support.servers import Server

ALERT_SECRET = "alert-hook-secret"


def server_env(url: str, alert_hook: HttpReceiver, smtp: SmtpReceiver) -> dict[str, str]:
    fast = {"FIRST_INTERVAL_S": "0.3", "MAX_INTERVAL_S": "1", "INTERVAL_S": "0.3"}
    env = {
        "KYCGUARD_DATABASE_URL": url,
        "KYCGUARD_SECURITY__RATE_LIMITS__PER_KEY": "100000",
        "KYCGUARD_SECURITY__RATE_LIMITS__PER_ADDRESS": "100000",
        "KYCGUARD_SECURITY__PURGE_INTERVAL_S": "0",
        "KYCGUARD_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES": "true",  # the receivers are local
        "KYCGUARD_ALERTS__WEBHOOK_URL": alert_hook.url,
        "KYCGUARD_ALERTS__WEBHOOK_SECRET": ALERT_SECRET,
        "KYCGUARD_ALERTS__SMTP__HOST": "127.0.0.1",
        "KYCGUARD_ALERTS__SMTP__PORT": str(smtp.port),
        "KYCGUARD_ALERTS__SMTP__RECIPIENTS": '["fraud-desk@bank.test"]',
        # medium alerts at once to the webhook and e-mail too (default: the log + a digest)
        "KYCGUARD_ALERTS__ROUTING": '{"medium": ["webhook", "email", "log"]}',
    }
    for section in ("WEBHOOKS", "ALERTS"):
        env |= {f"KYCGUARD_{section}__RETRY__{k}": v for k, v in fast.items()}
    return env


@dataclass
class World:
    server: Server
    url: str
    alert_hook: HttpReceiver
    smtp: SmtpReceiver
    tenant: str

    def client(self, role: str = "integrator", tenant: str | None = "") -> httpx.Client:
        tenant = self.tenant if tenant == "" else tenant
        key = self.server.key(role, tenant if role == "integrator" else None)
        return httpx.Client(base_url=self.server.base_url, headers=bearer(key), timeout=120)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    folder = tmp_path_factory.mktemp(f"notify_{request.param}")
    alert_hook, smtp = HttpReceiver(), SmtpReceiver()
    try:
        with scratch_database(str(request.param), folder) as url:
            (folder / "data").mkdir(mode=0o700)
            server = Server(server_env(url, alert_hook, smtp), folder / "data")
            try:
                server.wait_ready()
                yield World(server, url, alert_hook, smtp, f"shop-{uuid.uuid4().hex[:6]}")
            finally:
                server.stop()
    finally:
        alert_hook.close()
        smtp.close()


def verify(world: World, photos: dict[str, bytes], selfie: str, user_id: str) -> dict[str, Any]:
    with world.client() as c:
        r = c.post(
            "/api/v1/verify",
            files={
                "id_document": ("id.jpg", photos["card"], "image/jpeg"),
                "selfie": ("selfie.jpg", photos[selfie], "image/jpeg"),
            },
            data={"user_id": user_id},
        )
    assert r.status_code == 200, r.text
    return dict(r.json())


def register(client: httpx.Client, url: str, **extra: Any) -> dict[str, Any]:
    r = client.post("/api/v1/webhooks/endpoints", json={"url": url, **extra})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_webhooks_after_a_real_verification_with_a_flaky_endpoint(
    world: World, photos: dict[str, bytes]
) -> None:
    good, flaky = HttpReceiver(), HttpReceiver(fail_first=2)
    try:
        with world.client() as c:
            a = register(c, good.url, description="main")
            b = register(c, flaky.url, events=["verification.completed"])
            assert_error(
                c.post("/api/v1/webhooks/endpoints", json={"url": "ftp://x/"}),
                422,
                "WEBHOOK_URL_REFUSED",
            )
            listed = c.get("/api/v1/webhooks/endpoints").json()["endpoints"]
            assert {e["id"] for e in listed} == {a["id"], b["id"]}
            assert all("signing_secret" not in e for e in listed)
        result = verify(world, photos, "obama2", "hook-user")
        (got,) = good.wait_for(1)
        assert authentic(a["signing_secret"], got.headers, got.body)
        event = got.json()
        assert event["type"] == "verification.completed"
        assert event["data"]["verification_id"] == result["verification_id"]
        assert event["data"]["status"] == result["status"]
        (late,) = flaky.wait_for(1)
        assert late.json()["id"] == event["id"]  # one event, one id, every endpoint
        assert authentic(b["signing_secret"], late.headers, late.body)
        assert flaky.answered == [503, 503, 200]
        with world.client() as c:
            (delivery,) = c.get("/api/v1/webhooks/deliveries", params={"target": b["id"]}).json()[
                "deliveries"
            ]
            log = c.get(f"/api/v1/webhooks/deliveries/{delivery['id']}").json()
            assert [x["outcome"] for x in log["attempt_log"]] == ["failed", "failed", "delivered"]
            assert c.delete(f"/api/v1/webhooks/endpoints/{b['id']}").status_code == 200
            assert [e["id"] for e in c.get("/api/v1/webhooks/endpoints").json()["endpoints"]] == [
                a["id"]
            ]
            redo = c.post(f"/api/v1/webhooks/deliveries/{delivery['id']}/redeliver")
            assert redo.status_code == 200 and redo.json()["status"] == "pending"
        with world.client(tenant=f"other-{world.tenant}") as other:  # another tenant sees nothing
            assert_error(
                other.get(f"/api/v1/webhooks/deliveries/{delivery['id']}"),
                404,
                "DELIVERY_NOT_FOUND",
            )
            assert other.get("/api/v1/webhooks/endpoints").json()["endpoints"] == []
            assert_error(other.delete(f"/api/v1/webhooks/endpoints/{a['id']}"), 404)
    finally:
        good.close()
        flaky.close()


def test_a_face_mismatch_alert_reaches_webhook_and_email_and_is_worked(
    world: World, photos: dict[str, bytes]
) -> None:
    result = verify(world, photos, "biden", "alert-user")
    assert result["status"] == "rejected" and "FACE_MISMATCH" in result["reasons"], result[
        "reasons"
    ]
    raised = wait_until(
        lambda: any(
            r.json()["data"]["alert"]["type"] == "face_mismatch" for r in world.alert_hook.received
        ),
        60,
        lambda: [
            r
            for r in world.alert_hook.received
            if r.json()["data"]["alert"]["type"] == "face_mismatch"
        ],
    )[0]
    assert authentic(ALERT_SECRET, raised.headers, raised.body)
    mail = wait_until(
        lambda: any("face_mismatch" in str(m["Subject"]) for m in world.smtp.messages),
        60,
        lambda: next(m for m in world.smtp.messages if "face_mismatch" in str(m["Subject"])),
    )
    assert mail["To"] == "fraud-desk@bank.test" and "[MEDIUM]" in str(mail["Subject"])
    alert_id = raised.json()["data"]["alert"]["id"]

    with world.client("reviewer", None) as c:
        found = c.get(
            "/api/v1/alerts", params={"severity": "medium", "type": "face_mismatch"}
        ).json()
        mine = next(a for a in found["alerts"] if a["id"] == alert_id)
        assert mine["cases"] == [{"kind": "verification", "id": result["verification_id"]}]
        assert mine["tenant"] == world.tenant and mine["status"] == "active"
        assert alert_id in {a["id"] for a in c.get("/api/v1/alerts/active").json()["alerts"]}
        assert_error(c.get("/api/v1/alerts", params={"severity": "bogus"}), 422)
        acked = c.post(f"/api/v1/alerts/{alert_id}/acknowledge")
        assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    with world.client("auditor", None) as c:
        assert_error(c.post(f"/api/v1/alerts/{alert_id}/resolve"), 403, "FORBIDDEN")
        assert c.get(f"/api/v1/alerts/{alert_id}").json()["status"] == "acknowledged"
    with world.client("reviewer", None) as c:
        assert c.post(f"/api/v1/alerts/{alert_id}/resolve").json()["status"] == "resolved"
        assert_error(c.post(f"/api/v1/alerts/{alert_id}/acknowledge"), 409, "ALERT_RESOLVED")
        assert alert_id not in {a["id"] for a in c.get("/api/v1/alerts/active").json()["alerts"]}
        stats = c.get("/api/v1/alerts/statistics").json()
        assert stats["by_type"]["face_mismatch"] >= 1 and stats["by_status"]["resolved"] >= 1
    with world.client("auditor", None) as c:
        for action in ("alert.acknowledged", "alert.resolved"):
            entries = c.get("/api/v1/audit", params={"action": action}).json()["entries"]
            assert alert_id in {e["target_id"] for e in entries}
    with world.client("admin", None) as c:
        sent = c.get("/api/v1/alerts/deliveries", params={"target": alert_id}).json()["deliveries"]
        assert {d["channel"]: d["status"] for d in sent} == {
            "webhook": "delivered",
            "email": "delivered",
            "log": "delivered",
        }


def _pending(url: str) -> list[tuple[str, int]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT status, attempts FROM deliveries WHERE kind = 'webhook'")
            )
            return [(str(s), int(n)) for s, n in rows]
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_kill_9_between_store_and_delivery_then_delivered_after_restart(
    kind: str, tmp_path: Path, photos: dict[str, bytes]
) -> None:
    receiver, alert_hook, smtp = HttpReceiver(), HttpReceiver(), SmtpReceiver()
    try:
        with scratch_database(kind, tmp_path) as url:
            data = tmp_path / "data"
            data.mkdir(mode=0o700)
            env = server_env(url, alert_hook, smtp)
            # the delivery job runs once at start, then not for an hour: the row stays stored
            first = Server(env | {"KYCGUARD_WEBHOOKS__RETRY__INTERVAL_S": "3600"}, data)
            try:
                first.wait_ready()
                w = World(first, url, alert_hook, smtp, "killed-shop")
                with w.client() as c:
                    endpoint = register(c, receiver.url)
                result = verify(w, photos, "obama2", "kill-user")
                assert _pending(url) == [("pending", 0)]
                os.kill(first.process.pid, signal.SIGKILL)
                first.process.wait(timeout=30)
                assert first.process.returncode == -signal.SIGKILL
            finally:
                if first.process.poll() is None:
                    first.stop()
            assert receiver.received == []
            second = Server(env, data)  # same database and data keys, a new process
            try:
                second.wait_ready()
                (got,) = receiver.wait_for(1)
                assert authentic(endpoint["signing_secret"], got.headers, got.body)
                assert got.json()["data"]["verification_id"] == result["verification_id"]
                wait_until(lambda: _pending(url) == [("delivered", 1)], 30, lambda: _pending(url))
            finally:
                second.stop()
    finally:
        for r in (receiver, alert_hook):
            r.close()
        smtp.close()


def test_config_shows_the_sections_without_secrets(world: World) -> None:
    with world.client("admin", None) as c:
        r = c.get("/api/v1/config")
    assert r.status_code == 200, r.text
    text_ = json.dumps(r.json())
    assert ALERT_SECRET not in text_
    assert r.json()["settings"]["webhooks"]["allow_private_addresses"] is True


def test_a_reviewers_decision_reaches_the_integrators_webhook(
    world: World, photos: dict[str, bytes]
) -> None:
    """The whole loop through HTTP: a real manual_review case, a reviewer claims and approves it,
    the integrator's endpoint receives the signed ``review.decided`` event, and the verification,
    the audit log and the metrics show the decision."""
    import io

    from PIL import Image, ImageFilter

    hook = HttpReceiver()
    try:
        with world.client() as c:
            endpoint = register(c, hook.url, events=["review.decided"])
        buf = io.BytesIO()  # a slightly soft selfie: passive liveness uncertain -> manual_review
        Image.open(io.BytesIO(photos["obama2"])).filter(ImageFilter.GaussianBlur(1.5)).save(
            buf, "JPEG"
        )
        result = verify(world, photos | {"soft": buf.getvalue()}, "soft", "review-hook-user")
        assert result["status"] == "manual_review", result["reasons"]
        case_id = result["verification_id"]
        with world.client("reviewer", None) as r:
            items = r.get("/api/v1/reviews", params={"status": "open", "limit": 200}).json()
            (case,) = [x for x in items["items"] if x["case_id"] == case_id]
            assert r.post(f"/api/v1/reviews/{case['id']}/claim").status_code == 200
            decided = r.post(
                f"/api/v1/reviews/{case['id']}/decision",
                json={"decision": "approve", "notes": "document checked by hand"},
            )
            assert decided.status_code == 200, decided.text
        (got,) = hook.wait_for(1)
        assert authentic(endpoint["signing_secret"], got.headers, got.body)
        event = got.json()
        assert event["type"] == "review.decided"
        assert (event["data"]["case_id"], event["data"]["decision"]) == (case_id, "approve")
        assert event["data"]["status"] == "approved"
        assert "review-hook-user" not in got.body.decode()  # no user id leaves in the payload
        with world.client() as c:
            shown = c.get(f"/api/v1/verifications/{case_id}").json()
            assert shown["status"] == "approved" and shown["review"]["decision"] == "approve"
        with world.client("auditor", None) as a:
            for action in ("review.claimed", "review.decided"):
                page = a.get("/api/v1/audit", params={"action": action, "limit": 1000}).json()
                assert [e["target_id"] for e in page["entries"]].count(case["id"]) == 1, action
    finally:
        hook.close()
