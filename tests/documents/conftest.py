"""Fixtures of the document tests: one OCR engine and analyzer per session, rendered documents."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from documents.render import Rendered, ocrb_path, render_td1, render_td3
from support.env import missing

TODAY = dt.date(2025, 6, 1)


@pytest.fixture(scope="session")
def ocr_engine() -> Any:
    from kycguard.documents.analyze import get_engine

    return get_engine(1)


@pytest.fixture(scope="session")
def analyzer(ocr_engine: Any) -> Any:
    from kycguard.documents.analyze import DocumentAnalyzer
    from kycguard.documents.config import DocumentSettings

    return DocumentAnalyzer(DocumentSettings(), ocr_engine)


@pytest.fixture(scope="session")
def ocrb() -> str:
    path = ocrb_path()
    if path is None:
        missing("OCR-B font: apt-get install fonts-ocr-b")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def td3(ocrb: str, astronaut: np.ndarray) -> Rendered:
    return render_td3(astronaut)


@pytest.fixture(scope="session")
def td1(ocrb: str, astronaut: np.ndarray) -> Rendered:
    return render_td1(astronaut)


@pytest.fixture(scope="session")
def documents_data(eval_data: Path) -> Path:
    return eval_data / "documents"
