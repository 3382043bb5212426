"""Decision policies through the real server: real photos and rendered documents via /verify and
sessions, PostgreSQL. The default policy is changed and restored by the tests (each leaves it
active at version 1's content), so they can run in any order."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from policies.helpers import Call, Photos, audit_entries

from kycguard.policies.experiments import Variant, assign


@pytest.fixture
def restore(api: Call) -> Iterator[None]:
    """The default policy's version 1 active again after the test (a rollback, audited)."""
    yield
    r = api("POST", "/api/v1/policies/default/activate", json={"version": 1, "comment": "test"})
    assert r.status_code == 200, r.text


def _v1(api: Call) -> dict[str, Any]:
    r = api("GET", "/api/v1/policies/default/versions", role="reviewer")
    assert r.status_code == 200, r.text
    return next(v["document"] for v in r.json()["versions"] if v["version"] == 1)


def test_every_answer_records_the_default_policy_version_1(
    api: Call, verify: Callable[..., dict[str, Any]]
) -> None:
    r = api("GET", "/api/v1/policies/default", role="reviewer")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["name"], body["version"], body["active"]) == ("default", 1, True)
    assert body["created_by"] == "system"
    assert body["effective"]["high"]["thresholds"]["face_match"]["tolerance"] == 0.5
    assert body["effective"]["medium"]["thresholds"]["face_match"]["tolerance"] == 0.54
    assert body["effective"]["high"]["require_video_session"] is True

    result = verify()
    assert result["status"] == "approved", result["reasons"]
    policy = result["policy"]
    assert (policy["name"], policy["version"]) == ("default", 1)
    assert policy["risk"] == {"tier": "medium", "score": None, "source": "default"}
    assert policy["skipped_checks"] == [] and policy["required"] == []
    assert policy["experiment"] is None and policy["variant"] is None
    stored = api("GET", f"/api/v1/verifications/{result['verification_id']}", role="integrator")
    assert stored.json()["policy"] == policy  # stored on the case as answered


def test_a_policy_change_is_audited_and_the_next_decision_names_the_new_version(
    api: Call, verify: Callable[..., dict[str, Any]], restore: None
) -> None:
    document = _v1(api) | {"thresholds": {"decision": {"approve_at": 99.5}}}
    change = {"document": document, "comment": "approve only near-certain cases"}
    for role in ("integrator", "reviewer", "auditor"):
        assert api("PUT", "/api/v1/policies/default", role=role, json=change).status_code == 403
    r = api("PUT", "/api/v1/policies/default", json=change)
    assert r.status_code == 200, r.text
    version = r.json()["version"]
    assert version >= 2 and r.json()["active"] is True

    result = verify()
    assert (result["policy"]["name"], result["policy"]["version"]) == ("default", version)
    assert result["thresholds"]["approve_at"] == 99.5  # decided with the policy's threshold
    assert result["status"] == "manual_review"  # the same pair is approved under version 1
    assert result["overall_confidence"] < 99.5

    created = audit_entries(api, "policy.version_created")
    mine = [e for e in created if e["details"].get("version") == version]
    assert len(mine) == 1 and mine[0]["target_id"] == "default"
    assert mine[0]["actor_role"] == "admin"
    assert mine[0]["details"]["comment"] == "approve only near-certain cases"

    r = api("POST", "/api/v1/policies/default/activate", json={"version": 1, "comment": "rollback"})
    assert r.status_code == 200 and r.json()["version"] == 1
    again = verify()
    assert again["policy"]["version"] == 1 and again["status"] == "approved"
    versions = api("GET", "/api/v1/policies/default/versions", role="reviewer").json()["versions"]
    assert [v["version"] for v in versions][:2] == [version, version - 1]
    assert [v["version"] for v in versions if v["active"]] == [1]
    rollback = audit_entries(api, "policy.activated")
    assert any(e["details"]["previous"] == version for e in rollback)


def test_a_policys_liveness_bands_decide_the_selfies_passive_liveness(
    api: Call, verify: Callable[..., dict[str, Any]], restore: None
) -> None:
    """The detector is loaded once at start; the policy still sets its verdict bands."""
    bands = {"live_threshold": 99.9, "attack_threshold": 0.0}
    document = _v1(api) | {"thresholds": {"liveness": bands}}
    r = api("PUT", "/api/v1/policies/default", json={"document": document, "comment": "strict"})
    assert r.status_code == 200, r.text
    result = verify()
    live = result["liveness_check"]
    assert (live["threshold"], live["attack_threshold"]) == (99.9, 0.0)
    # the verdict follows the policy's bands, not the detector's start-up ones
    assert live["verdict"] == ("live" if live["score"] >= 99.9 else "uncertain")
    assert ("LIVENESS_UNCERTAIN" in result["reasons"]) is (live["score"] < 99.9)


