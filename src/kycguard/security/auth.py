"""Who is calling, and may they: FastAPI dependencies that declare each route's access rule.

Every route depends on exactly one of :func:`require` (API key roles, optionally a video session's
token) or :func:`public`. :func:`publish_access_rules` runs once in ``create_app``: it records each
route's rule, which the OpenAPI document then states (``x-kycguard-access``, walked by the
authorization-matrix test); the app-wide :func:`access_guard` refuses every route that declared none
(``403 ROUTE_ACCESS_UNDECLARED``), so a forgotten rule fails closed.

Order of checks for an API key: known, not expired or revoked -> per-key rate limit -> signature (if
the key has a signing secret) -> role. A session token (``X-Session-Token``) is only accepted on
routes that allow it, and only for its own session: the ``session_id`` in the path or query must be
the token's (the alias routes that name the session in a JSON body have it checked again by the
session service).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from kycguard.security.audit import Actor
from kycguard.security.errors import Forbidden, Unauthenticated
from kycguard.security.keys import TOKEN_PREFIX, AuthenticatedKey, Role

SESSION_TOKEN_HEADER = "X-Session-Token"
API_KEY_HEADER = "X-API-Key"
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="`Authorization: Bearer kg_...` (an API key). A video session's token "
    "(`X-Session-Token`) is accepted on that session's own routes only.",
)
api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    scheme_name="XApiKey",
    description="`X-API-Key: kg_...`: the same API key, the way the seed's clients send it.",
)


def presented_key(credentials: HTTPAuthorizationCredentials | None, header: str | None) -> str:
    """The API key of the request: ``Authorization: Bearer`` or the seed's ``X-API-Key``.

    Both at once must agree (two different keys in one request is a client bug or an attack on
    whichever header a proxy logs); the one error is then 401, like an unknown key."""
    bearer_key = credentials.credentials.strip() if credentials else ""
    header_key = (header or "").strip()
    if bearer_key and header_key and bearer_key != header_key:
        raise Unauthenticated(
            f"Authorization and {API_KEY_HEADER} carry different keys; send one",
            code="CONFLICTING_CREDENTIALS",
        )
    return bearer_key or header_key


def signed_target(request: Request) -> str:
    """The request target exactly as the client sent it (``%20`` stays ``%20``): the ASGI
    ``raw_path`` and query string, not Starlette's percent-decoded ``url.path``."""
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes | bytearray) else request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")
    return path + (f"?{query}" if query else "")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. ``tenant`` None means every tenant (admin, untenanted reviewer/auditor)."""

    kind: str  # "key" | "session"
    id: str
    role: Role | None
    tenant: str | None
    name: str = ""

    @property
    def actor(self) -> Actor:
        return Actor(f"{self.kind}:{self.id}", self.role.value if self.role else None)

    @property
    def tenant_filter(self) -> str | None:
        """The tenant every read and write of this caller is confined to (None: no confinement)."""
        return None if self.role is Role.ADMIN else self.tenant

    @staticmethod
    def of_key(key: AuthenticatedKey) -> Principal:
        i = key.info
        return Principal("key", i.id, i.role, i.tenant, i.name)


@dataclass(frozen=True)
class AccessRule:
    roles: frozenset[Role]
    public: bool = False
    session_token: bool = False

    def to_openapi(self) -> dict[str, Any]:
        return {
            "public": self.public,
            "roles": sorted(r.value for r in self.roles),
            "session_token": self.session_token,
        }


def require(*roles: Role, session_token: bool = False) -> Callable[..., Awaitable[Principal]]:
    """Dependency: an API key of one of ``roles`` (or, with ``session_token``, the token of the
    session the request names)."""
    rule = AccessRule(frozenset(roles), session_token=session_token)

    async def authenticate(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Security(bearer),
        x_api_key: str | None = Security(api_key_header),
    ) -> Principal:
        security = request.app.state.runtime.security
        token = presented_key(credentials, x_api_key)
        if token.startswith(TOKEN_PREFIX):
            key: AuthenticatedKey = await run_in_threadpool(security.keys.authenticate, token)
            await run_in_threadpool(security.limiter.check_key, key.info.id, key.info.rate_limit)
            if key.signing_secret is not None:
                body = await request.body()
                await run_in_threadpool(
                    security.signatures.verify,
                    key.signing_secret,
                    request.headers,
                    request.method,
                    signed_target(request),
                    body,
                )
            if key.info.role not in rule.roles:
                raise Forbidden(
                    f"the {key.info.role.value} role may not use this route",
                    details={"allowed_roles": sorted(r.value for r in rule.roles)},
                )
            return Principal.of_key(key)
        session_token = request.headers.get(SESSION_TOKEN_HEADER, "").strip()
        if rule.session_token and session_token:
            owner = await run_in_threadpool(security.session_of_token, session_token)
            named = request.path_params.get("session_id") or request.query_params.get("session_id")
            # the token reaches only its own session (a session named in a JSON body is checked
            # against the token again by the session service)
            if owner is not None and (named is None or str(named) == owner):
                return Principal("session", owner, None, None)
        if not token and not session_token:
            raise Unauthenticated(
                f"send an API key: Authorization: Bearer <key> (or {API_KEY_HEADER}: <key>)"
            )
        raise Unauthenticated("invalid API key or session token")

    authenticate.access_rule = rule  # type: ignore[attr-defined]
    return authenticate


def public() -> Callable[[], None]:
    """Dependency of the few routes anyone may call (``/health``, the capture page)."""

    def no_credentials_needed() -> None:
        return None

    no_credentials_needed.access_rule = AccessRule(frozenset(), public=True)  # type: ignore[attr-defined]
    return no_credentials_needed


def _rules(dependant: Dependant) -> Iterator[AccessRule]:
    for dep in dependant.dependencies:
        rule = getattr(dep.call, "access_rule", None)
        if isinstance(rule, AccessRule):
            yield rule
        yield from _rules(dep)


def _api_routes(app: FastAPI) -> Iterator[Any]:
    """Every API route as the app serves it (FastAPI >= 0.16x includes routers lazily)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are plain APIRoutes
        yield from (r for r in app.routes if isinstance(r, APIRoute))
        return
    for ctx in iter_route_contexts(app.routes):
        if isinstance(ctx.original_route, APIRoute):
            yield ctx


def publish_access_rules(app: FastAPI) -> dict[Any, AccessRule]:
    """Find each route's rule; keep endpoint -> rule (for the guard) and (METHOD, path) -> rule (for
    the OpenAPI document, see :mod:`kycguard.security.openapi`)."""
    by_endpoint: dict[Any, AccessRule] = {}
    by_operation: dict[tuple[str, str], AccessRule] = {}
    for route in _api_routes(app):
        rules = set(_rules(route.dependant))
        if len(rules) > 1:
            raise RuntimeError(f"{route.path} declares {len(rules)} access rules; one is allowed")
        if rules:
            rule = rules.pop()
            by_endpoint[route.endpoint] = rule
            for method in route.methods or ():
                by_operation[(method.upper(), route.path_format)] = rule
    app.state.access_rules = by_endpoint
    app.state.access_rules_by_operation = by_operation
    return by_endpoint


def access_guard(request: Request) -> None:
    """App-wide dependency: a route that declared no access rule answers 403 to everyone."""
    rules = getattr(request.app.state, "access_rules", {})
    if request.scope.get("endpoint") not in rules:
        raise Forbidden(
            "this route declares no access rule and is closed", code="ROUTE_ACCESS_UNDECLARED"
        )
