"""token roles and expiry, report versions, regrade fingerprints, deleted LMS clients

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(length=20), nullable=False, server_default="student")
        )
        batch_op.add_column(sa.Column("expires_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("revoked_at", sa.Float(), nullable=True))
    with op.batch_alter_table("lms_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", sa.Float(), nullable=True))
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("regrade_by", sa.String(length=200), nullable=True))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.create_table(
        "report_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=20), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("submission_id", "version"),
    )
    with op.batch_alter_table("report_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_versions_submission_id"), ["submission_id"], unique=False
        )
    # Reports written before versions existed become version 1, graded by the grader.
    op.execute(
        "INSERT INTO report_versions (submission_id, version, change, by, report, created_at) "
        "SELECT id, 1, 'graded', 'grader', report, COALESCE(finished_at, created_at) "
        "FROM submissions WHERE status = 'done' AND report IS NOT NULL"
    )
    op.execute("UPDATE submissions SET version = 1 WHERE status = 'done' AND report IS NOT NULL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Dropping columns rebuilds `submissions` (copy, drop, rename); with foreign keys on,
        # the drop fails while deliveries and webhooks point at its rows. Off for this run only
        # (it must be set before the first write opens SQLite's transaction).
        op.execute("PRAGMA foreign_keys=OFF")
    # The schema before 0004 knows neither roles, nor revocation, nor expiry: a token it keeps
    # works for good, as a student's. So the tokens that must not are deleted (fail closed):
    # revoked ones, instructors', and expiring ones (their students get new tokens).
    op.execute(
        "DELETE FROM tokens "
        "WHERE revoked_at IS NOT NULL OR expires_at IS NOT NULL OR role <> 'student'"
    )
    with op.batch_alter_table("report_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_versions_submission_id"))
    op.drop_table("report_versions")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("version")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_column("regrade_by")
        batch_op.drop_column("fingerprint")
        batch_op.drop_column("version")
    with op.batch_alter_table("lms_clients", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("role")
