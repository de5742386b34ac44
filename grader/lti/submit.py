"""A launched user's submission: through the server's normal intake (the answer checked, the
assignment's window and attempt limit applied, the variant seeded), so it is graded, stored and
revealed exactly like a `grader submit`. Its `LtiLink` (where its score goes) is written in the
same transaction as the submission, so no grading can finish before its score is owed.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from grader.service import assignments, intake, logs, store, variants
from grader.service.db import LtiLink, LtiSession, Submission
from grader.service.errors import Refused
from grader.service.state import ServiceState


def submit(
    state: ServiceState,
    launched: LtiSession,
    content: bytes | None,
    filename: str | None,
    choice: str | None,
) -> Submission:
    """Store and dispatch the answer; `BadInput` (422) or `Refused` (403, 409, 429) as the
    student API answers."""
    new = store.NewSubmission(
        question=launched.question,
        student=launched.student,
        course=launched.course,
        filename=filename,
        content=content,
        choice=choice,
        assignment=launched.assignment,
    )
    new = intake.checked_submission(state.bank, new)
    admitted = assignments.admit(state.catalog, state.bank, new, state.clock())
    seeded = variants.seeding(state.sessions, state.bank, state.catalog, admitted.new)
    row = _add_linked(state, seeded, admitted.limit, launched)
    logs.accepted(row, "lti")
    state.dispatcher.dispatch(row.id, new.queue)
    return row


def _add_linked(
    state: ServiceState, new: store.NewSubmission, limit: int | None, launched: LtiSession
) -> Submission:
    """`store.add_counted`, with the link added before the commit."""
    for _ in range(store.ATTEMPT_TRIES):
        with state.sessions() as session:
            try:
                row = store.add_submission(session, new, limit, state.settings.student_inflight)
                session.flush()
                session.add(
                    LtiLink(
                        submission_id=row.id,
                        registration_id=launched.registration_id,
                        lineitem=launched.lineitem,
                        user_id=launched.user_id,
                    )
                )
                session.commit()
                return row
            except DBAPIError as exc:
                session.rollback()
                if not store.lost_race(exc):
                    raise
    raise Refused(409, "too many submissions of this item at once; send it again")
