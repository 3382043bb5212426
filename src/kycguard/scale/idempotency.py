"""``Idempotency-Key`` on ``POST /api/v1/verify`` and session creation: a retry gets the first answer.

The first request with a key inserts an ``in_progress`` row; the unique (scope, key) constraint makes
a concurrent duplicate fail that INSERT, so it waits for the first one's answer (then replays it) or,
after ``scale.idempotency_wait_s``, gets ``409 IDEMPOTENCY_IN_PROGRESS``. The same key with a different
request is ``422 IDEMPOTENCY_KEY_REUSED``. Keys are scoped to the caller's tenant (or to the API key
when it has none), so two integrators never see each other's answers.

For ``/verify`` the answer is written by a ``CaseDecided`` subscriber inside the transaction that
stores the case: a worker killed after the commit still leaves the answer, and the retry replays it
instead of creating a second case. A row left ``in_progress`` by a worker killed before the commit is
taken over after ``scale.idempotency_lock_s``. Client errors (4xx) are answers too and replay as such;
server errors release the key so the retry runs again.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import anyio
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from kycguard.errors import Conflict, InvalidRequest, KycError
from kycguard.events import CaseDecided, EventBus
from kycguard.jobs import PeriodicJob
from kycguard.scale.config import ScaleSettings
from kycguard.scale.models import IdempotencyRecord
from kycguard.store.database import Database
from kycguard.store.ports import Cipher, row_aad

HEADER = "Idempotency-Key"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces (as Stripe's)


class KeyReused(InvalidRequest):
    code = "IDEMPOTENCY_KEY_REUSED"
    status_code = 422


class InProgress(Conflict):
    code = "IDEMPOTENCY_IN_PROGRESS"


@dataclass
class Claim:
    """This request owns the key: its answer becomes the key's answer."""

    id: int
    endpoint: str
    answered: bool = False  # set when the answer was written inside the case's transaction


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: dict[str, Any]


_current: ContextVar[Claim | None] = ContextVar("kycguard_idempotency_claim", default=None)


def fingerprint(endpoint: str, parts: Mapping[str, bytes | str | None]) -> str:
    """SHA-256 of the parsed request (not the raw body: multipart boundaries differ between retries)."""
    h = hashlib.sha256(endpoint.encode())
    for name in sorted(parts):
        value = parts[name]
        data = b"" if value is None else value if isinstance(value, bytes) else value.encode()
        h.update(f"\n{name}:{len(data)}:".encode())
        h.update(data)
    return h.hexdigest()


