"""job leases (a worker's renewable claim on a running job), a unique creation order, the request id of a job

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("videos") as batch_op:
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("request_id", sa.String(length=128), nullable=True))
        # seq was assigned under one process's lock; with several processes the database keeps it unique.
        batch_op.drop_index("ix_videos_seq")
        batch_op.create_index("ix_videos_seq", ["seq"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("videos") as batch_op:
        batch_op.drop_index("ix_videos_seq")
        batch_op.create_index("ix_videos_seq", ["seq"], unique=False)
        batch_op.drop_column("request_id")
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("lease_owner")
