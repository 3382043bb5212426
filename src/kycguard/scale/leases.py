"""Cluster-wide leases in the database: N processes on M hosts run each periodic job once per interval.

A lease is one row per job with the time its last run started. Taking it is a single conditional
UPDATE (``ran_at <= now - interval``, or the first INSERT), which the database serialises, so exactly
one contender wins per interval whatever the number of workers; the losers learn when to try again.
The interval is the caller's own, so a process restarted with another configuration (or after a
holder died mid-run) is never blocked by the old holder's interval.
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

    def acquire(self, name: str, interval_s: float) -> tuple[bool, float]:
        """(True, next due) when this process runs ``name`` now; else (False, when it is due)."""
        now = time.time()
        with self.database.session() as session:
            taken = session.execute(
                update(JobLease)
                .where(JobLease.name == name, JobLease.ran_at <= now - interval_s)
                .values(holder=self.holder, ran_at=now, runs=JobLease.runs + 1)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return True, now + interval_s
            last = session.scalar(select(JobLease.ran_at).where(JobLease.name == name))
        if last is not None:
            return False, last + interval_s
        try:
            with self.database.session() as session:
                session.add(JobLease(name=name, holder=self.holder, ran_at=now, runs=1))
            return True, now + interval_s
        except IntegrityError:  # another process inserted it first
            return False, now + interval_s
