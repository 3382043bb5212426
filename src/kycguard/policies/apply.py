"""Applying a policy to one case: which version, which risk tier, which checks, which thresholds.

:class:`PolicyResolver` picks the version (the experiment's variant for the user, else the default
policy) and the risk tier (the caller's ``risk_level``/``risk_score``, else the policy's default
tier); :class:`AppliedPolicy` is the result: the effective settings the checks and the decision
read, the checks that run, and the ``policy`` block every answer records. Document-type rules are
applied once the document is read (:meth:`AppliedPolicy.document_rules`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from kycguard.decision.findings import Finding, Severity
from kycguard.errors import InvalidRequest, KycError
from kycguard.policies.document import (
    CHECKS,
    CheckToggles,
    DocumentRule,
    Overrides,
    merge,
    merged_sections,
)
from kycguard.policies.experiments import ExperimentService, assign
from kycguard.policies.service import PolicyService, PolicyVersionView, section_values
from kycguard.settings import Settings
from kycguard.vision.matcher import FaceMatcher, FaceMatcherOptions

RISK_LEVELS = ("low", "medium", "high")
NO_MIRROR_BAND = (math.inf, -math.inf)  # no distance falls inside: one model pass per face


@dataclass(frozen=True)
class RiskInput:
    """What the caller said about the case's risk: a level or a 0-100 score (not both)."""

    level: str | None = None
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "score": self.score}


