"""``PolicyService``: the versions of each policy, which one is active, and changing them (audited).

Version 1 of the default policy is created at first start (:meth:`PolicyService.bootstrap`): the
unique (name, version) constraint makes workers starting together create it once. Each change is a
new version written with its audit entry in one transaction; a rollback re-activates an old one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kycguard.errors import InvalidRequest, KycError
from kycguard.policies.document import PolicyDocument, default_document
from kycguard.policies.models import PolicyVersion
from kycguard.security.audit import SYSTEM, Actor, AuditLog
from kycguard.settings import Settings
from kycguard.store.database import Database


@dataclass(frozen=True)
class PolicyVersionView:
    name: str
    version: int
    document: PolicyDocument
    created_at: datetime
    created_by: str
    comment: str
    active: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "active": self.active,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "comment": self.comment,
            "document": self.document.model_dump(mode="json"),
        }


def _view(row: PolicyVersion) -> PolicyVersionView:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return PolicyVersionView(
        row.name,
        row.version,
        PolicyDocument.model_validate(row.document),
        created,
        row.created_by,
        row.comment,
        row.active,
    )


def not_found(name: str, version: int | None = None) -> KycError:
    what = f"policy {name!r}" + (f" version {version}" if version is not None else "")
    return KycError(f"{what} does not exist", code="POLICY_NOT_FOUND", status_code=404)


def invalid_policy(message: str, errors: list[Any] | None = None) -> InvalidRequest:
    return InvalidRequest(
        message,
        code="INVALID_POLICY",
        field="document",
        details={"errors": errors} if errors else None,
    )


def section_values(settings: Settings) -> dict[str, BaseModel]:
    from kycguard.policies.document import section_models

    return {name: getattr(settings, name) for name in section_models()}


class PolicyService:
    def __init__(self, database: Database, audit: AuditLog, settings: Settings) -> None:
        self.db = database
        self.audit = audit
        self.settings = settings

    # -- reading ---------------------------------------------------------------------------------

    def active(self, name: str | None = None) -> PolicyVersionView:
        name = name or self.settings.policies.default_policy
        with self.db.session() as s:
            row = s.scalars(
                select(PolicyVersion).where(PolicyVersion.name == name, PolicyVersion.active)
            ).first()
            if row is None:
                raise not_found(name)
            return _view(row)

    def get(self, name: str, version: int) -> PolicyVersionView:
        with self.db.session() as s:
            return _view(_version_row(s, name, version))

    def history(self, name: str) -> list[PolicyVersionView]:
        with self.db.session() as s:
            rows = s.scalars(
                select(PolicyVersion)
                .where(PolicyVersion.name == name)
                .order_by(PolicyVersion.version.desc())
            ).all()
            if not rows:
                raise not_found(name)
            return [_view(r) for r in rows]

    def names(self) -> list[PolicyVersionView]:
        """The active version of every policy (a policy with none active: its latest)."""
        with self.db.session() as s:
            rows = s.scalars(
                select(PolicyVersion).order_by(PolicyVersion.name, PolicyVersion.version.desc())
            ).all()
        best: dict[str, PolicyVersion] = {}
        for r in rows:
            if r.name not in best or (r.active and not best[r.name].active):
                best[r.name] = r
        return [_view(r) for r in best.values()]

    # -- changing --------------------------------------------------------------------------------

    def validate(self, document: PolicyDocument | dict[str, Any]) -> PolicyDocument:
        """The document as a model, valid on this deployment's settings (not only the defaults)."""
        if not _finite(document if isinstance(document, dict) else document.model_dump()):
            raise invalid_policy("the policy document holds a number that is not finite")
        try:
            doc = (
                document
                if isinstance(document, PolicyDocument)
                else PolicyDocument.model_validate(document)
            )
            doc.validate_on(section_values(self.settings))
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_context=False, include_input=False)
            raise invalid_policy("the policy document is not valid", errors) from None
        except ValueError as exc:
            raise invalid_policy(str(exc)) from None
        return doc

    def create(
        self, name: str, document: PolicyDocument | dict[str, Any], *, actor: Actor, comment: str
    ) -> PolicyVersionView:
        """Version 1 of a new policy; an existing name is a 409 (a change is a new version)."""
        _check_name(name)
        with self.db.session() as s:
            exists = self._next_version(s, name) > 1
        if exists:
            raise KycError(
                f"policy {name!r} exists; PUT /api/v1/policies/{name} adds a version",
                code="POLICY_EXISTS",
                status_code=409,
            )
        return self.new_version(name, document, actor=actor, comment=comment)

    def new_version(
        self,
        name: str,
        document: PolicyDocument | dict[str, Any],
        *,
        actor: Actor,
        comment: str,
        activate: bool = True,
    ) -> PolicyVersionView:
        """The next version of ``name`` (1 for a new policy), audited ``policy.version_created``."""
        _check_name(name)
        doc = self.validate(document)
        try:
            with self.db.session() as s:
                version = self._next_version(s, name)
                self.audit.append(  # before any write: the audit head lock is the write lock
                    s,
                    actor,
                    "policy.version_created",
                    target_type="policy",
                    target_id=name,
                    details={
                        "version": version,
                        "comment": comment[:500],
                        "activate": activate,
                        "document": doc.model_dump(mode="json"),  # what changed, reviewable
                    },
                )
                # two changes at once: both read the same next version, the second one's insert
                # breaks the unique (name, version) constraint -> 409, nothing written
                row = self._insert(s, name, version, doc, actor, comment, activate)
                s.flush()
                return _view(row)
        except IntegrityError:
            raise KycError(
                f"policy {name!r} was changed at the same time; read it again and retry",
                code="POLICY_CONFLICT",
                status_code=409,
            ) from None

    def activate(self, name: str, version: int, *, actor: Actor, comment: str) -> PolicyVersionView:
        """Make an existing version the active one (a rollback), audited ``policy.activated``."""
        with self.db.session() as s:
            before = s.scalars(
                select(PolicyVersion.version).where(
                    PolicyVersion.name == name, PolicyVersion.active
                )
            ).first()
            self.audit.append(
                s,
                actor,
                "policy.activated",
                target_type="policy",
                target_id=name,
                details={"version": version, "previous": before, "comment": comment[:500]},
            )
            row = _version_row(s, name, version)
            s.execute(update(PolicyVersion).where(PolicyVersion.name == name).values(active=False))
            row.active = True
            s.flush()
            return _view(row)

    def bootstrap(self) -> bool:
        """Version 1 of the default policy, once (True when this call created it)."""
        name = self.settings.policies.default_policy
        with self.db.session() as s:
            if s.scalars(select(PolicyVersion.id).where(PolicyVersion.name == name)).first():
                return False
        try:
            self.new_version(
                name,
                self.validate(default_document()),
                actor=SYSTEM,
                comment="created at first start",
            )
        except KycError as exc:
            if exc.code != "POLICY_CONFLICT":
                raise
            return False  # another worker created it first
        return True

    @staticmethod
    def _next_version(s: Session, name: str) -> int:
        latest = s.scalars(
            select(PolicyVersion.version)
            .where(PolicyVersion.name == name)
            .order_by(PolicyVersion.version.desc())
            .limit(1)
        ).first()
        return (latest or 0) + 1

    @staticmethod
    def _insert(
        s: Session,
        name: str,
        version: int,
        doc: PolicyDocument,
        actor: Actor,
        comment: str,
        activate: bool,
    ) -> PolicyVersion:
        has_active = s.scalars(
            select(PolicyVersion.id).where(PolicyVersion.name == name, PolicyVersion.active)
        ).first()
        active = activate or has_active is None  # a policy's first version is active
        if active:
            s.execute(update(PolicyVersion).where(PolicyVersion.name == name).values(active=False))
        row = PolicyVersion(
            name=name,
            version=version,
            document=doc.model_dump(mode="json"),
            created_at=datetime.now(UTC),
            created_by=actor.id[:128],
            comment=comment[:500],
            active=active,
        )
        s.add(row)
        return row


def _finite(value: Any) -> bool:
    """No NaN or infinity anywhere (JSON parsers accept them; JSON cannot store them back)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_finite(v) for v in value)
    return True


def _check_name(name: str) -> None:
    import re

    from kycguard.policies.document import NAME_PATTERN

    if not (1 <= len(name) <= 64 and re.match(NAME_PATTERN, name)):
        raise InvalidRequest(
            "a policy name is 1-64 characters: lower-case letters, digits, _ . -",
            code="INVALID_POLICY_NAME",
            field="name",
        )


def _version_row(s: Session, name: str, version: int) -> PolicyVersion:
    row = s.scalars(
        select(PolicyVersion).where(PolicyVersion.name == name, PolicyVersion.version == version)
    ).first()
    if row is None:
        raise not_found(name, version)
    return row
