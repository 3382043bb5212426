"""The documents section of the settings: defaults, validation, environment override."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kycguard.documents.config import DocumentSettings
from kycguard.settings import Settings


def test_documents_section_defaults_and_env(env: pytest.MonkeyPatch) -> None:
    assert Settings().documents.min_age_years == 18
    env.setenv("KYCGUARD_DOCUMENTS__MIN_AGE_YEARS", "21")
    assert Settings().documents.min_age_years == 21
    assert Settings().public_dict()["documents"]["hard_reject_codes"][0] == "DOCUMENT_EXPIRED"


def test_invalid_document_settings_are_rejected() -> None:
    with pytest.raises(ValidationError):
        DocumentSettings(min_age_years=-1)
    with pytest.raises(ValidationError):
        DocumentSettings(unknown_knob=1)  # type: ignore[call-arg]
