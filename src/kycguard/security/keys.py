"""API keys: roles, tenants, expiry, revocation; shown once, stored as SHA-256 only.

A key is ``kg_`` + 256 random bits (base64url). Its SHA-256 is what the database keeps and what a
request is looked up by: with 256 bits of entropy there is nothing to brute-force, so a slow hash or a
server pepper would add a secret to manage without adding safety. A key may also get a signing secret
(``kgsig_...``) for HMAC request signatures; that one the server must be able to use, so it is stored
AES-256-GCM encrypted with the data keys.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from kycguard.errors import InvalidRequest, NotFound
from kycguard.security.audit import Actor, AuditLog
from kycguard.security.crypto import KeyRing, row_aad
from kycguard.security.errors import Unauthenticated
from kycguard.store.database import Database
from kycguard.store.security_models import ApiKey

TOKEN_PREFIX = "kg_"
SECRET_PREFIX = "kgsig_"
DEFAULT_TENANT = "default"
_TENANT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class Role(StrEnum):
    ADMIN = "admin"  # API keys, configuration
    INTEGRATOR = "integrator"  # verifications and sessions of its own tenant
    REVIEWER = "reviewer"  # review queue, decisions, feedback
    AUDITOR = "auditor"  # read-only audit log and metrics


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key: never the key or its signing secret."""

    id: str
    name: str
    role: Role
    tenant: str | None
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    rate_limit: int | None
    signed: bool

    def status(self, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and _aware(self.expires_at) <= now:
            return "expired"
        return "active"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role.value,
            "tenant": self.tenant,
            "status": self.status(),
            "created_at": _aware(self.created_at).isoformat(),
            "created_by": self.created_by,
            "expires_at": _aware(self.expires_at).isoformat() if self.expires_at else None,
            "revoked_at": _aware(self.revoked_at).isoformat() if self.revoked_at else None,
            "rate_limit": self.rate_limit,
            "signed_requests": self.signed,
        }


@dataclass(frozen=True)
class CreatedKey:
    info: KeyInfo
    key: str
    signing_secret: str | None

    def to_dict(self) -> dict[str, Any]:
        out = self.info.to_dict() | {"key": self.key}
        if self.signing_secret is not None:
            out["signing_secret"] = self.signing_secret
        return out


@dataclass(frozen=True)
class AuthenticatedKey:
    info: KeyInfo
    signing_secret: bytes | None


class ApiKeyStore:
    def __init__(
        self, db: Database, keyring: KeyRing, audit: AuditLog, default_ttl_days: int | None
    ) -> None:
        self.db = db
        self.keyring = keyring
        self.audit = audit
        self.default_ttl_days = default_ttl_days

    def create(
        self,
        *,
        name: str,
        role: Role | str,
        actor: Actor,
        tenant: str | None = None,
        expires_in_days: int | None = None,
        never_expires: bool = False,
        rate_limit: int | None = None,
        signed: bool = False,
    ) -> CreatedKey:
        role = _role(role)
        name = name.strip()
        if not 0 < len(name) <= 100:
            raise InvalidRequest("name must be 1-100 characters", field="name")
        if role is Role.INTEGRATOR and tenant is None:
            tenant = DEFAULT_TENANT
        if tenant is not None and not _TENANT.match(tenant):
            raise InvalidRequest("tenant must be 1-64 of A-Z a-z 0-9 _ . -", field="tenant")
        if rate_limit is not None and rate_limit < 1:
            raise InvalidRequest("rate_limit must be at least 1", field="rate_limit")
        now = datetime.now(UTC)
        days = None if never_expires else (expires_in_days or self.default_ttl_days)
        key_id = "key_" + secrets.token_hex(8)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        secret = SECRET_PREFIX + secrets.token_urlsafe(32) if signed else None
        row = ApiKey(
            id=key_id,
            name=name,
            role=role.value,
            tenant=tenant,
            key_sha256=hash_token(token),
            created_at=now,
            created_by=actor.id,
            expires_at=now + timedelta(days=days) if days else None,
            revoked_at=None,
            rate_limit=rate_limit,
            signing_secret=(
                self.keyring.encrypt(secret.encode(), row_aad("api_keys", key_id))
                if secret
                else None
            ),
        )
        with self.db.session() as session:
            self.audit.append(
                session,
                actor,
                "key.created",
                target_type="api_key",
                target_id=key_id,
                tenant=tenant,
                details={
                    "name": name,
                    "role": role.value,
                    "expires_at": row.expires_at.isoformat() if row.expires_at else None,
                    "signed_requests": signed,
                    "rate_limit": rate_limit,
                },
            )
            session.add(row)
        return CreatedKey(_info(row), token, secret)

    def list(self) -> list[KeyInfo]:
        with self.db.session() as session:
            return [_info(r) for r in session.scalars(select(ApiKey).order_by(ApiKey.created_at))]

    def revoke(self, key_id: str, actor: Actor) -> KeyInfo:
        with self.db.session() as session:
            row = session.get(ApiKey, key_id)
            if row is None:
                raise NotFound(f"no API key with id {key_id}", code="API_KEY_NOT_FOUND")
            if row.revoked_at is None:
                self.audit.append(
                    session,
                    actor,
                    "key.revoked",
                    target_type="api_key",
                    target_id=key_id,
                    tenant=row.tenant,
                )
                row.revoked_at = datetime.now(UTC)
            return _info(row)

    def authenticate(self, token: str) -> AuthenticatedKey:
        with self.db.session() as session:
            row = session.scalars(
                select(ApiKey).where(ApiKey.key_sha256 == hash_token(token))
            ).first()
            if row is None:
                raise Unauthenticated("invalid API key")
            info = _info(row)
            status = info.status()
            if status != "active":
                raise Unauthenticated(f"this API key is {status}", code=f"API_KEY_{status.upper()}")
            secret = (
                self.keyring.decrypt(row.signing_secret, row_aad("api_keys", row.id))
                if row.signing_secret is not None
                else None
            )
            return AuthenticatedKey(info, secret)

    def bootstrap(self, actor: Actor) -> CreatedKey | None:
        """The first admin key, or None when an active admin key exists already."""
        if any(k.role is Role.ADMIN and k.status() == "active" for k in self.list()):
            return None
        return self.create(name="bootstrap admin", role=Role.ADMIN, actor=actor)


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError as exc:
        raise InvalidRequest(
            f"unknown role {role!r}; one of {', '.join(r.value for r in Role)}", field="role"
        ) from exc


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        tenant=row.tenant,
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        rate_limit=row.rate_limit,
        signed=row.signing_secret is not None,
    )
