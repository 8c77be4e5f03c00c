"""``POST /v1/feedback``: an agent's decision on a review, stored against the review's id.

Reviews get an id (and are stored) only when the service has a database (``REVIEWER_DB``);
without one this route answers 404 ``feedback_disabled`` (nothing to attach feedback to).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3

from fastapi import APIRouter
from fastapi.responses import Response

from reviewer.feedback.store import FeedbackRecord, FeedbackRequest, FeedbackStore, UnknownReview
from reviewer.models import Review, ReviewRequest
from reviewer.service.errors import ApiError, error_responses
from reviewer.service.logs import SERVICE_LOGGER

log = logging.getLogger(SERVICE_LOGGER)


async def remember(store: FeedbackStore | None, request: ReviewRequest, review: Review) -> Review:
    """The review with its id, stored (a synchronous, durable write, off the event loop); as is without a store.

    A database that fails (disk full, locked too long) costs the review its id, never the review itself.
    """
    if store is None:
        return review
    try:
        return await asyncio.to_thread(store.save_review, request, review)
    except sqlite3.Error as exc:
        log.error("review not stored", extra={"exc_type": type(exc).__name__})
        return review


def router(store: FeedbackStore | None, protected_errors: tuple[int, ...]) -> APIRouter:
    routes = APIRouter()

    @routes.post(
        "/v1/feedback",
        status_code=201,
        response_model=FeedbackRecord,
        responses=error_responses(*protected_errors, 404, 413, 422, 503),
        summary="An agent's decision on a review's rewrite: accepted, edited (with the text) or rejected (why).",
        tags=["feedback"],
    )
    async def give_feedback(feedback: FeedbackRequest) -> Response:
        if store is None:
            raise ApiError(404, "Feedback is off: start the service with REVIEWER_DB=<file>.", code="feedback_disabled")
        missing = feedback.missing()
        if missing is not None:
            raise ApiError(422, missing[1], code="invalid_request", field=missing[0])
        try:
            record = await asyncio.to_thread(store.add_feedback, feedback)
        except sqlite3.Error as exc:
            log.error("feedback not stored", extra={"exc_type": type(exc).__name__})
            raise ApiError(
                503, "The feedback could not be stored; try again.", code="unavailable", headers={"Retry-After": "1"}
            ) from None
        except UnknownReview:
            message = "No review with this id was stored here."
            raise ApiError(404, message, code="not_found", field="review_id") from None
        return Response(record.model_dump_json(), status_code=201, media_type="application/json")

    return routes
