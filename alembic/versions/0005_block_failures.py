"""block failures: an enrollment whose block raised is parked (status 'failed') with its error

Revision ID: 0005
Revises: 0003
"""

import sqlalchemy as sa

import backend.db.models
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error_type", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("error_message", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("failed_at", backend.db.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_column("failed_at")
        batch_op.drop_column("error_message")
        batch_op.drop_column("error_type")
