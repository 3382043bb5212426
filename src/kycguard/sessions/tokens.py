"""Session tokens: the one credential a browser gets, good for one session and only until it expires.

Random (256 bits), shown once at creation and stored only as its SHA-256, so a database leak does not
hand out live sessions; compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX = "kgs_"  # recognisable in logs and secret scanners


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(token), stored_hash)
