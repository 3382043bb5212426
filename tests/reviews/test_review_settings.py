"""The review settings on a real server of their own (SQLite): claims lapse after
``reviews.claim_ttl_s``, and with ``reviews.second_reviewer_for_fraud`` a rejection as fraud takes
effect only when a second, different reviewer makes it too."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from reviews.conftest import Photos
from reviews.helpers import audit_entries, case_of
from support.servers import Server

from kycguard.client import Client, ConflictError

CLAIM_TTL_S = 3


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("strict_reviews")
    srv = Server(
        {
            "KYCGUARD_DATABASE_URL": f"sqlite:///{folder / 'kycguard.db'}",
            "KYCGUARD_REVIEWS__CLAIM_TTL_S": str(CLAIM_TTL_S),
            "KYCGUARD_REVIEWS__SECOND_REVIEWER_FOR_FRAUD": "true",
        },
        folder,
    )
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def test_claims_lapse_and_fraud_rejections_need_a_second_reviewer(
    strict_server: Server, review_photos: Photos
) -> None:
    url = strict_server.base_url
    integrator = Client(url, strict_server.key("integrator", "tests"))
    alice = Client(url, strict_server.key("reviewer", "tests"))
    bob = Client(url, strict_server.key("reviewer", None))
    auditor = Client(url, strict_server.key("auditor", None))
    with integrator, alice, bob, auditor:
        answer = integrator.verify(
            review_photos.card, review_photos.blurred, user_id=f"u-{uuid.uuid4().hex[:6]}"
        )
        assert answer.status == "manual_review", answer.raw
        case = case_of(alice, answer.id)
        assert case is not None

        # Alice's claim lapses: the case is open again and Bob may take it
        alice.reviews.claim(case.id)
        with pytest.raises(ConflictError):
            bob.reviews.claim(case.id)
        time.sleep(CLAIM_TTL_S + 0.5)
        assert case_of(bob, answer.id, status="open") is not None
        alice_key = alice.reviews.get(case.id).raw["claimed_by"]  # None: lapsed
        assert alice_key is None
        assert bob.reviews.claim(case.id).status == "claimed"
        with pytest.raises(ConflictError) as lapsed:
            alice.reviews.decide(case.id, "approve")  # her claim is gone
        assert lapsed.value.code == "REVIEW_ALREADY_CLAIMED"

        # Bob rejects as fraud: only proposed, the verification still shows manual_review
        proposed = bob.reviews.decide(case.id, "reject", "SUSPECTED_FRAUD", "same face as #41")
        assert proposed.status == "open" and proposed.raw["awaiting_second_reviewer"] is True
        assert integrator.verifications.get(answer.id).status == "manual_review"
        bob.reviews.claim(case.id)
        with pytest.raises(ConflictError) as same:
            bob.reviews.decide(case.id, "reject", "SUSPECTED_FRAUD")
        assert same.value.code == "SECOND_REVIEWER_REQUIRED"
        bob.reviews.release(case.id)

        # Alice confirms: now it is decided, with both reviewers named
        alice.reviews.claim(case.id)
        final = alice.reviews.decide(case.id, "reject", "SUSPECTED_FRAUD", "confirmed")
        assert final.status == "decided" and final.decision is not None
        assert final.decision["second_reviewer"] != final.decision["reviewer"]
        shown = integrator.verifications.get(answer.id)
        assert shown.status == "rejected" and shown.review is not None
        assert shown.review["reason"] == "SUSPECTED_FRAUD"
        actions = [
            e["action"]
            for a in ("review.decision_proposed", "review.decided")
            for e in audit_entries(auditor, a)
            if e["target_id"] == case.id
        ]
        # Bob's refused second try was rolled back with its audit entry: one proposal only
        assert actions.count("review.decision_proposed") == 1
        assert actions.count("review.decided") == 1
