"""Cluster-wide leases in the database: N processes on M hosts run each periodic job once per interval.

A lease is one row per job with the time it runs out. Taking it is a single conditional UPDATE (or the
first INSERT), which the database serialises, so exactly one contender wins per interval whatever the
number of workers; the losers learn when to try again. The lease lasts the job's interval, so a
holder that dies mid-run delays the next run by at most one interval and never blocks it.
"""

from __future__ import annotations

import os
import socket
import time

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from kycguard.scale.models import JobLease
from kycguard.store.database import Database


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class LeaseStore:
    def __init__(self, database: Database, holder: str | None = None) -> None:
        self.database = database
        self.holder = holder or holder_id()

    def acquire(self, name: str, ttl_s: float) -> tuple[bool, float]:
        """(True, until) when this process now holds ``name``; else (False, when it runs out)."""
        now = time.time()
        until = now + ttl_s
        with self.database.session() as session:
            taken = session.execute(
                update(JobLease)
                .where(JobLease.name == name, JobLease.until <= now)
                .values(holder=self.holder, until=until, runs=JobLease.runs + 1)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return True, until
            current = session.scalar(select(JobLease.until).where(JobLease.name == name))
        if current is not None:
            return False, current
        try:
            with self.database.session() as session:
                session.add(JobLease(name=name, holder=self.holder, until=until, runs=1))
            return True, until
        except IntegrityError:  # another process inserted it first
            with self.database.session() as session:
                current = session.scalar(select(JobLease.until).where(JobLease.name == name))
            return False, current if current is not None else now
