"""``GET /openapi.json`` for any valid API key (the public one exists only with ``public_docs``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from kycguard.security.auth import Principal, require
from kycguard.security.keys import Role

router = APIRouter()


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, _: Principal = Depends(require(*Role))) -> dict[str, Any]:
    schema: dict[str, Any] = request.app.openapi()
    return schema
