"""lti: our signing keys, platform registrations, logins (state and nonce), launch sessions, the
submissions made through a launch, and AGS scores as a kind of delivery

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every delivery stored before is a webhook; an AGS score has no LMS client, so the client
    # becomes optional (the webhook code still sets it on every webhook row).
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), server_default="webhook", nullable=False)
        )
        batch_op.alter_column("client_id", existing_type=sa.Integer(), nullable=True)
    _create_keys_and_registrations()
    _create_logins_sessions_links()


def _create_keys_and_registrations() -> None:
    op.create_table(
        "lti_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("private_pem", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("kid"),
    )
    op.create_index("ix_lti_keys_created_at", "lti_keys", ["created_at"])
    op.create_table(
        "lti_registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("deployment_ids", sa.JSON(), nullable=False),
        sa.Column("auth_login_url", sa.Text(), nullable=False),
        sa.Column("auth_token_url", sa.Text(), nullable=False),
        sa.Column("jwks_url", sa.Text(), nullable=False),
        sa.Column("course", sa.String(length=200), nullable=True),
        sa.Column("contexts", sa.JSON(), nullable=False),
        sa.Column("any_context", sa.Boolean(), nullable=False),
        sa.Column("service_hosts", sa.JSON(), nullable=False),
        sa.Column("allow_http_loopback", sa.Boolean(), nullable=False),
        sa.Column("keys_flushed_at", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("issuer", "client_id"),
    )


def _create_logins_sessions_links() -> None:
    op.create_table(
        "lti_logins",
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("login_hint", sa.Text(), nullable=True),
        sa.Column("message_hint", sa.Text(), nullable=True),
        sa.Column("target_link_uri", sa.Text(), nullable=True),
        sa.Column("deployment_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["registration_id"], ["lti_registrations.id"]),
        sa.PrimaryKeyConstraint("state"),
        sa.UniqueConstraint("nonce"),
    )
    op.create_index("ix_lti_logins_created_at", "lti_logins", ["created_at"])
    op.create_table(
        "lti_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("student", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("user_name", sa.String(length=200), nullable=True),
        sa.Column("context_id", sa.String(length=255), nullable=False),
        sa.Column("context_title", sa.String(length=200), nullable=True),
        sa.Column("relaunch_url", sa.Text(), nullable=True),
        sa.Column("course", sa.String(length=200), nullable=True),
        sa.Column("question", sa.String(length=200), nullable=False),
        sa.Column("assignment", sa.String(length=200), nullable=True),
        sa.Column("lineitem", sa.Text(), nullable=True),
        sa.Column("frame_origins", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["registration_id"], ["lti_registrations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "lti_links",
        sa.Column("submission_id", sa.String(length=40), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("lineitem", sa.Text(), nullable=True),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("stamp_ms", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["registration_id"], ["lti_registrations.id"]),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"]),
        sa.PrimaryKeyConstraint("submission_id"),
    )


def downgrade() -> None:
    # AGS deliveries have no client: they go with the LTI tables, so the column can be required
    # again.
    op.execute("DELETE FROM deliveries WHERE kind = 'ags'")
    for table in ("lti_links", "lti_sessions", "lti_logins", "lti_registrations", "lti_keys"):
        op.drop_table(table)
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("client_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("kind")