@pytest.mark.parametrize(
    ("document", "code"),
    [
        ({"thresholds": {"face_match": {"tolerance": 0.9}}}, "INVALID_POLICY"),
        ({"thresholds": {"decision": {"approve_att": 80}}}, "INVALID_POLICY"),
        ({"checks": {"hologram": False}}, "INVALID_POLICY"),
    ],
)
def test_an_invalid_policy_is_refused_in_the_error_shape_and_nothing_changes(
    api: Call, document: dict[str, Any], code: str
) -> None:
    before = len(
        api("GET", "/api/v1/policies/default/versions", role="reviewer").json()["versions"]
    )
    r = api("PUT", "/api/v1/policies/default", json={"document": document, "comment": "bad"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code
    after = api("GET", "/api/v1/policies/default/versions", role="reviewer").json()["versions"]
    assert len(after) == before
    bad_name = api("GET", "/api/v1/policies/Bad%00Name", role="reviewer")
    assert bad_name.status_code == 422 and "error" in bad_name.json()
    assert api("GET", "/api/v1/policies/nope", role="reviewer").json()["error"]["code"] == (
        "POLICY_NOT_FOUND"
    )


def test_risk_tiers_change_which_checks_run_and_the_answer_says_why(
    api: Call, verify: Callable[..., dict[str, Any]]
) -> None:
    low = verify(risk_level="low")
    assert low["policy"]["risk"] == {"tier": "low", "score": None, "source": "caller"}
    skipped = {s["check"]: s["why"] for s in low["policy"]["skipped_checks"]}
    assert set(skipped) == {"document_tampering", "face_mirror_pass"}
    assert all("risk tier low of policy default v1" in why for why in skipped.values())
    checks = {c["name"]: c for c in low["document_authenticity"]["checks"]}
    for name in ("portrait_tampering", "mrz_geometry", "screen_capture"):
        assert (
            checks[name]["passed"] is None
            and "skipped by the decision policy" in checks[name]["detail"]
        )
    assert low["face_match"]["refined_with_mirror"] is False
    assert low["status"] == "approved"  # the other checks still approve a genuine pair

    medium = verify(risk_score="50")
    assert medium["policy"]["risk"] == {"tier": "medium", "score": 50.0, "source": "caller"}
    ran = {c["name"]: c for c in medium["document_authenticity"]["checks"]}
    assert ran["screen_capture"]["passed"] is not None  # tampering analysis ran

    high = verify(risk_score="85")
    assert high["policy"]["risk"]["tier"] == "high"
    assert high["policy"]["required"] == ["video_session"]
    assert high["thresholds"]["face_match_tolerance"] == 0.5
    assert high["face_match"]["threshold"] == 0.5
    assert "VIDEO_SESSION_REQUIRED" in high["reasons"] and high["status"] != "approved"
    assert "POST /api/v1/sessions" in high["recommendation"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"risk_level": "extreme"}, "risk_level"),
        ({"risk_score": "150"}, "risk_score"),
        ({"risk_score": "nan"}, "risk_score"),
        ({"risk_level": "low", "risk_score": "10"}, "risk_level"),
        ({"document_type": "library_card"}, "document_type"),
    ],
)
def test_a_bad_risk_value_is_a_422_before_any_model_runs(
    api: Call, photos: Photos, fields: dict[str, str], field: str
) -> None:
    files = {
        "id_document": ("d.jpg", photos.id_card, "image/jpeg"),
        "selfie": ("s.jpg", photos.holder, "image/jpeg"),
    }
    r = api("POST", "/api/v1/verify", role="integrator", files=files, data=fields)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field


RULES = [
    {
        "name": "passports",
        "match": {"document_type": "passport", "mrz_format": "TD3"},
        "effect": {"thresholds": {"decision": {"min_authenticity_score": 50}}},
        "explanation": "passport data pages: authenticity accepted from 50",
    },
    {
        "name": "id-cards",
        "match": {"mrz_format": "TD1"},
        "explanation": "ID cards carry a three-line TD1 MRZ on the back",
    },
    {
        "name": "barcode-only-licences",
        "match": {"has_mrz": False, "has_barcode": True},
        "effect": {"review": True},
        "explanation": "licences with a barcode and no MRZ are checked by a reviewer",
    },
]


def test_document_rules_fire_on_the_rendered_document_types_and_are_explained(
    api: Call, photos: Photos, verify: Callable[..., dict[str, Any]], restore: None
) -> None:
    document = _v1(api) | {"document_rules": RULES}
    r = api("PUT", "/api/v1/policies/default", json={"document": document, "comment": "rules"})
    assert r.status_code == 200, r.text

    passport = verify(document=photos.passport)
    fired = passport["policy"]["document_rules"]
    assert [f["rule"] for f in fired] == ["passports"], passport["document_authenticity"]["mrz"]
    assert fired[0]["matched_on"] == {"document_type": "passport", "mrz_format": "TD3"}
    assert fired[0]["explanation"] == RULES[0]["explanation"]
    assert fired[0]["effect"] == RULES[0]["effect"]
    assert any("document rule passports" in w for w in passport["warnings"])

    card = verify(document=photos.id_card)
    assert [f["rule"] for f in card["policy"]["document_rules"]] == ["id-cards"]
    assert card["status"] == "approved"

    licence = verify(document=photos.licence)
    assert licence["document_authenticity"]["barcode"]["count"] == 1
    assert [f["rule"] for f in licence["policy"]["document_rules"]] == ["barcode-only-licences"]
    assert "DOCUMENT_RULE_REVIEW" in licence["reasons"] and licence["status"] != "approved"


