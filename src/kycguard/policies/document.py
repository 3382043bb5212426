"""``PolicyDocument``: what one policy version says, validated before it is stored.

A policy never restates the deployment's settings: ``thresholds`` are partial overrides of the
settings sections a decision reads (``face_match``, ``decision``, ``quality``, ``liveness``,
``evidence``), validated by building the merged section models, so each section's own validators
(``review_at <= approve_at``, ``tolerance < clear_mismatch_distance``, ...) run on the result.
Risk tiers and document-type rules override on top of that, in that order.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from kycguard.decision.config import EvidenceSettings
from kycguard.liveness.config import LivenessSettings

Tier = Literal["low", "medium", "high"]
DocumentType = Literal["passport", "identity_card", "visa", "driving_licence", "other", "unknown"]
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
CHECKS = ("document_tampering", "face_mirror_pass", "passive_liveness")


def section_models() -> dict[str, type[BaseModel]]:
    """The settings sections a policy may override (imported late: settings imports policies)."""
    from kycguard.settings import DecisionSettings, FaceMatchSettings, QualitySettings

    return {
        "face_match": FaceMatchSettings,
        "decision": DecisionSettings,
        "quality": QualitySettings,
        "liveness": LivenessSettings,
        "evidence": EvidenceSettings,
    }


Overrides = dict[str, dict[str, Any]]


def merge(*layers: Overrides) -> Overrides:
    """Later layers win, field by field within a section."""
    out: Overrides = {}
    for layer in layers:
        for section, fields in layer.items():
            out[section] = out.get(section, {}) | fields
    return out


def merged_sections(base: dict[str, BaseModel], overrides: Overrides) -> dict[str, BaseModel]:
    """Each overridden section rebuilt from ``base`` plus the overrides, its validators run.
    Raises ``ValueError`` naming the section when a field is unknown or the result invalid."""
    models = section_models()
    out: dict[str, BaseModel] = {}
    for section, fields in overrides.items():
        if section not in models:
            raise ValueError(f"unknown thresholds section {section!r} (one of {sorted(models)})")
        try:
            out[section] = models[section].model_validate(base[section].model_dump() | fields)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or section}: {e['msg']}" for e in exc.errors()
            )
            raise ValueError(f"thresholds.{section}: {problems}") from None
    return out


def _defaults() -> dict[str, BaseModel]:
    return {name: model() for name, model in section_models().items()}


class _Strict(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}


class CheckToggles(_Strict):
    """Checks a policy may skip; ``None`` inherits. ``passive_liveness: false`` never approves:
    the case holds on LIVENESS_NOT_PERFORMED like any check that did not run."""

    document_tampering: bool | None = Field(
        None, description="portrait replacement, MRZ print geometry and screen-capture analysis"
    )
    face_mirror_pass: bool | None = Field(
        None, description="the second, mirror-averaged face-model pass near the threshold"
    )
    passive_liveness: bool | None = None

    def over(self, base: dict[str, bool]) -> dict[str, bool]:
        return base | {k: v for k, v in self.model_dump().items() if v is not None}


class RiskTierSpec(_Strict):
    score: tuple[float, float] = Field(
        ..., description="risk_score band [min, max) on 0-100 mapping to this tier (100 included)"
    )
    thresholds: Overrides = Field(default_factory=dict)
    checks: CheckToggles = CheckToggles()
    require_video_session: bool = Field(
        False, description="/verify cannot approve; a video session linked to it must"
    )
    explanation: str = Field("", max_length=500)

    @field_validator("score")
    @classmethod
    def _band(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= v[0] < v[1] <= 100:
            raise ValueError("score band must be [min, max) with 0 <= min < max <= 100")
        return v


class RuleMatch(_Strict):
    """Every given field must match; at least one must be given."""

    document_type: DocumentType | None = Field(
        None, description="from the MRZ, else driving_licence for an AAMVA barcode, else declared"
    )
    mrz_format: Literal["TD1", "TD2", "TD3", "MRVA", "MRVB"] | None = None
    issuing_state: str | None = Field(None, pattern=r"^[A-Z<]{1,3}$")
    has_mrz: bool | None = None
    has_barcode: bool | None = None
    declared: DocumentType | None = Field(None, description="the /verify form's document_type")

    @model_validator(mode="after")
    def _some(self) -> RuleMatch:
        if all(v is None for v in self.model_dump().values()):
            raise ValueError("a document rule must match on at least one field")
        return self


class RuleEffect(_Strict):
    thresholds: Overrides = Field(
        default_factory=dict, description="decision/evidence overrides for this document type"
    )
    waive: list[str] = Field(
        default_factory=list,
        description="document reason codes that do not count against this document type "
        "(kept in the answer as information)",
    )
    review: bool = Field(False, description="a matching document always goes to a reviewer")

    @field_validator("thresholds")
    @classmethod
    def _after_reading(cls, v: Overrides) -> Overrides:
        late = set(v) - {"decision", "evidence"}
        if late:
            raise ValueError(
                f"a document rule can only set decision/evidence thresholds (the others ran "
                f"before the document was read): {sorted(late)}"
            )
        return v

    @field_validator("waive")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        for code in v:
            if not code or not code.replace("_", "").isalnum() or code.upper() != code:
                raise ValueError(f"{code!r} is not a reason code (UPPER_SNAKE_CASE)")
        return v


class DocumentRule(_Strict):
    name: str = Field(..., min_length=1, max_length=64, pattern=NAME_PATTERN)
    match: RuleMatch
    effect: RuleEffect = RuleEffect()
    explanation: str = Field(..., min_length=1, max_length=500)


class PolicyDocument(_Strict):
    description: str = Field("", max_length=2000)
    thresholds: Overrides = Field(default_factory=dict)
    checks: CheckToggles = CheckToggles()
    risk_tiers: dict[Tier, RiskTierSpec] = Field(default_factory=dict)
    default_tier: Tier = "medium"
    document_rules: list[DocumentRule] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _consistent(self) -> PolicyDocument:
        if self.risk_tiers and self.default_tier not in self.risk_tiers:
            raise ValueError(f"default_tier {self.default_tier!r} is not one of the risk_tiers")
        bands = sorted(t.score for t in self.risk_tiers.values())
        for (_, hi), (lo, _) in pairwise(bands):
            if lo < hi:
                raise ValueError("risk tier score bands overlap")
        names = [r.name for r in self.document_rules]
        if len(set(names)) != len(names):
            raise ValueError("document rule names must be unique")
        self.validate_on(_defaults())
        return self

    def validate_on(self, base: dict[str, BaseModel]) -> None:
        """Every combination a decision can see (policy, + each tier, + each rule) is valid."""
        for tier in [None, *self.risk_tiers]:
            layers = self.layers(tier)
            merged_sections(base, merge(*layers))
            for rule in self.document_rules:
                merged_sections(base, merge(*layers, rule.effect.thresholds))

    def layers(self, tier: str | None) -> list[Overrides]:
        spec = next((t for n, t in self.risk_tiers.items() if n == tier), None)
        return [self.thresholds] + ([spec.thresholds] if spec else [])

    def tier_for_score(self, score: float) -> str | None:
        for name, spec in self.risk_tiers.items():
            lo, hi = spec.score
            if lo <= score < hi or (hi == 100 and score == 100):
                return name
        return None


def default_document() -> PolicyDocument:
    """Version 1 of the default policy: the deployment's settings unchanged for medium risk (the
    default tier) and the issue's two tiers around it."""
    return PolicyDocument(
        description="Created at first start: the deployment's settings, with risk tiers.",
        risk_tiers={
            "low": RiskTierSpec(
                score=(0, 30),
                checks=CheckToggles(document_tampering=False, face_mirror_pass=False),
                explanation="low risk: no tampering analysis, one face-model pass",
            ),
            "medium": RiskTierSpec(score=(30, 70), explanation="medium risk: every check"),
            "high": RiskTierSpec(
                score=(70, 100),
                thresholds={"face_match": {"tolerance": 0.5}},
                require_video_session=True,
                explanation="high risk: stricter face match, a video session must approve",
            ),
        },
        default_tier="medium",
    )
