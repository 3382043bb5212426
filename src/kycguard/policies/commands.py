"""``kycguard policies list|show|set``: the policies from the command line.

Like the other CLI commands it works on the database directly (whoever runs it holds the database
credentials already); a change is audited as ``cli:<os user>``, exactly as through the API.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kycguard.policies.service import PolicyService


@contextmanager
def _service() -> Iterator[PolicyService]:
    from kycguard.security.runtime import open_security
    from kycguard.settings import get_settings

    settings = get_settings()
    with open_security(settings) as sec:
        service = PolicyService(sec.database, sec.audit, settings)
        service.bootstrap()
        yield service


def policies_list(args: argparse.Namespace) -> int:
    with _service() as service:
        rows = service.names()
    if args.json:
        print(json.dumps([v.to_dict() for v in rows], indent=2))
        return 0
    for v in rows:
        state = "active" if v.active else "inactive"
        print(f"{v.name:<24} v{v.version:<4} {state:<9} {v.created_by:<24} {v.comment}")
    return 0


def policies_show(args: argparse.Namespace) -> int:
    with _service() as service:
        view = service.get(args.name, args.version) if args.version else service.active(args.name)
    print(json.dumps(view.to_dict(), indent=2))
    return 0


def policies_set(args: argparse.Namespace) -> int:
    """A new version (a new policy's version 1) from a JSON document file."""
    from kycguard.errors import InvalidRequest
    from kycguard.security.audit import Actor

    try:
        document = json.loads(Path(args.file).read_text())
    except (OSError, ValueError) as exc:
        raise InvalidRequest(f"cannot read {args.file}: {exc}", code="INVALID_POLICY") from exc
    with _service() as service:
        view = service.new_version(
            args.name,
            document,
            actor=Actor.cli(),
            comment=args.comment,
            activate=not args.inactive,
        )
    print(json.dumps(view.to_dict(), indent=2))
    return 0


def register(sub: Any, guard: Callable[[Callable[[argparse.Namespace], int]], Any]) -> None:
    """Add ``policies`` to the top-level subparsers (``guard``: KycError -> message, exit 2)."""
    policies = sub.add_parser("policies", help="versioned decision policies (audited)")
    ps = policies.add_subparsers(dest="policies_command", required=True)
    lst = ps.add_parser("list", help="every policy's active version")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=guard(policies_list))
    show = ps.add_parser("show", help="a policy's active version (or --version N) as JSON")
    show.add_argument("name")
    show.add_argument("--version", type=int)
    show.set_defaults(func=guard(policies_show))
    st = ps.add_parser("set", help="a new version from a JSON policy document")
    st.add_argument("name")
    st.add_argument("--file", required=True, help="JSON PolicyDocument (README: Policies)")
    st.add_argument("--comment", required=True, help="why (kept in the history and audit log)")
    st.add_argument("--inactive", action="store_true", help="store it without activating it")
    st.set_defaults(func=guard(policies_set))
