"""The OpenAPI document states every route's error answers in the one error shape.

Each operation also carries ``x-kycguard-access`` (its roles, whether it is public or takes a session
token); an operation without it declared no rule and is closed. FastAPI documents its own
``HTTPValidationError`` for 422, which kycguard never sends; this replaces it
and adds the statuses every route can answer (401/403 unless public, 404, 413, 415, 422, 429, 503),
so clients and the schemathesis fuzz test check responses against what is really sent.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"},
                "message": {"type": "string"},
                "field": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}

_DESCRIPTIONS = {
    "401": "No, unknown, expired or revoked credentials, or a bad request signature",
    "403": "The key's role may not use this route",
    "404": "Not found (also: another tenant's resource)",
    "413": "Request body or image too large",
    "415": "Unsupported content or image type",
    "422": "Invalid request",
    "429": "Rate limited or locked out; see Retry-After",
    "503": "A required backend (database, Redis) is unavailable",
}


def document_errors(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["Error"] = ERROR_SCHEMA
        ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        rules = getattr(app.state, "access_rules_by_operation", {})
        for path, operations in schema.get("paths", {}).items():
            for method, op in operations.items():
                rule = rules.get((method.upper(), path))
                if rule is not None:
                    op["x-kycguard-access"] = rule.to_openapi()
                public = rule is not None and rule.public
                # public routes (/health) answer 503 with their own body
                codes = [c for c in _DESCRIPTIONS if not (public and c in ("401", "403", "503"))]
                for code in codes:
                    op["responses"][code] = {"description": _DESCRIPTIONS[code], "content": ref}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
