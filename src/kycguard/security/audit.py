"""The append-only, hash-chained audit log.

Each entry's ``hash`` is SHA-256 over the previous entry's hash and the entry's canonical JSON, so an
edited entry breaks its own hash, a deleted one breaks the sequence and the next ``prev_hash``, and a
deleted tail no longer matches ``audit_head``. Database triggers refuse UPDATE and DELETE on
``audit_log`` (migration 0003); the chain is what detects someone who bypassed them. To catch a
rewrite of the whole chain, record ``kycguard audit verify``'s head hash outside the database and
pass it back with ``--anchor SEQ:HASH``.

Appending first updates the single ``audit_head`` row: that takes the database's write lock (SQLite)
or row lock (PostgreSQL), so concurrent writers queue up and the chain stays linear. An entry is
appended inside the caller's transaction: the event and its record commit together or not at all.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kycguard.store.database import Database
from kycguard.store.security_models import AuditEntry, AuditHead

GENESIS = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who did it: ``key:<id>``, ``session:<id>``, ``cli:<os user>`` or ``system``."""

    id: str
    role: str | None = None

    @staticmethod
    def cli() -> Actor:
        import getpass

        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = str(os.getuid())
        return Actor(f"cli:{user}", "admin")


SYSTEM = Actor("system")


def _iso(at: datetime) -> str:
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    doc = {
        "seq": entry.seq,
        "at": _iso(entry.at),
        "actor": entry.actor,
        "actor_role": entry.actor_role,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "tenant": entry.tenant,
        "details": entry.details,
    }
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def entry_dict(e: AuditEntry) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": _iso(e.at),
        "actor": e.actor,
        "actor_role": e.actor_role,
        "action": e.action,
        "target_type": e.target_type,
        "target_id": e.target_id,
        "tenant": e.tenant,
        "details": e.details,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


@dataclass
class ChainReport:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    problems: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "problems": self.problems,
        }


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def append(
        self,
        session: Session,
        actor: Actor | None,
        action: str,
        *,
        target_type: str | None = None,
        target_id: str | None = None,
        tenant: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Append inside the caller's transaction (call it before other writes on SQLite: the
        head update is what takes the write lock). ``actor`` None: the system.

        Never put a raw ``user_id`` (or anything else erasure must remove) in an entry: entries are
        immutable. Name a subject by :meth:`kycguard.security.crypto.SubjectHasher.ref`."""
        seq, prev = self._lock_head(session)
        return self._insert(
            session, seq, prev, actor or SYSTEM, action, target_type, target_id, tenant, details
        )

    @staticmethod
    def _insert(
        session: Session,
        seq: int,
        prev: str,
        actor: Actor,
        action: str,
        target_type: str | None,
        target_id: str | None,
        tenant: str | None,
        details: dict[str, Any] | None,
    ) -> AuditEntry:
        entry = AuditEntry(
            seq=seq,
            at=datetime.now(UTC),
            actor=actor.id[:128],
            actor_role=actor.role,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else target_id[:128],
            tenant=tenant,
            details=details or {},
            prev_hash=prev,
        )
        entry.hash = entry_hash(prev, entry)
        session.add(entry)
        session.flush()
        session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=entry.hash))
        return entry

    def record(self, actor: Actor, action: str, **kw: Any) -> dict[str, Any]:
        """Append in a transaction of its own."""
        with self.db.session() as session:
            return entry_dict(self.append(session, actor, action, **kw))

    def record_config(self, public_config: dict[str, Any]) -> bool:
        """Append ``config.changed`` when the effective settings differ from the last recorded
        ones (checked under the head lock, so workers starting together record it once)."""
        digest = hashlib.sha256(
            json.dumps(public_config, sort_keys=True, default=str).encode()
        ).hexdigest()
        try:
            with self.db.session() as session:
                seq, prev = self._lock_head(session)
                last = session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.action == "config.changed")
                    .order_by(AuditEntry.seq.desc())
                    .limit(1)
                ).first()
                if last is not None and last.details.get("sha256") == digest:
                    raise _Unchanged
                before = last.details.get("settings", {}) if last is not None else {}
                details = {
                    "sha256": digest,
                    "changed": sorted(_diff(before, public_config)),
                    "settings": public_config,
                }
                self._insert(
                    session, seq, prev, SYSTEM, "config.changed", "config", None, None, details
                )
        except _Unchanged:
            return False
        return True

    def entries(
        self,
        *,
        after_seq: int = 0,
        limit: int = 100,
        action: str | None = None,
        tenant: str | None = None,
    ) -> list[dict[str, Any]]:
        query = select(AuditEntry).where(AuditEntry.seq > after_seq)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        if tenant is not None:
            query = query.where(AuditEntry.tenant == tenant)
        with self.db.session() as session:
            rows = session.scalars(query.order_by(AuditEntry.seq).limit(limit))
            return [entry_dict(r) for r in rows]

    def verify(self, anchors: dict[int, str] | None = None) -> ChainReport:
        """Walk the whole chain; every edited, deleted or re-ordered entry is a problem."""
        problems: list[dict[str, Any]] = []
        prev, expected, count = GENESIS, 1, 0
        anchors = dict(anchors or {})
        with self.db.session() as session:
            for e in self._stream(session):
                count += 1
                if e.seq != expected:
                    problems.append(
                        {"seq": expected, "problem": f"missing entries {expected}..{e.seq - 1}"}
                    )
                if e.prev_hash != prev:
                    problems.append(
                        {"seq": e.seq, "problem": "prev_hash does not match the previous entry"}
                    )
                if entry_hash(e.prev_hash, e) != e.hash:
                    problems.append({"seq": e.seq, "problem": "entry was modified (hash mismatch)"})
                if e.seq in anchors and anchors.pop(e.seq) != e.hash:
                    problems.append(
                        {"seq": e.seq, "problem": "hash differs from the external anchor"}
                    )
                prev, expected = e.hash, e.seq + 1
            head = session.get(AuditHead, 1)
            head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
        if head_seq != expected - 1 or head_hash != prev:
            problems.append(
                {
                    "seq": head_seq,
                    "problem": f"audit head ({head_seq}) does not match the last entry ({expected - 1}): "
                    "entries were deleted at the end",
                }
            )
        for seq in anchors:
            problems.append({"seq": seq, "problem": "anchored entry does not exist"})
        return ChainReport(not problems, count, head_seq, head_hash, problems)

    @staticmethod
    def _stream(session: Session, batch: int = 1000) -> Iterator[AuditEntry]:
        last = 0
        while True:
            rows = list(
                session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.seq > last)
                    .order_by(AuditEntry.seq)
                    .limit(batch)
                )
            )
            if not rows:
                return
            yield from rows
            last = rows[-1].seq
            session.expunge_all()

    @staticmethod
    def _lock_head(session: Session) -> tuple[int, str]:
        row = session.execute(
            update(AuditHead)
            .where(AuditHead.id == 1)
            .values(seq=AuditHead.seq + 1)
            .returning(AuditHead.seq, AuditHead.hash)
        ).one()
        return int(row[0]), str(row[1])


class _Unchanged(Exception):
    """Rolls back the head lock when there is nothing to record."""


def _diff(before: Any, after: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in before.keys() | after.keys():
            yield from _diff(before.get(key), after.get(key), f"{prefix}{key}.")
    elif before != after:
        yield prefix.rstrip(".")
