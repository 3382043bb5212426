"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from kycguard import __version__
from kycguard.alerts import routes as alerts
from kycguard.api import errors
from kycguard.api.limits import BodySizeLimit
from kycguard.api.routes import admin, audit, docs, sessions, subjects, system, verify
from kycguard.metrics import routes as metrics
from kycguard.metrics.logging import RequestContext, configure_json_logging
from kycguard.metrics.prometheus import RequestMetrics
from kycguard.policies import routes as policies
from kycguard.policies import tuning_routes
from kycguard.reviews import routes as reviews
from kycguard.security import wiring as security
from kycguard.services.runtime import open_runtime
from kycguard.settings import Settings, get_settings
from kycguard.web import routes as web
from kycguard.webhooks import routes as webhooks


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_json_logging(logging.INFO)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with open_runtime(settings) as rt:
            app.state.runtime = rt
            stop_security = security.on_start(rt)
            try:
                yield
            finally:
                stop_security()

    app = FastAPI(
        title="kycguard",
        version=__version__,
        description="Self-hosted identity verification: document + selfie, face match, liveness, decisions.",
        lifespan=lifespan,
        **security.fastapi_options(settings),
    )
    errors.install(app)
    app.include_router(system.router)
    app.include_router(verify.router)
    app.include_router(sessions.router)
    app.include_router(admin.router)
    app.include_router(audit.router)
    app.include_router(subjects.router)
    app.include_router(web.router)
    app.include_router(alerts.router)
    app.include_router(webhooks.router)
    app.include_router(reviews.router)
    app.include_router(metrics.router)
    # fixed /api/v1/policies/... paths (tuning reports) must be included before this router:
    # its /policies/{name} would take them
    app.include_router(tuning_routes.router)
    app.include_router(policies.router)
    if not settings.security.public_docs:
        app.include_router(docs.router)
    # two images plus form overhead
    app.add_middleware(BodySizeLimit, max_bytes=2 * settings.limits.max_upload_bytes + 64 * 1024)
    security.install(app, settings)  # access rules, error docs, headers, CORS, rate limits
    app.add_middleware(RequestMetrics)  # request durations by route template
    app.add_middleware(RequestContext)  # outermost: request id and JSON access line
    return app
