"""Helpers of the review tests."""

from __future__ import annotations

from typing import Any

from kycguard.client import Client, ReviewCase


def case_of(reviewer: Client, case_id: str, **filters: Any) -> ReviewCase | None:
    """The review case of a verification or session, walking every page of the queue."""
    page = reviewer.reviews.list(limit=200, **filters)
    while page is not None:
        for case in page:
            if case.case_id == case_id:
                return case
        page = page.next_page()
    return None


def audit_entries(auditor: Client, action: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    after = 0
    while True:
        body = auditor.request("GET", "/audit", params={"action": action, "after_seq": after})
        entries += body["entries"]
        if not body["entries"]:
            return entries
        after = body["next_after_seq"]
