"""PolicyService on real SQLite and PostgreSQL: versions, validation, activation, bootstrap, audit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kycguard.errors import KycError
from kycguard.policies.document import PolicyDocument
from kycguard.policies.service import PolicyService
from kycguard.security.audit import Actor, AuditLog
from kycguard.settings import Settings
from kycguard.store.database import Database, upgrade

ADMIN = Actor("key:test-admin", "admin")


@pytest.fixture(params=["sqlite", "postgres"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PolicyService]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'kycguard.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    upgrade(url)
    db = Database(url)
    # a policy name per test: the PostgreSQL database is shared by the session
    name = f"p{abs(hash(request.node.nodeid)) % 10**8}"
    settings = Settings(data_dir=tmp_path, policies={"default_policy": name})
    try:
        yield PolicyService(db, AuditLog(db), settings)
    finally:
        db.close()


def test_bootstrap_creates_version_1_once_even_from_many_workers(service: PolicyService) -> None:
    created: list[bool] = []
    threads = [
        threading.Thread(target=lambda: created.append(service.bootstrap())) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert created.count(True) == 1
    history = service.history(service.settings.policies.default_policy)
    assert [v.version for v in history] == [1]
    v1 = service.active()
    assert v1.version == 1 and v1.active and v1.created_by == "system"
    assert set(v1.document.risk_tiers) == {"low", "medium", "high"}
    assert v1.document.thresholds == {}  # the deployment's settings, unchanged


def test_new_version_is_active_audited_and_keeps_history(service: PolicyService) -> None:
    service.bootstrap()
    name = service.settings.policies.default_policy
    v2 = service.new_version(
        name,
        {"thresholds": {"face_match": {"tolerance": 0.5}}},
        actor=ADMIN,
        comment="fewer false accepts",
    )
    assert (v2.version, v2.active, v2.created_by) == (2, True, "key:test-admin")
    assert service.active(name).version == 2
    assert [(v.version, v.active) for v in service.history(name)] == [(2, True), (1, False)]
    assert service.get(name, 1).document.risk_tiers  # v1 kept unchanged
    entries = [
        e
        for e in service.audit.entries(action="policy.version_created", limit=1000)
        if e["target_id"] == name
    ]
    assert sorted(e["details"]["version"] for e in entries) == [1, 2]
    assert {e["actor"] for e in entries} == {"system", "key:test-admin"}
    assert entries[-1]["details"]["document"]["thresholds"] == {"face_match": {"tolerance": 0.5}}
    rolled = service.activate(name, 1, actor=ADMIN, comment="rollback")
    assert rolled.version == 1 and service.active(name).version == 1
    assert service.new_version(name, {}, actor=ADMIN, comment="x", activate=False).version == 3
    assert service.active(name).version == 1


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ({"thresholds": {"face_match": {"tolerance": 0.7}}}, "clear_mismatch_distance"),
        ({"thresholds": {"decision": {"review_at": 90}}}, "review_at"),
        ({"thresholds": {"nonsense": {"x": 1}}}, "unknown thresholds section"),
        ({"thresholds": {"decision": {"approve_att": 80}}}, "approve_att"),
        ({"checks": {"hologram": False}}, "hologram"),
        ({"thresholds": {"decision": {"weight_quality": float("inf")}}}, "not finite"),
        ({"risk_tiers": {"low": {"score": [0, 50]}}}, "default_tier"),
        (
            {
                "risk_tiers": {"low": {"score": [0, 50]}, "medium": {"score": [40, 100]}},
            },
            "overlap",
        ),
        (
            {"document_rules": [{"name": "r", "match": {}, "explanation": "e"}]},
            "at least one field",
        ),
        (
            {
                "document_rules": [
                    {
                        "name": "r",
                        "match": {"has_mrz": False},
                        "effect": {"thresholds": {"face_match": {"tolerance": 0.5}}},
                        "explanation": "e",
                    }
                ]
            },
            "decision/evidence",
        ),
    ],
)
def test_invalid_documents_are_refused_with_reasons(
    service: PolicyService, document: dict[str, object], words: str
) -> None:
    with pytest.raises(KycError) as err:
        service.new_version("bad", document, actor=ADMIN, comment="x")
    assert err.value.code == "INVALID_POLICY" and err.value.status_code == 422
    assert words in str(err.value.to_dict())
    with pytest.raises(KycError) as missing:
        service.active("bad")  # nothing was written
    assert missing.value.code == "POLICY_NOT_FOUND"


def test_a_merged_threshold_is_validated_on_the_deployment_settings(tmp_path: Path) -> None:
    """0.6 is a valid tolerance with the default clear_mismatch_distance (0.65) but not with a
    deployment that set it to 0.58: the policy is checked against what it will really run on."""
    assert PolicyDocument.model_validate({"thresholds": {"face_match": {"tolerance": 0.6}}})
    url = f"sqlite:///{tmp_path / 'k.db'}"
    upgrade(url)
    db = Database(url)
    settings = Settings(data_dir=tmp_path, face_match={"clear_mismatch_distance": 0.58})
    with pytest.raises(KycError) as err:
        PolicyService(db, AuditLog(db), settings).new_version(
            "strict", {"thresholds": {"face_match": {"tolerance": 0.6}}}, actor=ADMIN, comment=""
        )
    db.close()
    assert "clear_mismatch_distance" in err.value.message
