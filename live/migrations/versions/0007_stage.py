"""sessions keep what their stage shows, and the salt of the stage's link

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 02:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("stage_show", text(length=8), nullable=False, server_default="join")
        )
        batch_op.add_column(sa.Column("stage_ref", text(length=16), nullable=True))
        batch_op.add_column(sa.Column("stage_text", text(length=280), nullable=True))
        batch_op.add_column(
            sa.Column("stage_reveal", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("stage_salt", text(length=24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("session", schema=None) as batch_op:
        for name in ("stage_salt", "stage_reveal", "stage_text", "stage_ref", "stage_show"):
            batch_op.drop_column(name)
