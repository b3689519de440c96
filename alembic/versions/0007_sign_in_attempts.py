"""sign-in attempts: the sign-in throttle by client and by account, shared by every API process

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa

import backend.db.models
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account", sa.String(length=320), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", backend.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sign_in_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_sign_in_attempts_account", ["account", "at"], unique=False)
        batch_op.create_index("ix_sign_in_attempts_at", ["at"], unique=False)
        batch_op.create_index("ix_sign_in_attempts_client", ["client", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sign_in_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_sign_in_attempts_client")
        batch_op.drop_index("ix_sign_in_attempts_at")
        batch_op.drop_index("ix_sign_in_attempts_account")
    op.drop_table("sign_in_attempts")
