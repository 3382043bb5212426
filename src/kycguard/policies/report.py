"""The A/B experiment report: each variant's figures and whether the differences are real.

The figures of a variant are the metrics' own (``kycguard.metrics.service.summarise`` over the cases
whose answer names the experiment and the variant), so the report and
``GET /api/v1/metrics/summary?variant=`` never disagree. For each proportion (approval rate, review
rate, fraud caught = labelled fraud whose final outcome was not ``approved``) a chi-square test of
the variants x (yes, no) table (for two variants the same as a two-proportion z-test); for the average
confidence Welch's t-test (two variants) or a one-way ANOVA (more). A test is reported as
``too_small`` ("sample too small to conclude") when a variant has fewer than ``min_cases`` cases
in it or, for a proportion, an expected cell count is below 5 (the rule under which the chi-square
approximation holds): then no verdict is given, whatever the p-value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from kycguard.metrics.service import Case, MetricsService, _window, rate, summarise

MIN_EXPECTED = 5.0
ALPHA = 0.05


def variant_figures(cases: Sequence[Case]) -> dict[str, Any]:
    s = summarise(list(cases))
    fraud = s["false_accept_rate"]  # labelled fraud with a final outcome; errors = approved
    return {
        "cases": s["total"],
        "approved": s["approved"],
        "manual_review": s["manual_review"],
        "rejected": s["rejected"],
        "final": s["final"],
        "approval_rate": rate(s["approved"], s["total"]),
        "review_rate": rate(s["manual_review"], s["total"]),
        "average_confidence": s["average_confidence"],
        "labelled": s["labelled"],
        "fraud_caught": rate(fraud["total"] - fraud["errors"], fraud["total"]),
        "false_accept_rate": s["false_accept_rate"],
        "false_reject_rate": s["false_reject_rate"],
    }


def proportion_test(counts: Sequence[tuple[int, int]], min_cases: int) -> dict[str, Any]:
    """Chi-square test of (successes, trials) per variant; ``too_small`` under the rule above."""
    from scipy.stats import chi2_contingency

    table = [[k, n - k] for k, n in counts]
    trials = [n for _, n in counts]
    total = sum(trials)
    yes = sum(k for k, _ in counts)
    expected = (
        min((n * col / total for n in trials for col in (yes, total - yes)), default=0.0)
        if total
        else 0.0
    )
    out: dict[str, Any] = {"test": "chi-square", "min_expected": round(expected, 3)}
    if len(counts) < 2 or min(trials, default=0) < min_cases or expected < MIN_EXPECTED:
        why = (
            f"fewer than {min_cases} cases in a variant"
            if min(trials, default=0) < min_cases
            else f"an expected count below {MIN_EXPECTED:g}"
        )
        return out | {"p_value": None, "verdict": "too_small",
                      "message": f"sample too small to conclude ({why})"}  # fmt: skip
    chi2, p, dof, _ = chi2_contingency(table, correction=False)
    return out | _verdict(float(p)) | {"statistic": round(float(chi2), 4), "dof": int(dof)}


def mean_test(samples: Sequence[Sequence[float]], min_cases: int) -> dict[str, Any]:
    """Welch's t-test (two variants) or one-way ANOVA (more) of the confidences."""
    from scipy.stats import f_oneway, ttest_ind

    name = "welch-t" if len(samples) == 2 else "anova"
    if len(samples) < 2 or min((len(s) for s in samples), default=0) < max(min_cases, 2):
        return {"test": name, "p_value": None, "verdict": "too_small",
                "message": f"sample too small to conclude (fewer than {max(min_cases, 2)} cases "
                "in a variant)"}  # fmt: skip
    if all(len(set(s)) <= 1 for s in samples) and len({s[0] for s in samples}) == 1:
        return {"test": name, "p_value": 1.0, "verdict": "not_significant",
                "message": "every case has the same confidence"}  # fmt: skip
    if len(samples) == 2:
        stat, p = ttest_ind(samples[0], samples[1], equal_var=False)
    else:
        stat, p = f_oneway(*samples)
    return {"test": name, "statistic": round(float(stat), 4)} | _verdict(float(p))


def _verdict(p: float) -> dict[str, Any]:
    if p != p:  # NaN: no variance anywhere
        return {"p_value": None, "verdict": "not_significant", "message": "no variation to test"}
    significant = p < ALPHA
    return {
        "p_value": round(p, 6),
        "verdict": "significant" if significant else "not_significant",
        "message": f"the variants differ (p = {p:.4f} < {ALPHA})"
        if significant
        else f"no significant difference (p = {p:.4f} >= {ALPHA})",
    }


def experiment_report(
    metrics: MetricsService,
    name: str,
    variants: Sequence[str],
    start: datetime | None,
    end: datetime | None,
    *,
    tenant: str | None = None,
    min_cases: int = 30,
) -> dict[str, Any]:
    """Per variant figures of experiment ``name`` over [start, end) and the tests between them.
    ``variants``: the experiment's variants (a variant with no case yet is shown with zeros)."""
    start, end = _window(start, end)
    cases = metrics.cases(start, end, variant=None, tenant=tenant, experiment=name)
    by: dict[str, list[Case]] = {v: [] for v in variants}
    unknown: dict[str, list[Case]] = {}
    for c in cases:
        v = c.variant or "(none)"
        (by if v in by else unknown).setdefault(v, []).append(c)
    by |= unknown  # a variant since removed from the definition still counts
    figures = {v: variant_figures(cs) for v, cs in by.items()}
    return {
        "experiment": name,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "cases": len(cases),
        "min_cases": min_cases,
        "variants": figures,
        "tests": tests(figures, by, min_cases),
    }


def tests(
    figures: Mapping[str, Mapping[str, Any]], by: Mapping[str, Sequence[Case]], min_cases: int
) -> dict[str, Any]:
    def counts(metric: str) -> list[tuple[int, int]]:
        out = []
        for f in figures.values():
            r = f[metric]
            out.append((int(r["errors"]), int(r["total"])))
        return out

    return {
        "approval_rate": proportion_test(counts("approval_rate"), min_cases),
        "review_rate": proportion_test(counts("review_rate"), min_cases),
        "fraud_caught": proportion_test(counts("fraud_caught"), min_cases),
        "average_confidence": mean_test(
            [[c.confidence for c in cs] for cs in by.values()], min_cases
        ),
    }
