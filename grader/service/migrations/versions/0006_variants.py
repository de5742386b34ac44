"""variants: each submission's seed, and the server's own secrets (the variant secret)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Null for the submissions stored before: they were made to the one variant there was, and
    # an item that does not vary keeps null too (grading.grade_stored reads null as "no seed").
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seed", sa.BigInteger(), nullable=True))
    op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Dropping a column rebuilds `submissions`; with foreign keys on, dropping the old table
        # fails while deliveries and webhooks point at its rows (as in 0004's downgrade).
        op.execute("PRAGMA foreign_keys=OFF")
    # The secret goes with the table: upgrading again makes a new one, and every student a new
    # variant of each varying item (their stored submissions lost their seeds anyway).
    op.drop_table("server_secrets")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_column("seed")
