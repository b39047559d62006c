"""polls: polls, their options, who has voted, and the anonymous ballots

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 14:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STR = AutoString


def upgrade() -> None:
    op.create_table(
        "poll",
        sa.Column("id", _STR(length=16), nullable=False),
        sa.Column("session_id", _STR(), nullable=False),
        sa.Column("room_id", _STR(length=40), nullable=True),
        sa.Column("question", _STR(length=300), nullable=False),
        sa.Column("kind", _STR(length=12), nullable=False),
        sa.Column("status", _STR(length=8), nullable=False),
        sa.Column("allow_change", sa.Boolean(), nullable=False),
        sa.Column("max_choices", sa.Integer(), nullable=True),
        sa.Column("scale_min", sa.Integer(), nullable=True),
        sa.Column("scale_max", sa.Integer(), nullable=True),
        sa.Column("min_label", _STR(length=120), nullable=True),
        sa.Column("max_label", _STR(length=120), nullable=True),
        sa.Column("show_results", _STR(length=8), nullable=False),
        sa.Column("hidden_words", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["session.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_poll_session_id", "poll", ["session_id"])
    op.create_index("ix_poll_room_id", "poll", ["room_id"])
    op.create_table(
        "poll_option",
        sa.Column("id", _STR(length=16), nullable=False),
        sa.Column("poll_id", _STR(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", _STR(length=120), nullable=False),
        sa.ForeignKeyConstraint(["poll_id"], ["poll.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_poll_option_poll_id", "poll_option", ["poll_id"])
    # No rowid on SQLite: insertion order must not pair a voter with a ballot.
    op.create_table(
        "poll_voter",
        sa.Column("poll_id", sa.String(length=16), nullable=False),
        sa.Column("participant_id", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["poll_id"], ["poll.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["participant_id"], ["participant.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("poll_id", "participant_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "ballot",
        sa.Column("id", _STR(length=16), nullable=False),
        sa.Column("poll_id", _STR(), nullable=False),
        sa.Column("voter_id", _STR(length=16), nullable=True),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.Column("text", _STR(length=500), nullable=True),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["poll_id"], ["poll.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["voter_id"], ["participant.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("poll_id", "voter_id", name="uq_ballot_poll_voter"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_ballot_poll_id", "ballot", ["poll_id"])
    op.create_table(
        "ballot_choice",
        sa.Column("ballot_id", sa.String(length=16), nullable=False),
        sa.Column("option_id", sa.String(length=16), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["ballot_id"], ["ballot.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["option_id"], ["poll_option.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ballot_id", "option_id"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_ballot_choice_option_id", "ballot_choice", ["option_id"])
    op.create_table(
        "ballot_word",
        sa.Column("ballot_id", sa.String(length=16), nullable=False),
        sa.Column("word", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["ballot_id"], ["ballot.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ballot_id", "word"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_ballot_word_word", "ballot_word", ["word"])


def downgrade() -> None:
    op.drop_table("ballot_word")
    op.drop_table("ballot_choice")
    op.drop_table("ballot")
    op.drop_table("poll_voter")
    op.drop_table("poll_option")
    op.drop_table("poll")