def parse_risk(level: Any, score: Any) -> RiskInput | None:
    """The caller's ``risk_level``/``risk_score`` (form text or JSON), or a 422 naming the field."""
    level = None if level in (None, "") else level
    score = None if score in (None, "") else score
    if level is not None and score is not None:
        raise InvalidRequest(
            "give risk_level or risk_score, not both", code="INVALID_RISK", field="risk_level"
        )
    if level is not None:
        if level not in RISK_LEVELS:
            raise InvalidRequest(
                f"risk_level must be one of {', '.join(RISK_LEVELS)}",
                code="INVALID_RISK",
                field="risk_level",
            )
        return RiskInput(level=str(level))
    if score is None:
        return None
    try:
        number = float(score) if not isinstance(score, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not 0 <= number <= 100:  # NaN fails too
        raise InvalidRequest(
            "risk_score must be a number from 0 to 100", code="INVALID_RISK", field="risk_score"
        )
    return RiskInput(score=number)


def linked_risk(result: dict[str, Any]) -> RiskInput | None:
    """The risk the caller gave a verification, for a session linked to it that gives none: the
    video session a high-risk verification requires is decided as high risk too."""
    risk = (result.get("policy") or {}).get("risk") or {}
    if risk.get("source") != "caller":
        return None
    if risk.get("score") is not None:
        return RiskInput(score=float(risk["score"]))
    return RiskInput(level=risk["tier"]) if risk.get("tier") else None


def effective_settings(base: Settings, *layers: Overrides) -> Settings:
    """``base`` with the overridden sections rebuilt (validated) from the layers."""
    try:
        sections = merged_sections(section_values(base), merge(*layers))
    except ValueError as exc:  # stored valid, but the deployment's settings changed since
        raise KycError(
            f"the policy does not apply to this deployment's settings: {exc}",
            code="POLICY_NOT_APPLICABLE",
            status_code=500,
        ) from None
    return base.model_copy(update=sections) if sections else base


@dataclass(frozen=True)
class RuleOutcome:
    """The document rules that matched one document, and what they change."""

    settings: Settings
    explained: list[dict[str, Any]] = field(default_factory=list)
    waived: dict[str, str] = field(default_factory=dict)  # reason code -> rule name
    review: list[DocumentRule] = field(default_factory=list)

    def findings(self, findings: Iterable[Finding]) -> list[Finding]:
        """Waived codes kept as information (saying which rule waived them); a review rule adds
        DOCUMENT_RULE_REVIEW."""
        out = [
            replace(
                f,
                severity=Severity.INFO,
                message=f"{f.message} (waived by document rule {self.waived[f.code]})",
            )
            if f.code in self.waived and f.severity is not Severity.INFO
            else f
            for f in findings
        ]
        out += [
            Finding(
                "DOCUMENT_RULE_REVIEW", f"document rule {r.name}: {r.explanation}", Severity.REVIEW
            )
            for r in self.review
        ]
        return out


def document_facts(doc: dict[str, Any], declared: str | None) -> dict[str, Any]:
    """What a document rule can match on, from the document report."""
    mrz = doc.get("mrz") if isinstance(doc.get("mrz"), dict) else None
    symbols = (doc.get("barcode") or {}).get("symbols") or []
    aamva = next((s["aamva"] for s in symbols if s.get("aamva")), None)
    if mrz is not None and mrz.get("document_type"):
        kind = mrz["document_type"]
    elif aamva is not None:
        kind = "driving_licence"
    else:
        kind = declared or "unknown"
    return {
        "document_type": kind,
        "mrz_format": mrz.get("format") if mrz else None,
        "issuing_state": (mrz or {}).get("issuing_state") or (aamva or {}).get("country"),
        "has_mrz": mrz is not None,
        "has_barcode": bool(symbols),
        "declared": declared,
    }


@dataclass(frozen=True)
class AppliedPolicy:
    view: PolicyVersionView
    settings: Settings  # the deployment's settings with the policy's and the tier's overrides
    tier: str | None
    risk: RiskInput | None
    checks: dict[str, bool]
    require_video_session: bool
    experiment: str | None = None
    variant: str | None = None
    experiment_note: str | None = None
    skipped: tuple[dict[str, str], ...] = ()

    def runs(self, check: str) -> bool:
        return self.checks[check]

    def matcher(self, base: FaceMatcher) -> FaceMatcher:
        """``base``'s models with this case's tolerance, and no mirror pass when skipped."""
        fm = self.settings.face_match
        band = fm.refine_band if self.runs("face_mirror_pass") else NO_MIRROR_BAND
        return FaceMatcher(FaceMatcherOptions(fm.tolerance, band), base.embedder, base.calibration)

    def document_rules(self, doc: dict[str, Any], declared: str | None) -> RuleOutcome:
        """Every rule whose match fields all equal the document's facts, in policy order."""
        facts = document_facts(doc, declared)
        matched = []
        for rule in self.view.document.document_rules:
            wanted = rule.match.model_dump(exclude_none=True)
            if all(facts.get(k) == v for k, v in wanted.items()):
                matched.append((rule, wanted))
        if not matched:
            return RuleOutcome(self.settings)
        settings = effective_settings(
            self.settings, *(r.effect.thresholds for r, _ in matched if r.effect.thresholds)
        )
        return RuleOutcome(
            settings,
            [
                {
                    "rule": r.name,
                    "matched_on": on,
                    "effect": r.effect.model_dump(exclude_defaults=True),
                    "explanation": r.explanation,
                }
                for r, on in matched
            ],
            {code: r.name for r, _ in matched for code in r.effect.waive},
            [r for r, _ in matched if r.effect.review],
        )

    def pin(self) -> dict[str, Any]:
        """What a session keeps so its completion decides under the version resolved at creation."""
        return self._which() | {"risk": self.risk.to_dict() if self.risk else None}

    def _which(self) -> dict[str, Any]:
        """The version and the experiment's variant: the part the pin and the answer share."""
        return {
            "name": self.view.name,
            "version": self.view.version,
            "experiment": self.experiment,
            "variant": self.variant,
            "experiment_note": self.experiment_note,
        }

    def record(
        self, rules: list[dict[str, Any]] | None = None, required: list[str] | None = None
    ) -> dict[str, Any]:
        """The answer's ``policy`` block."""
        return self._which() | {
            "risk": {
                "tier": self.tier,
                "score": self.risk.score if self.risk else None,
                "source": "caller" if self.risk else "default",
            },
            "skipped_checks": list(self.skipped),
            "document_rules": rules or [],
            "required": required
            if required is not None
            else (["video_session"] if self.require_video_session else []),
        }


def apply_policy(
    view: PolicyVersionView,
    base: Settings,
    risk: RiskInput | None,
    *,
    experiment: str | None = None,
    variant: str | None = None,
    experiment_note: str | None = None,
) -> AppliedPolicy:
    doc = view.document
    tier = _tier(view, risk)
    spec = next((t for name, t in doc.risk_tiers.items() if name == tier), None)
    tier_checks = spec.checks if spec else CheckToggles()
    checks = tier_checks.over(doc.checks.over(dict.fromkeys(CHECKS, True)))
    label = f"policy {view.name} v{view.version}"
    skipped = tuple(
        {
            "check": c,
            "why": f"risk tier {tier} of {label} skips it"
            + (f" ({spec.explanation})" if spec and spec.explanation else "")
            if getattr(tier_checks, c) is False
            else f"{label} disables it",
        }
        for c, on in checks.items()
        if not on
    )
    return AppliedPolicy(
        view,
        effective_settings(base, *doc.layers(tier)),
        tier,
        risk,
        checks,
        bool(spec and spec.require_video_session),
        experiment,
        variant,
        experiment_note,
        skipped,
    )


def _tier(view: PolicyVersionView, risk: RiskInput | None) -> str | None:
    doc = view.document
    if risk is None:
        return doc.default_tier if doc.risk_tiers else None
    if risk.level is not None:
        if doc.risk_tiers and risk.level not in doc.risk_tiers:
            raise InvalidRequest(
                f"policy {view.name} v{view.version} has no risk tier {risk.level!r}",
                code="INVALID_RISK",
                field="risk_level",
            )
        return risk.level
    assert risk.score is not None
    tier = doc.tier_for_score(risk.score)
    if tier is None and doc.risk_tiers:
        raise InvalidRequest(
            f"risk_score {risk.score:g} is in no risk tier of policy {view.name} v{view.version}",
            code="INVALID_RISK",
            field="risk_score",
        )
    return tier


class PolicyResolver:
    """Which policy version decides a case: the experiment's variant for its user, else the
    default policy's active version."""

    def __init__(
        self, policies: PolicyService, experiments: ExperimentService, settings: Settings
    ) -> None:
        self.policies = policies
        self.experiments = experiments
        self.settings = settings

    def for_case(self, user_id: str | None, risk: RiskInput | None) -> AppliedPolicy:
        running = self.experiments.active()
        if running is not None and user_id:
            v = assign(running.name, user_id, running.variants)
            return apply_policy(
                self.policies.active(v.policy),
                self.settings,
                risk,
                experiment=running.name,
                variant=v.name,
            )
        note = f"no user_id: not part of experiment {running.name}" if running is not None else None
        return apply_policy(self.policies.active(), self.settings, risk, experiment_note=note)

    def pinned(self, pin: dict[str, Any]) -> AppliedPolicy:
        """The policy a session pinned at creation, applied again at its completion."""
        risk = RiskInput(**pin["risk"]) if pin.get("risk") else None
        return apply_policy(
            self.policies.get(pin["name"], int(pin["version"])),
            self.settings,
            risk,
            experiment=pin.get("experiment"),
            variant=pin.get("variant"),
            experiment_note=pin.get("experiment_note"),
        )
