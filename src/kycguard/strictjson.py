"""Strict JSON for every body and field a caller sends: finite numbers, bounded nesting.

Python's ``json`` accepts ``NaN``, ``Infinity`` and ``1e999`` (which becomes ``inf``) and recurses once
per nesting level, so a body of 100,000 ``[`` raises ``RecursionError`` (a 500) instead of a
``JSONDecodeError``. :func:`loads` refuses all of these with a 422 in the one error shape; nesting
is limited to :data:`MAX_DEPTH` levels, far more than any kycguard body needs.
"""

from __future__ import annotations

import json
import math
from typing import Any

from kycguard.errors import InvalidRequest

MAX_DEPTH = 32


class _NonFinite(ValueError):
    pass


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(f"number {text} is out of range; send a finite number")
    return value


def _no_constant(name: str) -> Any:
    raise _NonFinite(f"{name} is not a number JSON allows; send a finite number")


def depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (iterative: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, level + 1) for c in children)
    return deepest


def loads(
    data: str | bytes,
    *,
    field: str | None = None,
    code: str = "INVALID_JSON",
    what: str = "the body",
    max_depth: int = MAX_DEPTH,
) -> Any:
    """Parse ``data``; a 422 ``code`` naming ``field`` for anything but plain, finite JSON."""
    try:
        value = json.loads(data, parse_float=_finite, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"{what} is not valid JSON: {exc.msg} at position {exc.pos}", code=code, field=field
        ) from exc
    except RecursionError:
        raise InvalidRequest(
            f"{what} is nested too deeply (at most {max_depth} levels)",
            code="JSON_TOO_DEEP",
            field=field,
        ) from None
    except _NonFinite as exc:
        raise InvalidRequest(f"{what}: {exc}", code="NON_FINITE_NUMBER", field=field) from exc
    except (ValueError, UnicodeDecodeError) as exc:  # 4300+ digit integers, bad UTF-8
        raise InvalidRequest(
            f"{what} is not acceptable JSON: {exc}", code=code, field=field
        ) from exc
    if depth(value) > max_depth:
        raise InvalidRequest(
            f"{what} is nested too deeply (at most {max_depth} levels)",
            code="JSON_TOO_DEEP",
            field=field,
        )
    return value
