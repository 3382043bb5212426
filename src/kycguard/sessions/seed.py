"""The video-KYC seed's answer fields, added to today's answers on its ``/api/v1/kyc/*`` routes.

The seed's clients read ``liveness_score``, ``deepfake_score`` and ``face_detected`` after each frame
and ``verified`` plus ``status: PASSED | FAILED`` at completion, with scores on a 0-1 scale (the scale
of its ``liveness_score_min: 0.65``). kycguard's own answers use 0-100 and ``status`` is the decision
(``approved`` / ``manual_review`` / ``rejected``), so on the alias routes only:

* ``liveness_score`` / ``deepfake_score`` are 0-1; today's 0-100 running score stays as
  ``running_liveness_score`` and every other field is unchanged;
* ``status`` is ``PASSED`` (approved) or ``FAILED`` (anything else: a case held for review is not
  verified yet), ``verified`` is ``status == "PASSED"``, and the decision itself is ``decision``.

``deepfake_score`` is ``null`` after a frame: deepfake analysis runs over the kept frames at
completion, never per frame, and a made-up number would be worse than none.
"""

from __future__ import annotations

from typing import Any

PASSED, FAILED = "PASSED", "FAILED"


def _unit(score: Any) -> float | None:
    """A 0-100 score on the seed's 0-1 scale."""
    return None if not isinstance(score, int | float) else round(float(score) / 100.0, 3)


def frame_answer(answer: dict[str, Any]) -> dict[str, Any]:
    return answer | {
        "liveness_score": _unit(answer.get("liveness_score")),
        "running_liveness_score": answer.get("liveness_score"),
        "deepfake_score": None,
        "face_detected": bool(answer.get("face_detected")),
    }


def completion_answer(result: dict[str, Any]) -> dict[str, Any]:
    """A session's decision with the seed's verdict fields."""
    decision = result.get("status")
    liveness = result.get("liveness_check") or {}
    verified = decision == "approved"
    return result | {
        "status": PASSED if verified else FAILED,
        "verified": verified,
        "decision": decision,
        "liveness_score": _unit(liveness.get("liveness_score")),
        "deepfake_score": _unit(liveness.get("deepfake_score")),
    }


def status_answer(view: dict[str, Any]) -> dict[str, Any]:
    """Progress of a session; once decided, the seed's verdict fields too."""
    answer = view | {
        "liveness_score": _unit(view.get("liveness_score")),
        "running_liveness_score": view.get("liveness_score"),
    }
    result = view.get("result")
    if isinstance(result, dict):
        seeded = completion_answer(result)
        answer |= {
            "session_status": view.get("status"),
            "status": seeded["status"],
            "verified": seeded["verified"],
            "decision": seeded["decision"],
            "deepfake_score": seeded["deepfake_score"],
        }
    return answer
