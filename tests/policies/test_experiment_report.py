"""The A/B experiment report on real cases: the labelled LFW cases were decided under an A/A
experiment (both variants on the default policy, users split by the hash of their id). The report's
counts add up to the cases and match a recount from the answers ``/verify`` gave; on 14 cases every
test says the sample is too small; the CLI and ``/api/v1/metrics/summary?variant=`` agree with it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest
from policies.labelled import EXPERIMENT, LabelledSet

from kycguard.client import Client, InvalidRequestError, NotFoundError
from kycguard.policies.report import mean_test, proportion_test

REPORT = (sys.executable, "-m", "kycguard.cli", "experiments", "report")


def _reviewer(labelled: LabelledSet) -> Client:
    return Client(labelled.server.base_url, labelled.server.key("reviewer", labelled.tenant))


def test_the_report_counts_add_up_to_the_cases_and_say_too_small(labelled: LabelledSet) -> None:
    with _reviewer(labelled) as reviewer:
        report = reviewer.request("GET", f"/experiments/{EXPERIMENT}/report")
        by_summary = {
            v: reviewer.metrics.summary(variant=v)["total"] for v in ("control", "treatment")
        }
    variants = report["variants"]
    assert set(variants) == {"control", "treatment"}
    assert report["cases"] == len(labelled.cases) == sum(v["cases"] for v in variants.values())
    for name, v in variants.items():
        mine = [c for c in labelled.cases if c.answer["policy"]["variant"] == name]
        status = Counter(c.answer["status"] for c in mine)
        assert v["cases"] == len(mine) == v["approved"] + v["manual_review"] + v["rejected"]
        assert (v["approved"], v["manual_review"], v["rejected"]) == (
            status["approved"],
            status["manual_review"],
            status["rejected"],
        )
        assert v["labelled"] == len(mine)
        fraud = [c for c in mine if c.was_fraud and c.answer["status"] != "manual_review"]
        caught = sum(c.answer["status"] != "approved" for c in fraud)
        assert (v["fraud_caught"]["errors"], v["fraud_caught"]["total"]) == (caught, len(fraud))
        assert v["approval_rate"]["total"] == len(mine)
        assert by_summary[name] == len(mine)  # the metrics' own figure for the variant
    assert all(c.answer["policy"]["experiment"] == EXPERIMENT for c in labelled.cases)
    for metric, t in report["tests"].items():
        assert t["verdict"] == "too_small", (metric, t)
        assert t["p_value"] is None and "sample too small to conclude" in t["message"]


def test_the_cli_prints_the_same_report(labelled: LabelledSet) -> None:
    done = subprocess.run(
        [*REPORT, EXPERIMENT, "--json", "--tenant", labelled.tenant],
        env=labelled.server.env,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    printed = json.loads(done.stdout)
    with _reviewer(labelled) as reviewer:
        served = reviewer.request("GET", f"/experiments/{EXPERIMENT}/report")
    assert printed["variants"] == served["variants"]
    assert printed["tests"] == served["tests"]
    text = subprocess.run(
        [*REPORT, EXPERIMENT, "--tenant", labelled.tenant],
        env=labelled.server.env,
        capture_output=True,
        timeout=300,
    ).stdout.decode()
    assert "control:" in text and "treatment:" in text and "too_small" in text


def test_bad_report_requests_get_a_4xx_in_the_one_error_shape(labelled: LabelledSet) -> None:
    with _reviewer(labelled) as reviewer:
        with pytest.raises(NotFoundError) as missing:
            reviewer.request("GET", "/experiments/no-such-experiment/report")
        assert missing.value.code == "EXPERIMENT_NOT_FOUND"
        url = f"/experiments/{EXPERIMENT}/report"
        with pytest.raises(InvalidRequestError) as backwards:
            reviewer.request("GET", url, params={"from": "2026-12-01", "to": "2026-11-01"})
        assert (backwards.value.status_code, backwards.value.code) == (422, "INVALID_REQUEST")
        assert backwards.value.field == "from"
        with pytest.raises(InvalidRequestError) as zero:
            reviewer.request("GET", url, params={"min_cases": 0})
        assert zero.value.status_code == 422


def test_the_tests_conclude_only_on_enough_cases() -> None:
    """The statistics on their own: a clear difference on 200 cases per variant is significant,
    equal rates are not, and 10 per variant are too small whatever the rates."""
    clear = proportion_test([(180, 200), (120, 200)], min_cases=30)
    assert clear["verdict"] == "significant" and clear["p_value"] < 1e-9
    same = proportion_test([(150, 200), (150, 200)], min_cases=30)
    assert same["verdict"] == "not_significant" and same["p_value"] == 1.0
    small = proportion_test([(9, 10), (1, 10)], min_cases=30)
    assert small["verdict"] == "too_small" and small["p_value"] is None
    rare = proportion_test([(1, 100), (0, 100)], min_cases=30)  # expected counts below 5
    assert rare["verdict"] == "too_small" and "expected count" in rare["message"]
    means = mean_test([[90.0 + i % 3 for i in range(40)], [70.0 + i % 3 for i in range(40)]], 30)
    assert means["verdict"] == "significant" and means["test"] == "welch-t"
