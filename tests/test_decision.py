"""The graduated decision: bands, hard rules that override the score, and consistent output."""

from __future__ import annotations

import numpy as np
import pytest

from kycguard.decision.calibration import Calibration, fit
from kycguard.decision.engine import Status, decide
from kycguard.decision.findings import Finding, Severity
from kycguard.settings import DecisionSettings

S = DecisionSettings()


@pytest.mark.parametrize(
    ("face", "expected"),
    [(99.0, Status.APPROVED), (80.0, Status.MANUAL_REVIEW), (40.0, Status.REJECTED)],
)
def test_bands(face: float, expected: Status) -> None:
    d = decide({"face_match": face, "quality": face, "document": face}, [], S)
    assert d.status is expected
    assert d.overall_confidence == pytest.approx(face)


def test_missing_components_do_not_count_as_zero() -> None:
    d = decide({"face_match": 95.0, "quality": 90.0, "document": None, "liveness": None}, [], S)
    assert d.overall_confidence == pytest.approx((0.6 * 95 + 0.2 * 90) / 0.8, abs=0.1)
    assert d.status is Status.APPROVED


@pytest.mark.parametrize("code", ["FACE_MISMATCH", "DOCUMENT_EXPIRED", "NO_FACE_IN_DOCUMENT"])
def test_hard_rule_overrides_a_high_score(code: str) -> None:
    d = decide({"face_match": 99.0, "quality": 99.0}, [Finding(code, "why", Severity.REJECT)], S)
    assert d.status is Status.REJECTED
    assert d.overall_confidence < S.review_at
    assert d.score_before_rules == pytest.approx(99.0)
    assert d.reasons == [code]
    assert d.recommendation.startswith("Reject: why")


def test_review_finding_blocks_automatic_approval() -> None:
    d = decide(
        {"face_match": 99.0, "quality": 99.0},
        [Finding("IMAGE_TOO_BLURRY", "blurred", Severity.REVIEW)],
        S,
    )
    assert d.status is Status.MANUAL_REVIEW
    assert d.overall_confidence < S.approve_at
    assert "blurred" in d.recommendation


def test_info_findings_are_warnings_not_reasons() -> None:
    d = decide(
        {"face_match": 99.0}, [Finding("LIVENESS_NOT_PERFORMED", "not done", Severity.INFO)], S
    )
    assert d.status is Status.APPROVED
    assert d.reasons == [] and d.warnings == ["not done"]


def test_platt_fit_recovers_a_known_logistic() -> None:
    rng = np.random.default_rng(1)
    d = rng.uniform(0.2, 0.9, 4000)
    p = 1 / (1 + np.exp(18.0 * (d - 0.55)))
    y = (rng.uniform(size=d.size) < p).astype(int)
    cal = fit(d, y, model="test", fitted_on="synthetic")
    assert cal.slope == pytest.approx(18.0, rel=0.15)
    assert cal.midpoint == pytest.approx(0.55, abs=0.02)
    assert cal.confidence(0.3) > 95 and cal.confidence(0.8) < 5


def test_shipped_calibration_is_monotone_and_fitted() -> None:
    cal = Calibration.default()
    assert cal.pairs >= 2000, (
        "the shipped calibration must come from a real fit (kycguard bench faces)"
    )
    values = [cal.confidence(x) for x in np.linspace(0.1, 1.0, 10)]
    assert values == sorted(values, reverse=True)
