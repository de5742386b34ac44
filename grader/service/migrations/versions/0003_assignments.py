"""submissions.assignment, attempt, late_penalty: submissions counted per assignment and item

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COUNTED = ["student", "assignment", "question", "attempt"]


def upgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assignment", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("attempt", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("late_penalty", sa.Float(), nullable=True))
        batch_op.create_unique_constraint("uq_submissions_attempt", COUNTED)


def downgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_submissions_attempt", type_="unique")
        batch_op.drop_column("late_penalty")
        batch_op.drop_column("attempt")
        batch_op.drop_column("assignment")
