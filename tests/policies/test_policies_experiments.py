"""A/B assignment and the experiment service (real SQLite and PostgreSQL, no server)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from kycguard.errors import KycError
from kycguard.policies.experiments import ExperimentService, Variant, assign
from kycguard.policies.service import PolicyService
from kycguard.security.audit import Actor, AuditLog
from kycguard.settings import Settings
from kycguard.store.database import Database, upgrade

ADMIN = Actor("key:admin", "admin")
AB = [Variant(name="a", policy="default", weight=1), Variant(name="b", policy="other", weight=1)]


def test_the_same_user_always_gets_the_same_variant() -> None:
    first = [assign("exp", f"user-{i}", AB).name for i in range(500)]
    again = [assign("exp", f"user-{i}", list(AB)).name for i in range(500)]
    assert first == again
    # another experiment reshuffles users: assignments are independent between experiments
    other = [assign("exp-2", f"user-{i}", AB).name for i in range(500)]
    assert 150 < sum(x != y for x, y in zip(first, other, strict=True)) < 350


@pytest.mark.parametrize("weights", [(1, 1), (9, 1), (1, 2, 1)])
def test_the_split_of_many_users_is_near_the_weights(weights: tuple[int, ...]) -> None:
    variants = [Variant(name=f"v{i}", policy="p", weight=w) for i, w in enumerate(weights)]
    n = 20_000
    counts = Counter(assign("split", f"u{i}", variants).name for i in range(n))
    assert sum(counts.values()) == n
    for i, w in enumerate(weights):
        expected = w / sum(weights)
        sd = (expected * (1 - expected) / n) ** 0.5
        assert abs(counts[f"v{i}"] / n - expected) < 4 * sd, (counts, expected)


@pytest.fixture(params=["sqlite", "postgres"])
def services(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[PolicyService, ExperimentService]]:
    from support.databases import scratch_database

    with scratch_database(str(request.param), tmp_path) as url:
        upgrade(url)
        db = Database(url)
        audit = AuditLog(db)
        policies = PolicyService(db, audit, Settings(data_dir=tmp_path))
        policies.bootstrap()
        policies.new_version("other", {}, actor=ADMIN, comment="variant b")
        try:
            yield policies, ExperimentService(db, audit, policies)
        finally:
            db.close()


def test_one_experiment_at_a_time_audited_start_and_stop(
    services: tuple[PolicyService, ExperimentService],
) -> None:
    _, experiments = services
    spec = {"name": "e1", "variants": [v.model_dump() for v in AB]}
    started = experiments.start(spec, actor=ADMIN)
    assert started.status == "active" and experiments.active() == started
    with pytest.raises(KycError) as busy:
        experiments.start(spec | {"name": "e2"}, actor=ADMIN)
    assert (busy.value.code, busy.value.status_code) == ("EXPERIMENT_ACTIVE", 409)
    stopped = experiments.stop("e1", actor=ADMIN)
    assert stopped.status == "stopped" and stopped.stopped_by == "key:admin"
    assert experiments.active() is None
    with pytest.raises(KycError) as reused:
        experiments.start(spec, actor=ADMIN)
    assert reused.value.code == "EXPERIMENT_EXISTS"
    actions = [e["action"] for e in experiments.audit.entries(limit=1000)]
    assert actions.count("experiment.started") == 1  # the refused starts wrote nothing
    assert actions.count("experiment.stopped") == 1


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        (
            {"name": "x", "variants": [{"name": "a", "policy": "default", "weight": 1}]},
            "INVALID_EXPERIMENT",
        ),
        (
            {
                "name": "x",
                "variants": [
                    {"name": "a", "policy": "default", "weight": 1},
                    {"name": "a", "policy": "other", "weight": 1},
                ],
            },
            "INVALID_EXPERIMENT",
        ),
        (
            {
                "name": "x",
                "variants": [
                    {"name": "a", "policy": "default", "weight": 0},
                    {"name": "b", "policy": "other", "weight": 1},
                ],
            },
            "INVALID_EXPERIMENT",
        ),
        (
            {
                "name": "x",
                "variants": [
                    {"name": "a", "policy": "default", "weight": 1},
                    {"name": "b", "policy": "missing", "weight": 1},
                ],
            },
            "POLICY_NOT_FOUND",
        ),
    ],
)
def test_a_bad_experiment_is_refused(
    services: tuple[PolicyService, ExperimentService], spec: dict[str, object], code: str
) -> None:
    _, experiments = services
    with pytest.raises(KycError) as err:
        experiments.start(spec, actor=ADMIN)
    assert err.value.code == code
    assert experiments.active() is None
