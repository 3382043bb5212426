"""Property-based fuzzing of every operation in the OpenAPI document with schemathesis, each with a
credential its access rule accepts, with data that fits the schema and data that does not: no answer
is a 5xx, every answer matches its documented schema,
and every error (documented status or not) is in the one error shape.

Bounded: ``FUZZ_EXAMPLES`` cases per operation (env ``KYCGUARD_FUZZ_EXAMPLES``), derandomized so a
failure reproduces, no shrinking phase.
"""

from __future__ import annotations

import os
from typing import Any

import jsonschema_rs
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.core.result import Ok
from security.helpers import Deployment, bearer, start_session

from kycguard.security.openapi import ERROR_SCHEMA

FUZZ_EXAMPLES = int(os.environ.get("KYCGUARD_FUZZ_EXAMPLES", "25"))


def _credentials(dep: Deployment, access: dict[str, Any], token: str) -> dict[str, str]:
    if access["roles"]:
        return dep.headers(sorted(access["roles"])[0])
    if access["session_token"]:
        return {"X-Session-Token": token}
    return {}


def _fuzz(op: Any, base_url: str, headers: dict[str, str], session_id: str, mode: Any) -> int:
    """Run the bounded property test of one operation; returns how many requests it sent."""
    sent = 0

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=op.as_strategy(mode))
    def fuzz(case: Any) -> None:
        nonlocal sent
        if "session_id" in (case.path_parameters or {}):
            case.path_parameters["session_id"] = session_id  # reach past the token check
        response = case.call(base_url=base_url, headers=headers, timeout=60)
        sent += 1
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
        if response.status_code >= 400:
            jsonschema_rs.validate(ERROR_SCHEMA, response.json())

    fuzz()
    return sent


def test_fuzz_every_operation(deployment: Deployment) -> None:
    with deployment.client(headers=bearer(deployment.admin_key)) as c:
        raw = c.get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(raw)
    session = start_session(deployment, "fuzz-user")
    failures: list[str] = []
    sent: dict[str, int] = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document itself is valid
        op = result.ok()
        access = op.definition.raw["x-kycguard-access"]
        headers = _credentials(deployment, access, session["session_token"])
        for mode in GenerationMode:  # data that fits the schema, and data that does not
            try:
                sent[f"{mode.value} {op.label}"] = _fuzz(
                    op, deployment.server.base_url, headers, session["session_id"], mode
                )
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, op.label  # nothing to get wrong: no input
            except Exception as exc:  # collect every operation's failure, then report them all
                failures.append(f"{mode.value} {op.label}: {type(exc).__name__}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
    operations = [(m, p) for p, ms in raw["paths"].items() for m in ms]
    positive = [k for k in sent if k.startswith("positive")]
    assert len(positive) == len(operations) and all(n >= 1 for n in sent.values()), sent
    assert len(sent) > len(positive)  # and invalid input wherever the operation takes any
