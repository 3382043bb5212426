"""``kycguard keys ...``, ``kycguard audit verify``, ``kycguard retention purge``.

The CLI works on the database directly (whoever can run it holds the database credentials and the
data keys already), so it needs no API key; everything it changes is audited as ``cli:<os user>``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from kycguard.security.keys import CreatedKey, Role


def _settings() -> Any:
    from kycguard.settings import get_settings

    return get_settings()


def _print_created(created: CreatedKey, title: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps(created.to_dict(), indent=2))
        return
    info = created.to_dict()
    print(f"{title} (shown once; store it in your secret manager now):")
    for field in ("id", "name", "role", "tenant", "expires_at", "rate_limit"):
        if info.get(field) is not None:
            print(f"  {field + ':':<16}{info[field]}")
    print(f"  {'key:':<16}{created.key}")
    if created.signing_secret:
        print(f"  {'signing secret:':<16}{created.signing_secret}")


def keys_create(args: argparse.Namespace) -> int:
    from kycguard.security.audit import Actor
    from kycguard.security.runtime import open_security

    with open_security(_settings()) as sec:
        created = sec.keys.create(
            name=args.name,
            role=args.role,
            tenant=args.tenant,
            expires_in_days=args.expires_in_days,
            never_expires=args.no_expiry,
            rate_limit=args.rate_limit,
            signed=args.signed,
            actor=Actor.cli(),
        )
    _print_created(created, f"{created.info.role.value} API key created", args.json)
    return 0


def keys_list(args: argparse.Namespace) -> int:
    from kycguard.security.runtime import open_security

    with open_security(_settings()) as sec:
        rows = [k.to_dict() for k in sec.keys.list()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'id':<22}{'role':<12}{'tenant':<14}{'status':<9}{'expires_at':<21}name")
    for r in rows:
        print(
            f"{r['id']:<22}{r['role']:<12}{r['tenant'] or '-':<14}{r['status']:<9}"
            f"{(r['expires_at'] or 'never')[:19]:<21}{r['name']}"
        )
    return 0


def keys_revoke(args: argparse.Namespace) -> int:
    from kycguard.security.audit import Actor
    from kycguard.security.runtime import open_security

    with open_security(_settings()) as sec:
        info = sec.keys.revoke(args.key_id, Actor.cli())
    print(f"revoked {info.id} ({info.role.value}, {info.name})")
    return 0


def keys_bootstrap(args: argparse.Namespace) -> int:
    """The first admin key, printed once; a no-op that prints nothing secret afterwards."""
    from kycguard.security.audit import Actor
    from kycguard.security.runtime import open_security

    with open_security(_settings()) as sec:
        created = sec.keys.bootstrap(Actor.cli())
    if created is None:
        print("an active admin API key exists; none created (kycguard keys list)")
        return 0
    _print_created(created, "First admin API key", args.json)
    return 0


def keys_rotate_data_key(args: argparse.Namespace) -> int:
    from kycguard.security.audit import Actor
    from kycguard.security.rotation import rotate_data_key
    from kycguard.security.runtime import open_security

    settings = _settings()
    with open_security(settings) as sec:
        report = rotate_data_key(
            settings.security,
            settings.data_dir,
            sec.database,
            sec.audit,
            Actor.cli(),
            retire_old=args.retire_old,
        )
    print(json.dumps(report, indent=2))
    return 0


def audit_verify(args: argparse.Namespace) -> int:
    from kycguard.security.runtime import open_security

    anchors: dict[int, str] = {}
    for anchor in args.anchor or []:
        seq, _, digest = anchor.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            print(f"--anchor must be SEQ:SHA256HEX, got {anchor!r}", file=sys.stderr)
            return 2
        anchors[int(seq)] = digest
    with open_security(_settings()) as sec:
        report = sec.audit.verify(anchors)
    print(json.dumps(report.to_dict(), indent=2))
    return 0 if report.ok else 1


def retention_purge(args: argparse.Namespace) -> int:
    from kycguard.security.audit import Actor
    from kycguard.security.runtime import open_security

    with open_security(_settings()) as sec:
        counts = sec.retention.purge(actor=Actor.cli())
        days = sec.retention.retention_days
    print(json.dumps({"retention_days": days, "deleted": counts}, indent=2))
    return 0


def _guard(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A KycError (unknown key id, bad role, missing data key) is a message and exit 2, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        from kycguard.errors import KycError

        try:
            return fn(args)
        except KycError as exc:
            print(json.dumps(exc.to_dict(), indent=2), file=sys.stderr)
            return 2

    return run


def register(sub: Any) -> None:
    """Add the ``keys``, ``audit`` and ``retention`` commands to the top-level subparsers."""
    keys = sub.add_parser("keys", help="API keys and data keys")
    ks = keys.add_subparsers(dest="keys_command", required=True)
    create = ks.add_parser("create", help="create an API key (printed once)")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--name", required=True, help="who or what uses it")
    create.add_argument("--tenant", help="tenant of an integrator key (default: 'default')")
    expiry = create.add_mutually_exclusive_group()
    expiry.add_argument(
        "--expires-in-days", type=int, help="default: security.default_key_ttl_days"
    )
    expiry.add_argument("--no-expiry", action="store_true")
    create.add_argument("--rate-limit", type=int, help="requests per window for this key")
    create.add_argument("--signed", action="store_true", help="require HMAC request signatures")
    create.add_argument("--json", action="store_true")
    create.set_defaults(func=_guard(keys_create))
    lst = ks.add_parser("list", help="list API keys (never the keys themselves)")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_guard(keys_list))
    revoke = ks.add_parser("revoke", help="revoke an API key now")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=_guard(keys_revoke))
    boot = ks.add_parser("bootstrap", help="create the first admin key if there is no active one")
    boot.add_argument("--json", action="store_true")
    boot.set_defaults(func=_guard(keys_bootstrap))
    rot = ks.add_parser("rotate-data-key", help="new data-encryption key; re-encrypt everything")
    rot.add_argument(
        "--retire-old", action="store_true", help="drop keys no ciphertext uses any more"
    )
    rot.set_defaults(func=_guard(keys_rotate_data_key))

    audit = sub.add_parser("audit", help="the hash-chained audit log")
    au = audit.add_subparsers(dest="audit_command", required=True)
    ver = au.add_parser("verify", help="check the chain; exit 1 if any entry was edited or deleted")
    ver.add_argument(
        "--anchor", action="append", help="SEQ:HASH recorded earlier outside the database"
    )
    ver.set_defaults(func=_guard(audit_verify))

    retention = sub.add_parser("retention", help="retention of images and templates")
    rs = retention.add_subparsers(dest="retention_command", required=True)
    purge = rs.add_parser("purge", help="delete images/templates older than retention_days")
    purge.set_defaults(func=_guard(retention_purge))