def test_a_session_pins_the_policy_resolved_at_creation(api: Call, restore: None) -> None:
    bad = api(
        "POST",
        "/api/v1/sessions",
        role="integrator",
        json={"user_id": "u-risk", "risk_level": "low", "risk_score": 5},
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "INVALID_RISK"
    r = api(
        "POST", "/api/v1/sessions", role="integrator", json={"user_id": "u-pin", "risk_score": 90}
    )
    assert r.status_code == 200, r.text
    created = r.json()
    assert created["policy"]["version"] == 1
    assert created["policy"]["risk"] == {"tier": "high", "score": 90.0, "source": "caller"}
    change = {"document": _v1(api) | {"description": "newer"}, "comment": "after the session"}
    newer = api("PUT", "/api/v1/policies/default", json=change).json()["version"]
    assert newer > 1
    done = api(
        "POST",
        f"/api/v1/sessions/{created['session_id']}/complete",
        role=None,
        headers={"X-Session-Token": created["session_token"]},
    )
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["policy"]["version"] == 1  # pinned at creation, not the active version
    assert result["policy"]["risk"]["tier"] == "high"
    assert result["thresholds"]["face_match_tolerance"] == 0.5
    assert result["status"] != "approved"  # no challenge was done


def _user_in(variant: str, variants: list[Variant]) -> str:
    return next(
        u for i in range(1000) if assign("ab-1", u := f"user-{i}", variants).name == variant
    )


def test_an_experiment_assigns_users_deterministically_and_stores_the_variant(
    api: Call, verify: Callable[..., dict[str, Any]]
) -> None:
    strict = {"thresholds": {"face_match": {"tolerance": 0.5}}}
    r = api("POST", "/api/v1/policies", json={"name": "strict", "document": strict, "comment": "B"})
    assert r.status_code == 201, r.text
    assert (
        api("POST", "/api/v1/policies", json={"name": "strict", "comment": "x"}).status_code == 409
    )
    spec = {
        "name": "ab-1",
        "variants": [
            {"name": "control", "policy": "default", "weight": 1},
            {"name": "strict", "policy": "strict", "weight": 1},
        ],
    }
    assert api("POST", "/api/v1/experiments", role="reviewer", json=spec).status_code == 403
    r = api("POST", "/api/v1/experiments", json=spec)
    assert r.status_code == 201, r.text
    second = api("POST", "/api/v1/experiments", json=spec | {"name": "ab-2"})
    assert second.status_code == 409 and second.json()["error"]["code"] == "EXPERIMENT_ACTIVE"
    try:
        variants = [Variant.model_validate(v) for v in spec["variants"]]
        b_user = _user_in("strict", variants)
        first = verify(user_id=b_user)
        retry = verify(user_id=b_user)
        for result in (first, retry):
            assert result["policy"]["experiment"] == "ab-1"
            assert result["policy"]["variant"] == "strict"
            assert (result["policy"]["name"], result["policy"]["version"]) == ("strict", 1)
            assert result["thresholds"]["face_match_tolerance"] == 0.5
        a_user = _user_in("control", variants)
        control = verify(user_id=a_user)
        assert (control["policy"]["variant"], control["policy"]["name"]) == ("control", "default")
        anonymous = verify()
        assert anonymous["policy"]["experiment"] is None
        assert anonymous["policy"]["experiment_note"] == "no user_id: not part of experiment ab-1"
        stored = api(
            "GET", f"/api/v1/verifications/{first['verification_id']}", role="integrator"
        ).json()
        assert stored["policy"]["variant"] == "strict"
        summary = api(
            "GET", "/api/v1/metrics/summary", role="auditor", params={"variant": "strict"}
        )
        assert summary.status_code == 200, summary.text
        assert summary.json()["total"] == 2  # the metrics see the variant stored on the cases
    finally:
        stopped = api("POST", "/api/v1/experiments/ab-1/stop")
        assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    after = verify(user_id=b_user)
    assert after["policy"]["experiment"] is None and after["policy"]["name"] == "default"
    listed = api("GET", "/api/v1/experiments", role="reviewer").json()["experiments"]
    assert [(e["name"], e["status"]) for e in listed] == [("ab-1", "stopped")]


def test_the_session_a_high_risk_verification_requires_is_decided_as_high_risk(
    api: Call, verify: Callable[..., dict[str, Any]]
) -> None:
    case = verify(risk_level="high", user_id="u-high")
    assert case["status"] == "manual_review" and case["policy"]["required"] == ["video_session"]
    r = api(
        "POST",
        "/api/v1/sessions",
        role="integrator",
        json={"user_id": "u-high", "verification_id": case["verification_id"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["policy"]["risk"] == {"tier": "high", "score": None, "source": "caller"}
    assert r.json()["policy"]["required"] == []  # this is the video session
