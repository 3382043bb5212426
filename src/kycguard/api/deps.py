"""Dependencies the routes share: the process-wide Runtime kept in app.state."""

from __future__ import annotations

from fastapi import Request

from kycguard.services.runtime import Runtime


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt
