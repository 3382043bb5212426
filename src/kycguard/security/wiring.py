"""How security attaches to the FastAPI app: options, middleware, start-up duties.

Middleware, outermost first: security headers -> CORS allow-list -> per-address rate limit -> JSON
body cap -> the general body-size limit -> routes (each with its access rule; undeclared ones closed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI

from kycguard.jobs import ThreadRunner
from kycguard.security import errors
from kycguard.security.auth import access_guard, publish_access_rules
from kycguard.security.headers import JsonBodyLimit, SecurityHeaders, StrictCORS
from kycguard.security.openapi import document_errors
from kycguard.security.ratelimit import AddressRateLimit
from kycguard.settings import Settings

if TYPE_CHECKING:
    from kycguard.services.runtime import Runtime


def fastapi_options(settings: Settings) -> dict[str, Any]:
    public = settings.security.public_docs
    return {
        "dependencies": [Depends(access_guard)],
        "openapi_url": "/openapi.json" if public else None,
        "docs_url": "/docs" if public else None,
        "redoc_url": None,
    }


def install(app: FastAPI, settings: Settings) -> None:
    """Call after every router is included and the body-size limit is added."""
    errors.install(app)
    publish_access_rules(app)
    document_errors(app)
    s = settings.security
    app.add_middleware(
        JsonBodyLimit,
        max_bytes=s.max_json_bytes,
        frame_bytes=settings.sessions.max_frame_bytes,
    )
    app.add_middleware(AddressRateLimit)
    app.add_middleware(StrictCORS, origins=s.cors_allow_origins)
    app.add_middleware(SecurityHeaders, exempt_paths=("/docs",) if s.public_docs else ())


def on_start(rt: Runtime) -> Callable[[], None]:
    """Record a changed configuration in the audit log and start the periodic jobs (retention
    purge, deliveries) in this process; returns the stop function."""
    rt.security.audit.record_config(rt.settings.public_dict())
    return ThreadRunner(rt.jobs).start().stop
