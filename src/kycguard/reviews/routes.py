"""``/api/v1/reviews``: the review queue, evidence, claims and decisions; feedback labels."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from kycguard.api.deps import runtime
from kycguard.reviews.reasons import REASONS
from kycguard.reviews.service import Reviewer, ReviewService
from kycguard.security.auth import Principal, require
from kycguard.security.keys import Role
from kycguard.services.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["reviews"])
reviewer = require(Role.REVIEWER)


def _id() -> Any:
    """A fresh path parameter each time (FastAPI binds a Path object to one parameter name)."""
    return Path(..., min_length=1, max_length=64)


class DecisionBody(BaseModel):
    model_config = {"extra": "forbid"}

    decision: Literal["approve", "reject", "request_resubmission"]
    reason: str | None = Field(None, max_length=64)
    notes: str = Field("", max_length=4000)


class FeedbackBody(BaseModel):
    model_config = {"extra": "forbid"}

    was_fraud: bool
    notes: str = Field("", max_length=4000)


def _service(rt: Runtime) -> ReviewService:
    assert rt.reviews is not None
    return rt.reviews


def _who(p: Principal) -> Reviewer:
    return Reviewer(p.actor, p.tenant_filter)


@router.get("/reviews", summary="The review queue: highest risk first, then oldest")
def list_reviews(
    status: Literal["open", "claimed", "decided"] | None = Query(None),
    kind: Literal["verification", "session"] | None = Query(None),
    limit: int = Query(50, ge=1, le=200),
    cursor: str | None = Query(None, max_length=400),
    rt: Runtime = Depends(runtime),
    who: Principal = Depends(reviewer),
) -> dict[str, Any]:
    return _service(rt).list(_who(who), status=status, kind=kind, limit=limit, cursor=cursor)


@router.get("/reviews/reasons", summary="The fixed list of decision reasons")
def list_reasons(_: Principal = Depends(reviewer)) -> dict[str, Any]:
    return {"reasons": [{"code": c, "label": label} for c, label in REASONS.items()]}


@router.get("/reviews/{review_id}", summary="A case and its evidence (the view is audited)")
def get_review(
    review_id: str = _id(), rt: Runtime = Depends(runtime), who: Principal = Depends(reviewer)
) -> dict[str, Any]:
    return _service(rt).get(review_id, _who(who))


@router.get(
    "/reviews/{review_id}/images/{kind}",
    summary="One evidence image as JPEG, decrypted for this request (the view is audited)",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def get_review_image(
    review_id: str = _id(),
    kind: str = Path(..., min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$"),
    rt: Runtime = Depends(runtime),
    who: Principal = Depends(reviewer),
) -> Response:
    data = _service(rt).image(review_id, kind, _who(who))
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post("/reviews/{review_id}/claim", summary="Claim a case (one reviewer at a time)")
async def claim_review(
    review_id: str = _id(), rt: Runtime = Depends(runtime), who: Principal = Depends(reviewer)
) -> dict[str, Any]:
    return await run_in_threadpool(_service(rt).claim, review_id, _who(who))


@router.post("/reviews/{review_id}/release", summary="Give a claimed case back to the queue")
async def release_review(
    review_id: str = _id(), rt: Runtime = Depends(runtime), who: Principal = Depends(reviewer)
) -> dict[str, Any]:
    return await run_in_threadpool(_service(rt).release, review_id, _who(who))


@router.post("/reviews/{review_id}/decision", summary="Decide a case you have claimed")
async def decide_review(
    body: DecisionBody,
    review_id: str = _id(),
    rt: Runtime = Depends(runtime),
    who: Principal = Depends(reviewer),
) -> dict[str, Any]:
    return await run_in_threadpool(
        _service(rt).decide, review_id, _who(who), body.decision, body.reason, body.notes
    )


@router.post("/verify/{verification_id}/feedback", summary="Label a verification: was it fraud?")
async def verification_feedback(
    body: FeedbackBody,
    verification_id: str = _id(),
    rt: Runtime = Depends(runtime),
    who: Principal = Depends(reviewer),
) -> dict[str, Any]:
    return await run_in_threadpool(
        _service(rt).label, "verification", verification_id, body.was_fraud, body.notes, _who(who)
    )


@router.post("/sessions/{session_id}/feedback", summary="Label a video session: was it fraud?")
async def session_feedback(
    body: FeedbackBody,
    session_id: str = _id(),
    rt: Runtime = Depends(runtime),
    who: Principal = Depends(reviewer),
) -> dict[str, Any]:
    return await run_in_threadpool(
        _service(rt).label, "session", session_id, body.was_fraud, body.notes, _who(who)
    )
