"""events: a programme of sessions, their organisers, registrations and invitations

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 05:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "conference",
        sa.Column("id", text(length=16), nullable=False),
        sa.Column("title", text(length=200), nullable=False),
        sa.Column("description", text(length=4000), nullable=False),
        sa.Column("starts_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("ends_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("access", text(length=8), nullable=False),
        sa.Column("registration_open", sa.Boolean(), nullable=False),
        sa.Column("registration_closes_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("organiser_id", text(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["organiser_id"], ["organiser.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("conference", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conference_organiser_id"), ["organiser_id"])
    op.create_table(
        "organising",
        sa.Column("conference_id", text(), nullable=False),
        sa.Column("organiser_id", text(), nullable=False),
        sa.Column("added_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["conference_id"], ["conference.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organiser_id"], ["organiser.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("conference_id", "organiser_id"),
    )
    with op.batch_alter_table("organising", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_organising_organiser_id"), ["organiser_id"])
    op.create_table(
        "registration",
        sa.Column("id", text(length=16), nullable=False),
        sa.Column("conference_id", text(), nullable=False),
        sa.Column("name", text(length=80), nullable=False),
        sa.Column("email", text(length=254), nullable=False),
        sa.Column("email_key", text(length=254), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("status", text(length=10), nullable=False),
        sa.Column("place", sa.Integer(), nullable=True),
        sa.Column("locale", text(length=8), nullable=False),
        sa.Column("consented_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("withdraw_hash", text(length=64), nullable=False),
        sa.Column("invite_hash", text(length=64), nullable=True),
        sa.ForeignKeyConstraint(["conference_id"], ["conference.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("withdraw_hash"),
        sa.UniqueConstraint("invite_hash"),
    )
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registration_conference_id"), ["conference_id"])
        batch_op.create_index("ix_registration_email", ["conference_id", "email_key"], unique=True)
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conference_id", text(), nullable=True))
        batch_op.add_column(
            sa.Column("starts_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_session_conference_id"), ["conference_id"])
        batch_op.create_foreign_key(
            "fk_session_conference_id", "conference", ["conference_id"], ["id"], ondelete="CASCADE"
        )
    with op.batch_alter_table("participant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("registration_id", text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_participant_registration_id"), ["registration_id"])
        batch_op.create_foreign_key(
            "fk_participant_registration_id",
            "registration",
            ["registration_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("breakout_round", schema=None) as batch_op:
        batch_op.alter_column("balance_by", existing_type=text(length=40), type_=text(length=410))


def downgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    with op.batch_alter_table("breakout_round", schema=None) as batch_op:
        batch_op.alter_column("balance_by", existing_type=text(length=410), type_=text(length=40))
    with op.batch_alter_table("participant", schema=None) as batch_op:
        batch_op.drop_constraint("fk_participant_registration_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_participant_registration_id"))
        batch_op.drop_column("registration_id")
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.drop_constraint("fk_session_conference_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_session_conference_id"))
        batch_op.drop_column("starts_at")
        batch_op.drop_column("conference_id")
    op.drop_table("registration")
    op.drop_table("organising")
    op.drop_table("conference")
