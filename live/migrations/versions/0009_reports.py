"""ballots keep their voter's answers and the stage a split (for split results); an event's
edited report

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 06:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ballot", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attributes", sa.JSON(), nullable=True))
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("stage_by", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True)
        )
    op.create_table(
        "report",
        sa.Column("conference_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(length=20000), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=True),
        sa.Column("omitted", sa.JSON(), nullable=True),
        sa.Column("with_names", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("published_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["conference_id"], ["conference.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("conference_id"),
    )


def downgrade() -> None:
    op.drop_table("report")
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.drop_column("stage_by")
    with op.batch_alter_table("ballot", schema=None) as batch_op:
        batch_op.drop_column("attributes")
