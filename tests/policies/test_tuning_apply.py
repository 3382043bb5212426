"""Applying a tuning report: ``kycguard tune --apply`` on the server's own database creates a new
policy version (audited, the CLI user as actor) and the next decision names it; the scheduled report
fires after N decisions and applies itself only when enabled and inside its bounds."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from policies.labelled import GENUINE, LabelledSet, run_pairs
from reviews.helpers import audit_entries

from kycguard.client import Client, PermissionDeniedError
from kycguard.policies.service import PolicyService
from kycguard.policies.tuning_service import TuningService
from kycguard.security.audit import Actor, AuditLog
from kycguard.settings import Settings
from kycguard.store.database import Database

TUNE = (sys.executable, "-m", "kycguard.cli", "tune")
SETUP = Actor("test:setup", "admin")
LOOSE = {"face_match": {"tolerance": 0.69, "clear_mismatch_distance": 0.75}}


@pytest.fixture
def db(labelled: LabelledSet) -> Iterator[Database]:
    database = Database(labelled.database_url)
    yield database
    database.close()


def _services(db: Database, **tuning: Any) -> tuple[PolicyService, TuningService]:
    settings = Settings(policies={"tuning": tuning})
    audit = AuditLog(db)
    policies = PolicyService(db, audit, settings)
    return policies, TuningService(db, audit, settings, policies)


def _set_policy(db: Database, thresholds: dict[str, Any], comment: str) -> int:
    policies, _ = _services(db)
    return policies.new_version(
        "default", {"thresholds": thresholds}, actor=SETUP, comment=comment
    ).version


def test_tune_writes_json_and_plot_and_apply_makes_the_version_the_next_decision_names(
    labelled: LabelledSet, db: Database, lfw_root: Path, tmp_path: Path
) -> None:
    before = _set_policy(db, LOOSE, "a tolerance that lets impostors through")
    out = tmp_path / "tune"
    done = subprocess.run(
        [*TUNE, "--target-far", "0.002", "--max-frr", "0.5", "--tenant", labelled.tenant,
         "--out", str(out), "--apply", "--comment", "tuned on the LFW test labels"],
        env=labelled.server.env, capture_output=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert "sweeping" in done.stderr.decode()  # the tqdm bar over the thresholds
    printed = json.loads(done.stdout)
    report = json.loads((out / "tuning.json").read_text())
    assert (out / "tuning.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["policy"] == {"name": "default", "version": before}
    assert report["labelled"]["total"] == len(labelled.cases)

    t = report["thresholds"]["face_match.tolerance"]
    fraud = [c.answer["face_match"]["distance"] for c in labelled.cases if c.was_fraud]
    assert t["current"]["value"] == 0.69
    assert t["current"]["far"]["errors"] == sum(d <= 0.69 for d in fraud) == len(fraud)
    proposed = report["proposed"]["face_match"]["tolerance"]
    assert proposed == t["recommended"]["value"] < min(fraud)
    assert printed["applied"] == {"name": "default", "version": before + 1}

    policies, _ = _services(db)
    active = policies.active("default")
    assert active.version == before + 1 and active.comment == "tuned on the LFW test labels"
    assert active.created_by.startswith("cli:")
    assert active.document.thresholds["face_match"] == {
        "tolerance": proposed,
        "clear_mismatch_distance": 0.75,
    }
    with Client(labelled.server.base_url, labelled.server.key("auditor", None)) as auditor:
        created = audit_entries(auditor, "policy.version_created")
    mine = [e for e in created if e["details"]["version"] == before + 1]
    assert len(mine) == 1 and mine[0]["actor"].startswith("cli:")
    assert mine[0]["target_id"] == "default"

    with (
        Client(labelled.server.base_url, labelled.server.key("integrator", "after-tune")) as c,
        Client(labelled.server.base_url, labelled.server.key("reviewer", "after-tune")) as r,
    ):
        (after,), _ = run_pairs(c, r, lfw_root, [(GENUINE[0], False)], seed0=100, label=False)
    assert after.answer["policy"]["name"] == "default"
    assert after.answer["policy"]["version"] == before + 1
    assert after.answer["thresholds"]["face_match_tolerance"] == proposed  # decided with it


def test_tune_of_an_unknown_policy_exits_2_with_the_error(
    labelled: LabelledSet, tmp_path: Path
) -> None:
    done = subprocess.run(
        [*TUNE, "--policy", "no-such-policy", "--out", str(tmp_path / "x")],
        env=labelled.server.env,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert json.loads(done.stderr)["error"]["code"] == "POLICY_NOT_FOUND"
    assert not (tmp_path / "x").exists()  # nothing half written


def test_tune_refuses_to_apply_a_report_made_on_an_older_version(
    labelled: LabelledSet, db: Database
) -> None:
    _set_policy(db, LOOSE, "loose again")
    _, tuning = _services(db)
    report = tuning.report(target_far=0.002, max_frr=0.5, tenant=labelled.tenant)
    assert report["proposed"]
    _set_policy(db, LOOSE, "someone changed it meanwhile")
    with pytest.raises(Exception) as caught:
        tuning.apply(report, actor=SETUP, comment="stale")
    assert getattr(caught.value, "code", None) == "POLICY_CHANGED"


def test_the_scheduled_report_fires_after_n_decisions_and_applies_only_within_bounds(
    labelled: LabelledSet, db: Database, lfw_root: Path
) -> None:
    _, probe = _services(db)
    stored_before = len(probe.reports())
    since = probe.last_report_at()
    pending = probe.decisions_since(since)
    assert pending >= len(labelled.cases)

    # N not reached: nothing is stored
    _, tuning = _services(db, every_decisions=pending + 1, min_labelled=1, auto_apply=True)
    assert tuning.scheduled() is None
    assert len(tuning.reports()) == stored_before

    # N reached, auto-apply off: stored as a proposal, audited, the policy untouched
    version = _set_policy(db, LOOSE, "loose before the scheduled report")
    _, off = _services(db, every_decisions=pending, min_labelled=1)
    row = off.scheduled()
    assert row is not None and row["status"] == "not_applied"
    assert "auto_apply is off" in row["note"] and row["applied_version"] is None
    assert row["policy"] == {"name": "default", "version": version}
    assert row["proposed"]["face_match"]["tolerance"] < 0.69
    # counted from the last report: nothing new, nothing fires
    assert off.scheduled() is None

    # one more decision with N = 1, enabled, but the step is larger than max_step: not applied
    with (
        Client(labelled.server.base_url, labelled.server.key("integrator", "scheduled")) as c,
        Client(labelled.server.base_url, labelled.server.key("reviewer", "scheduled")) as r,
    ):
        run_pairs(c, r, lfw_root, [(GENUINE[1], False)], seed0=200, label=False)
    bounds = {"face_match.tolerance": {"min": 0.3, "max": 0.7, "max_step": 0.01}}
    _, narrow = _services(db, every_decisions=1, min_labelled=1, auto_apply=True, bounds=bounds)
    row = narrow.scheduled()
    assert row is not None and row["status"] == "not_applied"
    assert "decision.approve_at has no bounds" in row["note"] or "decision" not in row["proposed"]
    assert "more than max_step 0.01" in row["note"]
    policies, _ = _services(db)
    assert policies.active("default").version == version

    # within bounds: a new version by the system, audited, named by the report
    with (
        Client(labelled.server.base_url, labelled.server.key("integrator", "scheduled")) as c,
        Client(labelled.server.base_url, labelled.server.key("reviewer", "scheduled")) as r,
    ):
        run_pairs(c, r, lfw_root, [(GENUINE[2], False)], seed0=300, label=False)
    bounds = {
        "face_match.tolerance": {"min": 0.3, "max": 0.7, "max_step": 0.5},
        "decision.approve_at": {"min": 50, "max": 99, "max_step": 50},
        "liveness.live_threshold": {"min": 20, "max": 95, "max_step": 80},
    }
    _, wide = _services(db, every_decisions=1, min_labelled=1, auto_apply=True, bounds=bounds)
    row = wide.scheduled()
    assert row is not None and row["status"] == "applied", row["note"]
    assert row["applied_version"] == version + 1
    active = policies.active("default")
    assert active.version == version + 1 and active.created_by == "system"
    assert (
        active.document.thresholds["face_match"]["tolerance"]
        == row["proposed"]["face_match"]["tolerance"]
    )

    with (
        Client(labelled.server.base_url, labelled.server.key("admin", None)) as admin,
        Client(labelled.server.base_url, labelled.server.key("auditor", None)) as auditor,
    ):
        listed = admin.request("GET", "/policies/tuning-reports", params={"limit": 3})["items"]
        applied = audit_entries(auditor, "tuning.report_applied")
        created = audit_entries(auditor, "tuning.report_created")
    assert (listed[0]["id"], listed[0]["status"]) == (row["id"], "applied")
    assert any(e["target_id"] == row["id"] and e["actor"] == "system" for e in applied)
    assert len([e for e in created if e["actor"] == "system"]) >= 3
    tenanted = Client(labelled.server.base_url, labelled.server.key("reviewer", "tuning"))
    with tenanted, pytest.raises(PermissionDeniedError) as denied:
        tenanted.request("GET", "/policies/tuning-reports")
    assert denied.value.code == "FORBIDDEN_FOR_TENANT"
