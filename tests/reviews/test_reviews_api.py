"""The review workflow end to end, through kycguard.client against the real server (SQLite and
PostgreSQL): a manual_review verification becomes a case, one reviewer claims and decides it, and
the audit log, the verification's shown status and the metrics all show the decision."""

from __future__ import annotations

import io
import itertools
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from PIL import Image
from reviews.conftest import Photos
from reviews.helpers import audit_entries, case_of
from sqlalchemy import create_engine, text
from support.servers import Server

from kycguard.client import (
    Client,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from kycguard.store.personal import public_view

Clients = Callable[..., Client]


def _stored_result(database_url: str, verification_id: str) -> dict[str, object]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            raw = conn.execute(
                text("SELECT result FROM verifications WHERE id = :i"), {"i": verification_id}
            ).scalar_one()
    finally:
        engine.dispose()
    return raw if isinstance(raw, dict) else json.loads(raw)


def _sample(scrape: str, name: str, labels: dict[str, str]) -> float:
    """The value of one sample of a Prometheus exposition (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(scrape):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def test_reasons_are_the_fixed_list(clients: Clients) -> None:
    codes = [r["code"] for r in clients("reviewer").reviews.reasons()]
    for code in (
        "BLURRY_IMAGE",
        "CUT_IMAGE",
        "UNSUPPORTED_DOCUMENT",
        "DAMAGED_DOCUMENT",
        "EXPIRED_DOCUMENT",
        "COPY_OF_A_COPY",
        "FACE_UNCLEAR",
        "FACE_NOT_MATCHING",
        "SUSPECTED_FRAUD",
    ):
        assert code in codes


def test_reviewer_claims_and_decides_a_case_over_http(
    clients: Clients, review_photos: Photos, user: str, database_url: str
) -> None:
    integrator = clients("integrator")
    alice, bob = clients("reviewer"), clients("reviewer", None)  # a tenant's and an all-tenant one
    auditor, other_tenant = clients("auditor", None), clients("reviewer", "another-tenant")

    answer = integrator.verify(review_photos.card, review_photos.blurred, user_id=user)
    assert answer.status == "manual_review", answer.raw
    case = case_of(alice, answer.id, status="open")
    assert case is not None and case.kind == "verification" and case.status == "open"
    assert case.raw["user_id"] == user and case.raw["tenant"] == "tests"
    assert set(answer.reasons) <= set(case.reasons) and 0 <= case.risk_score <= 100
    assert case_of(other_tenant, answer.id) is None  # another tenant's reviewer never sees it
    with pytest.raises(NotFoundError):
        other_tenant.reviews.get(case.id)

    # the evidence: the stored answer and the two images, decrypted for this request
    full = alice.reviews.get(case.id)
    assert full.evidence is not None and full.evidence["result"] == answer.raw
    kinds = {i["kind"] for i in full.evidence["images"]}
    assert kinds == {"document_portrait", "selfie"}
    selfie = alice.reviews.image(case.id, "selfie")
    assert Image.open(io.BytesIO(selfie)).format == "JPEG"
    assert selfie == review_photos.blurred  # the upload itself, as kept (encrypted) at rest
    portrait = Image.open(io.BytesIO(alice.reviews.image(case.id, "document_portrait")))
    assert portrait.format == "JPEG" and min(portrait.size) >= 40
    with pytest.raises(NotFoundError):
        alice.reviews.image(case.id, "selfie_template")  # templates are never evidence

    before = alice.metrics.summary()
    # no decision without a claim; one claim at a time
    with pytest.raises(ConflictError) as not_claimed:
        alice.reviews.decide(case.id, "approve", "VERIFIED_BY_REVIEWER")
    assert not_claimed.value.code == "REVIEW_NOT_CLAIMED"
    claimed = alice.reviews.claim(case.id)
    assert claimed.status == "claimed" and claimed.claimed_by
    assert claimed.raw["claim_expires_at"] is not None
    with pytest.raises(ConflictError) as taken:
        bob.reviews.claim(case.id)
    assert taken.value.code == "REVIEW_ALREADY_CLAIMED"
    assert taken.value.details["claimed_by"] == claimed.claimed_by
    with pytest.raises(ConflictError):
        bob.reviews.decide(case.id, "reject", "SUSPECTED_FRAUD")
    assert case_of(bob, answer.id, status="claimed") is not None
    assert case_of(bob, answer.id, status="open") is None
    with pytest.raises(InvalidRequestError) as bad_reason:
        alice.reviews.decide(case.id, "reject", "BECAUSE")
    assert bad_reason.value.code == "INVALID_REVIEW_REASON"

    decided = alice.reviews.decide(case.id, "approve", "VERIFIED_BY_REVIEWER", "face clear on zoom")
    assert decided.status == "decided" and decided.decision is not None
    assert decided.decision["decision"] == "approve" and decided.decision["notes"]
    with pytest.raises(ConflictError) as again:
        bob.reviews.claim(case.id)
    assert again.value.code == "REVIEW_ALREADY_DECIDED"

    # the verification now shows the reviewer's outcome; the stored original is untouched
    shown = integrator.verifications.get(answer.id)
    assert shown.status == "approved" and shown.review is not None
    assert shown.review["original_status"] == "manual_review"
    assert (
        shown.review["decision"] == "approve" and shown.review["reason"] == "VERIFIED_BY_REVIEWER"
    )
    read_view = ("status", "review", "video_session", "final_decision")
    assert {k: v for k, v in shown.raw.items() if k not in read_view} == {
        k: v for k, v in answer.raw.items() if k != "status"
    }
    assert shown.raw["final_decision"] == "approved" and shown.raw["video_session"] is None
    # the clear part of the stored record is still the original's public view (the whole original
    # stays sealed beside it, unchanged: the evidence above decrypted it)
    assert _stored_result(database_url, answer.id) == public_view(answer.raw)

    # every view and action is in the audit log, by this reviewer's key
    actor = claimed.claimed_by
    for action in ("review.evidence_viewed", "review.claimed", "review.decided"):
        mine = [e for e in audit_entries(auditor, action) if e["target_id"] == case.id]
        assert mine and all(e["actor"] == actor for e in mine), action
    images = [e for e in audit_entries(auditor, "review.image_viewed") if e["target_id"] == case.id]
    assert sorted(e["details"]["image"] for e in images) == ["document_portrait", "selfie"]
    decided_entry = [
        e for e in audit_entries(auditor, "review.decided") if e["target_id"] == case.id
    ]
    assert decided_entry[0]["details"] == {"decision": "approve", "reason": "VERIFIED_BY_REVIEWER"}

    # the metrics count it: one more approved in the end, one fewer waiting, one review decision
    after = alice.metrics.summary()
    assert after["final"]["approved"] == before["final"]["approved"] + 1
    assert after["final"]["manual_review"] == before["final"]["manual_review"] - 1
    assert after["reviewed"] == before["reviewed"] + 1
    assert after["review_decisions"]["approve"] == before["review_decisions"]["approve"] + 1
    assert after["manual_review"] == before["manual_review"]  # the service's own decision stays

    # Prometheus: the decision by outcome, request durations by route template, nothing personal
    scrape = alice.metrics.prometheus()
    approved = {"kind": "verification", "decision": "approve", "status": "approved"}
    assert _sample(scrape, "kycguard_review_decisions_total", approved) >= 1
    claim_route = {"route": "/api/v1/reviews/{review_id}/claim", "method": "POST", "status": "200"}
    assert _sample(scrape, "kycguard_http_request_duration_seconds_count", claim_route) >= 1
    steps = {"decode_and_faces", "quality", "face_match", "document_checks", "passive_liveness"}
    assert steps <= set(answer.raw["timings_ms"])
    detection = {"detector": "decode_and_faces"}
    assert _sample(scrape, "kycguard_detector_seconds_count", detection) >= 1
    waiting = {"kind": "verification", "status": "manual_review"}
    assert _sample(scrape, "kycguard_decisions_total", waiting) >= 1
    assert answer.id not in scrape and user not in scrape and case.id not in scrape


def test_release_gives_the_case_back(clients: Clients, review_photos: Photos, user: str) -> None:
    answer = clients("integrator").verify(review_photos.card, review_photos.blurred, user_id=user)
    assert answer.status == "manual_review", answer.raw
    alice, bob = clients("reviewer"), clients("reviewer", None)
    case = case_of(alice, answer.id)
    assert case is not None
    alice.reviews.claim(case.id)
    with pytest.raises(ConflictError):
        bob.reviews.release(case.id)  # only the holder releases
    assert alice.reviews.release(case.id).status == "open"
    assert bob.reviews.claim(case.id).status == "claimed"
    resubmit = bob.reviews.decide(case.id, "request_resubmission", "BLURRY_IMAGE")
    assert resubmit.status == "decided"
    shown = clients("integrator").verifications.get(answer.id)
    assert shown.status == "rejected" and shown.review is not None
    assert shown.review["decision"] == "request_resubmission"


def test_queue_is_ordered_by_risk_then_age_and_pages(clients: Clients) -> None:
    reviewer = clients("reviewer", None)
    seen: list[tuple[int, str]] = []
    page = reviewer.reviews.list(limit=2)
    ids: list[str] = []
    while page is not None:
        assert len(page.items) <= 2
        seen += [(c.risk_score, c.raw["created_at"]) for c in page]
        ids += [c.id for c in page]
        page = page.next_page()
    assert len(seen) >= 2, "the earlier tests opened at least two cases"
    assert len(ids) == len(set(ids)), "pages never repeat a case"
    for (r1, t1), (r2, t2) in itertools.pairwise(seen):
        assert r1 > r2 or (r1 == r2 and datetime.fromisoformat(t1) <= datetime.fromisoformat(t2))
    with pytest.raises(InvalidRequestError):
        reviewer.reviews.list(cursor="not-a-cursor")


def test_feedback_labels_drive_far_and_frr(
    clients: Clients, review_photos: Photos, user: str
) -> None:
    integrator, reviewer = clients("integrator"), clients("reviewer")
    start = datetime.now(UTC).isoformat()  # a verification's created_at is set as it is decided
    accepted = integrator.verify(review_photos.card, review_photos.holder, user_id=user)
    refused = integrator.verify(review_photos.card, review_photos.other_person, user_id=user + "b")
    assert accepted.status == "approved" and refused.status == "rejected"
    window = {"from_": start, "to": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()}

    base = reviewer.metrics.summary(**window)
    assert base["total"] == 2 and base["labelled"] == 0
    assert base["false_accept_rate"] == {"rate": None, "errors": 0, "total": 0, "ci95": [0.0, 1.0]}

    # the approved one was a fraud (a false accept); the rejected one a genuine person (false reject)
    label = reviewer.verifications.feedback(accepted.id, was_fraud=True, notes="chargeback")
    assert label["was_fraud"] is True
    reviewer.verifications.feedback(refused.id, was_fraud=False, notes="customer called")
    m = reviewer.metrics.summary(**window)
    assert m["labelled"] == 2
    assert m["false_accept_rate"]["errors"] == 1 and m["false_accept_rate"]["total"] == 1
    assert m["false_reject_rate"]["errors"] == 1 and m["false_reject_rate"]["total"] == 1
    assert m["false_accept_rate"]["rate"] == 1.0
    assert m["false_accept_rate"]["ci95"] == pytest.approx([0.206543, 1.0], abs=1e-5)

    # relabelled genuine: no fraud left, two genuine of which one was refused
    reviewer.verifications.feedback(accepted.id, was_fraud=False)
    m = reviewer.metrics.summary(**window)
    assert m["false_accept_rate"]["total"] == 0
    assert (m["false_reject_rate"]["errors"], m["false_reject_rate"]["total"]) == (1, 2)
    assert m["false_reject_rate"]["rate"] == 0.5
    assert m["false_reject_rate"]["ci95"] == pytest.approx([0.094529, 0.905471], abs=1e-5)

    # the dashboard's buckets agree with the summary over the same window
    series = reviewer.metrics.timeseries(bucket="hour", **window)
    buckets = series["buckets"]
    assert sum(b["total"] for b in buckets) == m["total"] == 2
    assert sum(b["approved"] for b in buckets) == m["approved"]
    assert sum(b["false_reject_rate"]["errors"] for b in buckets) == 1
    assert sum(b["false_reject_rate"]["total"] for b in buckets) == 2

    # wrong callers and inputs get the one error shape
    with pytest.raises(PermissionDeniedError):
        integrator.verifications.feedback(accepted.id, was_fraud=True)
    with pytest.raises(NotFoundError) as unknown:
        reviewer.verifications.feedback("no-such-verification", was_fraud=True)
    assert unknown.value.code == "VERIFICATION_NOT_FOUND"
    with pytest.raises(NotFoundError):
        clients("reviewer", "another-tenant").verifications.feedback(accepted.id, was_fraud=True)
    with pytest.raises(InvalidRequestError):
        reviewer.request("POST", f"/verify/{accepted.id}/feedback", json={"was_fraud": "maybe"})


def test_json_logs_carry_the_request_id_and_no_personal_data(
    server: Server, review_photos: Photos, user: str
) -> None:
    rid = f"req-{uuid.uuid4().hex}"
    with httpx.Client(base_url=server.base_url, timeout=120) as c:
        r = c.post(
            "/api/v1/verify",
            headers=server.headers() | {"X-Request-ID": rid},
            files={
                "id_document": ("id.jpg", review_photos.card, "image/jpeg"),
                "selfie": ("s.jpg", review_photos.blurred, "image/jpeg"),
            },
            data={"user_id": user},
        )
        assert r.status_code == 200 and r.headers["X-Request-ID"] == rid
        verification_id = r.json()["verification_id"]
        got = c.get(f"/api/v1/verifications/{verification_id}", headers=server.headers())
        generated = got.headers["X-Request-ID"]
        assert len(generated) == 32 and generated != rid
        bogus = c.get("/health", headers={"X-Request-ID": "bad id with spaces"})
        assert bogus.headers["X-Request-ID"] != "bad id with spaces"
    deadline = time.monotonic() + 10
    while rid not in server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    text_log = server.log.read_text()
    lines = [json.loads(line) for line in text_log.splitlines() if '"request_id"' in line]
    mine = [e for e in lines if e["request_id"] == rid]
    assert [(e["route"], e["method"], e["status"]) for e in mine] == [
        ("/api/v1/verify", "POST", 200)
    ]
    assert any(e.get("route") == "/api/v1/verifications/{verification_id}" for e in lines)
    assert user not in text_log and verification_id not in text_log
