"""Known faces on the real server: a face labelled fraud that comes back, one face under several
identities of a tenant, and no match across tenants. Real photos of one person (two different
pictures of him), through kycguard.client."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from reviews.conftest import Photos
from reviews.helpers import audit_entries, case_of

from kycguard.client import Client

Clients = Callable[..., Client]


def test_reused_fraud_face_and_other_identity_are_caught(
    clients: Clients, review_photos: Photos
) -> None:
    tenant = f"kf-{uuid.uuid4().hex[:8]}"  # a fresh tenant: its face index starts empty
    integrator, reviewer = clients("integrator", tenant), clients("reviewer", tenant)
    auditor = clients("auditor", None)

    first = integrator.verify(review_photos.card, review_photos.holder, user_id="mule-1")
    assert first.status == "approved", first.raw
    assert case_of(reviewer, first.id) is None  # approved and nothing known: no case
    reviewer.verifications.feedback(first.id, was_fraud=True, notes="stolen identity")

    # the same person comes back under the same user id: the fraud face is recognised
    again = integrator.verify(review_photos.card, review_photos.holder, user_id="mule-1")
    case = case_of(reviewer, again.id)
    assert case is not None, "a known fraud face opens a review case whatever the decision"
    assert "KNOWN_FRAUD_FACE" in case.reasons and "FACE_UNDER_OTHER_IDENTITY" not in case.reasons
    assert case.risk_score == 100 and case.raw["original_status"] == again.status
    matched = [
        e for e in audit_entries(auditor, "known_face.matched") if e["target_id"] == again.id
    ]
    assert [e["details"]["match"] for e in matched] == ["labelled_fraud"]
    assert matched[0]["details"]["other_case_id"] == first.id
    assert matched[0]["details"]["distance"] < 0.05  # the very same photo

    # a different photo of the same face under another identity: both matches
    blurred = integrator.verify(review_photos.card, review_photos.blurred, user_id="mule-2")
    case = case_of(reviewer, blurred.id)
    assert case is not None
    assert {"KNOWN_FRAUD_FACE", "FACE_UNDER_OTHER_IDENTITY"} <= set(case.reasons)
    kinds = {
        e["details"]["match"]
        for e in audit_entries(auditor, "known_face.matched")
        if e["target_id"] == blurred.id
    }
    assert kinds == {"labelled_fraud", "other_identity"}

    # another person under yet another identity: nothing is matched
    stranger = integrator.verify(review_photos.card, review_photos.other_person, user_id="stranger")
    assert not [
        e for e in audit_entries(auditor, "known_face.matched") if e["target_id"] == stranger.id
    ]

    # a genuine label takes the face off the fraud list
    reviewer.verifications.feedback(first.id, was_fraud=False)
    cleared = integrator.verify(review_photos.card, review_photos.holder, user_id="mule-1")
    # (mule-2's face, the blurred photo, is still another identity of this person)
    kinds = {
        e["details"]["match"]
        for e in audit_entries(auditor, "known_face.matched")
        if e["target_id"] == cleared.id
    }
    assert kinds == {"other_identity"}

    # the same face in another tenant is not searched against this tenant's faces
    elsewhere = clients("integrator", f"kf-other-{uuid.uuid4().hex[:8]}")
    outside = elsewhere.verify(review_photos.card, review_photos.holder, user_id="mule-9")
    assert outside.status == "approved"
    assert case_of(clients("reviewer", None), outside.id) is None
