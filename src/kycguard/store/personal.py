"""Personal data in decision records: sealed while kept, gone after erasure or retention.

A verification's answer holds the holder's names, birth date, document number and MRZ lines in many
places (the MRZ, the visual zone, the comparisons, check details, finding messages), and other
features add fields over time. So the record is split the safe way round:

* ``sealed``: the whole answer, AES-GCM encrypted with the data keys (AAD ``verifications/<id>``);
  ``GET /verifications/{id}`` decrypts it while the personal data is kept;
* ``result`` (plain JSON): :func:`public_view`, an allow-list of what is not personal -- the decision,
  confidence, scores, thresholds, reason codes, finding codes and check outcomes. A field nobody
  listed here is sealed, never left in clear.

Erasure (``DELETE /subjects/{user_id}``) and retention delete ``sealed`` with the images; the answer is
then the public view with ``personal_data: {"status": "erased", ...}``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

# top-level keys whose whole value is free of personal data (numbers, codes, thresholds)
PUBLIC_KEYS = frozenset(
    {
        "verification_id",
        "session_id",
        "status",
        "decision",
        "verified",
        "overall_confidence",
        "confidence",
        "reasons",
        "recommendation",
        "scores",
        "thresholds",
        "face_match",
        "quality",
        "created_at",
        "completed_at",
        "api_version",
        "processing_time_ms",
        "message",  # a canned sentence for the end user (decision.record.message)
        "identity_verified",
        "liveness_passed",
    }
)
_CHECK_KEYS = ("name", "passed", "score", "hard_reject", "status")
_LIVENESS_KEYS = ("liveness_score", "deepfake_score", "injection_score", "score", "verdict")
_LIVENESS_NESTED = ("verdicts", "active_detectors")


def public_view(result: dict[str, Any]) -> dict[str, Any]:
    """The part of an answer that is kept in clear and outlives erasure."""
    view = {k: v for k, v in result.items() if k in PUBLIC_KEYS}
    doc = result.get("document_authenticity")
    if isinstance(doc, dict):
        view["document_authenticity"] = {
            k: doc[k]
            for k in ("score", "authenticity_score", "hard_reject", "identity_evidence")
            if k in doc
        } | {
            "checks": [
                {k: c[k] for k in _CHECK_KEYS if k in c}
                for c in doc.get("checks") or ()
                if isinstance(c, dict)
            ]
        }
    liveness = result.get("liveness_check")
    if isinstance(liveness, dict):
        view["liveness_check"] = {
            k: liveness[k] for k in (*_LIVENESS_KEYS, *_LIVENESS_NESTED) if k in liveness
        }
    policy = result.get("policy")
    if isinstance(policy, dict):  # the policy's names and codes; matched document facts sealed
        view["policy"] = {
            k: policy[k]
            for k in ("name", "version", "experiment", "variant", "risk", "skipped_checks")
            if k in policy
        } | {
            "required": list(policy.get("required") or ()),
            "document_rules": [
                {"rule": r["rule"]} for r in policy.get("document_rules") or () if "rule" in r
            ],
        }
    for key in ("findings", "errors"):
        items = result.get(key)
        if isinstance(items, list):
            view[key] = [
                {k: f[k] for k in ("code", "severity") if k in f}
                for f in items
                if isinstance(f, dict)
            ]
    return view


def seal_bytes(result: dict[str, Any]) -> bytes:
    return json.dumps(result, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def unseal_bytes(data: bytes) -> dict[str, Any]:
    value = json.loads(data)
    return value if isinstance(value, dict) else {}


def erased_marker(at: datetime | None, reason: str | None) -> dict[str, Any]:
    return {
        "status": "erased",
        "reason": reason,
        "erased_at": at.isoformat() if at is not None else None,
        "note": "names, dates, document number, MRZ and other personal fields were deleted; "
        "the decision, scores and reason codes are kept",
    }
