"""Health and configuration."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from kycguard import API_VERSION, __version__
from kycguard.api.deps import runtime
from kycguard.security.auth import Principal, public, require
from kycguard.security.keys import Role
from kycguard.services.runtime import Runtime

router = APIRouter()


@router.get("/health", summary="Readiness: every model loaded and the database reachable")
def health(rt: Runtime = Depends(runtime), _: None = Depends(public())) -> JSONResponse:
    status = rt.health()
    return JSONResponse(status, status_code=200 if status["status"] == "ok" else 503)


@router.get("/api/v1/config", summary="The validated settings every decision is made with")
def config(
    rt: Runtime = Depends(runtime), _: Principal = Depends(require(Role.ADMIN, Role.AUDITOR))
) -> dict[str, Any]:
    return {
        "api_version": API_VERSION,
        "version": __version__,
        "settings": rt.settings.public_dict(),
    }
