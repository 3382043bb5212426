"""Integrator webhooks: endpoints per tenant, events into the outbox, signed delivery.

Every event has one stable id (the same for each endpoint and each retry) and one body, serialised
when the event is stored, so a receiver can de-duplicate and the signature covers the exact bytes
it receives: ``X-Signature: sha256=HMAC(secret, "<X-Timestamp>." + body)``.
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kycguard.delivery import channels
from kycguard.delivery.service import (
    DeliveryFailed,
    DeliveryLog,
    Outbox,
    Outgoing,
    aware,
    enqueue,
    now_utc,
)
from kycguard.errors import InvalidRequest, NotFound
from kycguard.events import CaseDecided, ReviewDecided
from kycguard.jobs import PeriodicJob
from kycguard.security.audit import Actor, AuditLog
from kycguard.security.crypto import KeyRing, row_aad
from kycguard.security.signatures import sign_webhook
from kycguard.store.database import Database
from kycguard.store.models import Verification
from kycguard.store.personal import public_view
from kycguard.store.session_models import KycSession
from kycguard.webhooks.config import WebhookSettings
from kycguard.webhooks.models import WebhookEndpoint
from kycguard.webhooks.ssrf import refused_reason

KIND = "webhook"
CHANNEL = "endpoint"
EVENT_TYPES = ("verification.completed", "session.completed", "review.decided")
SECRET_PREFIX = "whsec_"
_EVENT_NS = uuid.UUID("6c1f0d5e-4a43-4c56-9d1b-7c2a43d6b0a1")


def event_id(event_type: str, key: str) -> str:
    """Stable: the same event always gets the same id (receivers de-duplicate on it)."""
    return "evt_" + uuid.uuid5(_EVENT_NS, f"{event_type}:{key}").hex


def endpoint_dict(row: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": row.id,
        "tenant": row.tenant,
        "url": row.url,
        "description": row.description,
        "events": list(row.events),
        "created_at": aware(row.created_at).isoformat(),
        "created_by": row.created_by,
    }


class WebhookService:
    def __init__(
        self, db: Database, keyring: KeyRing, audit: AuditLog | None, settings: WebhookSettings
    ) -> None:
        self.db = db
        self.keyring = keyring
        self.audit = audit
        self.settings = settings
        self.deliveries = DeliveryLog(db, KIND)
        self.outbox = Outbox(db, KIND, settings.retry, {CHANNEL: self.send})

    # -- endpoints --------------------------------------------------------------------------------

    def register(
        self,
        *,
        tenant: str,
        url: str,
        actor: Actor,
        events: list[str] | None = None,
        description: str = "",
    ) -> dict[str, Any]:
        """A new endpoint; the answer holds its signing secret, the only time it is shown."""
        url = url.strip()
        if len(url) > 2000:
            raise InvalidRequest("url is longer than 2000 characters", field="url")
        why = refused_reason(
            url,
            allow_private=self.settings.allow_private_addresses,
            require_https=self.settings.require_https,
        )
        if why is not None:
            raise InvalidRequest(
                f"this URL cannot receive webhooks: {why}", code="WEBHOOK_URL_REFUSED", field="url"
            )
        chosen = list(dict.fromkeys(events or EVENT_TYPES))
        unknown = sorted(set(chosen) - set(EVENT_TYPES))
        if unknown or not chosen:
            raise InvalidRequest(
                f"events must be among {', '.join(EVENT_TYPES)}",
                field="events",
                details={"unknown": unknown},
            )
        if len(description) > 200:
            raise InvalidRequest("description is longer than 200 characters", field="description")
        endpoint_id = "whe_" + secrets.token_hex(10)
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        with self.db.session() as session:
            if self.audit is not None:
                self.audit.append(
                    session,
                    actor,
                    "webhook.endpoint_created",
                    target_type="webhook_endpoint",
                    target_id=endpoint_id,
                    tenant=tenant,
                    details={"events": chosen},
                )
            n = session.scalar(
                select(func.count())
                .select_from(WebhookEndpoint)
                .where(WebhookEndpoint.tenant == tenant, WebhookEndpoint.deleted_at.is_(None))
            )
            if int(n or 0) >= self.settings.max_endpoints_per_tenant:
                raise InvalidRequest(
                    f"a tenant may have {self.settings.max_endpoints_per_tenant} endpoints",
                    code="WEBHOOK_ENDPOINT_LIMIT",
                )
            row = WebhookEndpoint(
                id=endpoint_id,
                tenant=tenant,
                url=url,
                description=description,
                events=chosen,
                secret=self.keyring.encrypt(
                    secret.encode(), row_aad("webhook_endpoints", endpoint_id)
                ),
                created_at=now_utc(),
                created_by=actor.id,
            )
            session.add(row)
            session.flush()
            return endpoint_dict(row) | {"signing_secret": secret}

    def endpoints(self, *, tenant: str | None) -> list[dict[str, Any]]:
        q = select(WebhookEndpoint).where(WebhookEndpoint.deleted_at.is_(None))
        if tenant is not None:
            q = q.where(WebhookEndpoint.tenant == tenant)
        with self.db.session() as session:
            return [
                endpoint_dict(r) for r in session.scalars(q.order_by(WebhookEndpoint.created_at))
            ]

    def delete(self, endpoint_id: str, actor: Actor, *, tenant: str | None) -> dict[str, Any]:
        """Stop sending to it; its pending deliveries become dead letters at their next attempt."""
        with self.db.session() as session:
            row = self._row(session, endpoint_id, tenant)
            if self.audit is not None:
                self.audit.append(
                    session,
                    actor,
                    "webhook.endpoint_deleted",
                    target_type="webhook_endpoint",
                    target_id=row.id,
                    tenant=row.tenant,
                )
            row.deleted_at = now_utc()
            return endpoint_dict(row) | {"deleted_at": row.deleted_at.isoformat()}

    @staticmethod
    def _row(session: Session, endpoint_id: str, tenant: str | None) -> WebhookEndpoint:
        row = session.get(WebhookEndpoint, endpoint_id)
        if (
            row is None
            or row.deleted_at is not None
            or (tenant is not None and row.tenant != tenant)
        ):
            raise NotFound(
                f"no webhook endpoint with id {endpoint_id}", code="WEBHOOK_ENDPOINT_NOT_FOUND"
            )
        return row

    # -- events (inside the storing transaction) --------------------------------------------------

    def on_case_decided(self, session: Session, event: CaseDecided) -> None:
        event_type = f"{event.kind}.completed"
        data = public_view(event.result)  # personal fields stay sealed: GET the case for them
        if event.kind == "session":  # joins the session to the verification that required it
            data["verification_id"] = (event.result.get("linked_verification") or {}).get(
                "verification_id"
            )
        self._publish(
            session,
            event.tenant,
            event_type,
            event_id(event_type, event.case_id),
            event.decided_at,
            data,
        )

    def on_review_decided(self, session: Session, event: ReviewDecided) -> None:
        row = session.get(
            Verification if event.kind == "verification" else KycSession, event.case_id
        )
        data = {
            "kind": event.kind,
            "case_id": event.case_id,
            "review_id": event.review_id,
            "decision": event.decision,
            "reason": event.reason,
            "status": event.status,
            "reviewer": event.reviewer,
            "decided_at": aware(event.decided_at).isoformat(),
            "case": getattr(row, "result", None),
        }
        self._publish(
            session,
            event.tenant,
            "review.decided",
            event_id("review.decided", event.review_id),
            event.decided_at,
            data,
        )

    def _publish(
        self,
        session: Session,
        tenant: str | None,
        event_type: str,
        evt_id: str,
        created: datetime,
        data: dict[str, Any],
    ) -> None:
        if not self.settings.enabled or tenant is None:
            return
        endpoints = [
            e
            for e in session.scalars(
                select(WebhookEndpoint).where(
                    WebhookEndpoint.tenant == tenant, WebhookEndpoint.deleted_at.is_(None)
                )
            )
            if event_type in e.events
        ]
        if not endpoints:
            return
        body = json.dumps(
            {
                "id": evt_id,
                "type": event_type,
                "created": aware(created).astimezone(UTC).isoformat(),
                "data": data,
            },
            separators=(",", ":"),
            default=str,
        )
        for e in endpoints:
            enqueue(
                session,
                kind=KIND,
                channel=CHANNEL,
                event_type=event_type,
                payload={"body": body},
                target=e.id,
                tenant=tenant,
                event_id=evt_id,
            )

    # -- delivery -----------------------------------------------------------------------------------

    def send(self, item: Outgoing) -> int | None:
        with self.db.session() as session:
            row = session.get(WebhookEndpoint, item.target or "")
            if row is None or row.deleted_at is not None:
                raise DeliveryFailed("the endpoint was deleted", permanent=True)
            url = row.url
            secret = self.keyring.decrypt(row.secret, row_aad("webhook_endpoints", row.id))
        why = refused_reason(url, allow_private=self.settings.allow_private_addresses)
        if why is not None:
            raise DeliveryFailed(f"address refused: {why}")  # DNS may change back: retried
        body = str(item.payload["body"]).encode()
        headers = sign_webhook(secret, body) | {
            "Content-Type": "application/json",
            "X-Kycguard-Event": item.event_type,
            "X-Kycguard-Event-Id": item.event_id or "",
            "X-Kycguard-Delivery": item.id,
        }
        return channels.post(url, body, headers, self.settings.retry.timeout_s)

    def jobs(self) -> list[PeriodicJob]:
        return [PeriodicJob("webhook_delivery", self.settings.retry.interval_s, self.outbox.run)]
