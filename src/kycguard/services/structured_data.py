"""The optional ``structured_data`` a caller sends with a verification: strict, typed, documented."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kycguard import strictjson
from kycguard.errors import InvalidRequest

_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")


class StructuredData(BaseModel):
    """What the customer declared; every field optional, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    full_name: str | None = Field(None, max_length=200)
    first_name: str | None = Field(None, max_length=100)
    last_name: str | None = Field(None, max_length=100)
    date_of_birth: str | None = Field(None, description="YYYYMMDD or YYYY-MM-DD")
    date_expiration: str | None = Field(None, description="YYYYMMDD or YYYY-MM-DD")
    document_number: str | None = Field(None, max_length=40)
    nationality: str | None = Field(None, max_length=3, description="ICAO 3-letter code")
    sex: str | None = Field(None, pattern=r"^[MFX<]$")

    @field_validator("date_of_birth", "date_expiration")
    @classmethod
    def _valid_date(cls, value: str | None) -> str | None:
        if value is None:
            return None
        m = _DATE.match(value)
        if not m:
            raise ValueError("must be YYYYMMDD or YYYY-MM-DD")
        date(int(m[1]), int(m[2]), int(m[3]))  # raises ValueError on 20230231
        return f"{m[1]}{m[2]}{m[3]}"


def parse_structured_data(raw: str | bytes | dict[str, Any] | None) -> StructuredData | None:
    if raw is None or raw == "" or raw == b"":
        return None
    data = (
        strictjson.loads(
            raw, field="structured_data", code="INVALID_STRUCTURED_DATA", what="structured_data"
        )
        if isinstance(raw, str | bytes)
        else raw
    )
    if not isinstance(data, dict):
        raise InvalidRequest(
            "structured_data must be a JSON object",
            code="INVALID_STRUCTURED_DATA",
            field="structured_data",
        )
    try:
        return StructuredData.model_validate(data)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise InvalidRequest(
            "structured_data has invalid fields: "
            + "; ".join(f"{p['field']}: {p['message']}" for p in problems),
            code="INVALID_STRUCTURED_DATA",
            field="structured_data",
            details={"problems": problems},
        ) from exc