class IdempotencyStore:
    """``cipher``: the data key ring; stored answers hold the case's personal data, so they are
    sealed like the case itself (answers expire after ``idempotency_ttl_s``: keep retired data keys
    at least that long)."""

    def __init__(
        self, database: Database, settings: ScaleSettings, cipher: Cipher | None = None
    ) -> None:
        self.database = database
        self.settings = settings
        self.cipher = cipher

    def _seal(self, row_id: int, body: dict[str, Any]) -> bytes:
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        aad = row_aad(IdempotencyRecord.__tablename__, str(row_id))
        return self.cipher.encrypt(data, aad) if self.cipher is not None else data

    def _unseal(self, row_id: int, blob: bytes) -> dict[str, Any]:
        aad = row_aad(IdempotencyRecord.__tablename__, str(row_id))
        data = self.cipher.decrypt(blob, aad) if self.cipher is not None else blob
        body: dict[str, Any] = json.loads(data)
        return body

    def begin(self, scope: str, key: str, endpoint: str, digest: str) -> Claim | Replay | None:
        """A claim, the stored answer, or None while another request holds the key."""
        now = time.time()
        row = IdempotencyRecord(
            scope=scope,
            key=key,
            endpoint=endpoint,
            request_sha256=digest,
            state="in_progress",
            created_at=now,
            locked_until=now + self.settings.idempotency_lock_s,
            expires_at=now + self.settings.idempotency_ttl_s,
        )
        try:
            with self.database.session() as session:
                session.add(row)
            return Claim(row.id, endpoint)
        except IntegrityError:
            pass
        with self.database.session() as session:
            found = session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
                )
            )
            if found is None:  # expired and purged between our INSERT and SELECT: try again
                return None
            if found.expires_at <= now:
                session.delete(found)
                return None
            if found.request_sha256 != digest or found.endpoint != endpoint:
                raise KeyReused(
                    f"this {HEADER} was already used with a different request; use a new key",
                    field=HEADER,
                )
            if found.state == "done" and found.status_code is not None:
                return Replay(found.status_code, self._unseal(found.id, found.response or b"{}"))
            if found.locked_until <= now:  # its worker died before answering: take it over
                taken = session.execute(
                    update(IdempotencyRecord)
                    .where(
                        IdempotencyRecord.id == found.id,
                        IdempotencyRecord.locked_until == found.locked_until,
                    )
                    .values(locked_until=now + self.settings.idempotency_lock_s)
                )
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    return Claim(found.id, endpoint)
        return None

    def answer(self, claim: Claim, status_code: int, body: dict[str, Any]) -> None:
        with self.database.session() as session:
            self.write_answer(session, claim, status_code, body)

    def write_answer(
        self, session: Session, claim: Claim, status_code: int, body: dict[str, Any]
    ) -> None:
        session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.id == claim.id)
            .values(state="done", status_code=status_code, response=self._seal(claim.id, body))
        )
        claim.answered = True

    def _answer_in_case_transaction(self, session: Session, event: CaseDecided) -> None:
        claim = _current.get()
        if claim is not None and claim.endpoint == "verify" and event.kind == "verification":
            self.write_answer(session, claim, 200, event.result)

    def release(self, claim: Claim) -> None:
        with self.database.session() as session:
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == claim.id))

    def purge_expired(self) -> int:
        with self.database.session() as session:
            done = session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= time.time())
            )
        return int(done.rowcount)  # type: ignore[attr-defined]

    def job(self) -> PeriodicJob:
        return PeriodicJob("idempotency_purge", 3600, self.purge_expired)

    def subscribe(self, events: EventBus) -> None:
        events.subscribe(self._answer_in_case_transaction, CaseDecided)

    async def run(
        self,
        request: Request,
        scope: str,
        endpoint: str,
        parts: Mapping[str, bytes | str | None],
        call: Callable[[], Awaitable[dict[str, Any]]],
    ) -> dict[str, Any] | JSONResponse:
        """``call()`` once per key; without the header, simply ``call()``."""
        key = request.headers.get(HEADER)
        if key is None:
            return await call()
        if not _VALID_KEY.match(key):
            raise InvalidRequest(
                f"{HEADER} must be 1-255 printable ASCII characters without spaces",
                code="INVALID_IDEMPOTENCY_KEY",
                field=HEADER,
            )
        digest = fingerprint(endpoint, parts)
        deadline = time.monotonic() + self.settings.idempotency_wait_s
        while True:
            got = await run_in_threadpool(self.begin, scope, key, endpoint, digest)
            if isinstance(got, Replay):
                return JSONResponse(
                    got.body, status_code=got.status_code, headers={"Idempotent-Replayed": "true"}
                )
            if isinstance(got, Claim):
                return await self._first(got, call)
            if time.monotonic() >= deadline:
                raise InProgress(
                    f"a request with this {HEADER} is still being processed; retry later",
                    field=HEADER,
                )
            await anyio.sleep(0.25)

    async def _first(
        self, claim: Claim, call: Callable[[], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        token = _current.set(claim)
        try:
            result = await call()
        except KycError as exc:
            if exc.status_code < 500:  # a client error is the answer to this request
                await run_in_threadpool(self.answer, claim, exc.status_code, exc.to_dict())
            elif not claim.answered:
                await run_in_threadpool(self.release, claim)
            raise
        except BaseException:
            if not claim.answered:  # a case committed with its answer is never released
                with anyio.CancelScope(shield=True):
                    await run_in_threadpool(self.release, claim)
            raise
        finally:
            _current.reset(token)
        if not claim.answered:
            await run_in_threadpool(self.answer, claim, 200, result)
        return result


def scope_of(tenant: str | None, kind: str, ident: str) -> str:
    """Keys are shared by a tenant's API keys; an untenanted key has its own."""
    return f"tenant:{tenant}" if tenant else f"{kind}:{ident}"
