"""What a submission must be before it is stored: shared by the student API and LMS webhooks.

Every rule here answers with `BadInput` and a one-line reason (HTTP 422), so nothing that cannot
be graded ever reaches the queue.
"""

from __future__ import annotations

from grader.bank import Bank
from grader.errors import BadInput
from grader.grading.answers import parse_choice, parse_number
from grader.grading.submission import source_from_bytes
from grader.models import CodeItem, McqItem, NumericItem
from grader.service.grading import queue_for
from grader.service.store import NewSubmission

#: The longest answer kept: the store's `choice` column holds 200 characters (PostgreSQL
#: enforces it; an answer it refused would be a 500, not a clear 422).
CHOICE_CHARS = 200


def checked_submission(bank: Bank, new: NewSubmission) -> NewSubmission:
    """`new` with its queue set, if it can be graded; `BadInput` (422) with the reason if not.

    An unknown question raises `UnknownQuestion` (a `BadInput`; the API answers 404).
    """
    item = bank.get(new.question)
    if isinstance(item, CodeItem):
        if new.content is None or not new.filename:
            raise BadInput(f"{item.id!r} is a code exercise: send a .py or .ipynb file")
        source_from_bytes(new.content, new.filename)  # raises BadSubmission with the reason
    elif new.choice is None or new.content is not None:
        raise BadInput(f"{item.id!r} is answered with a choice, not a file")
    elif len(new.choice) > CHOICE_CHARS:
        raise BadInput(f"an answer is at most {CHOICE_CHARS} characters; this one is longer")
    elif isinstance(item, McqItem):
        parse_choice(item, new.choice)
    elif isinstance(item, NumericItem):
        parse_number(item, new.choice)
    return NewSubmission(**{**new.__dict__, "queue": queue_for(item)})
