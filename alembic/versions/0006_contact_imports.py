"""contact imports: CSV import jobs and their per-row error report

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa

import backend.db.models
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_json = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_time = backend.db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "contact_imports",
        sa.Column("id", _id, primary_key=True),
        sa.Column("workspace_id", _id, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("delimiter", sa.String(1), nullable=False),
        sa.Column("columns", _json, nullable=False),
        sa.Column("mapping", _json, nullable=False),
        sa.Column("bytes_total", sa.BigInteger(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("rows_done", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", _time, nullable=False),
        sa.Column("started_at", _time, nullable=True),
        sa.Column("finished_at", _time, nullable=True),
        sa.Column("created_by", _id, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
    op.create_index("ix_contact_imports_workspace", "contact_imports", ["workspace_id", "id"])
    op.create_index("ix_contact_imports_status", "contact_imports", ["status"])
    op.create_table(
        "contact_import_errors",
        sa.Column("id", _id, primary_key=True),
        sa.Column(
            "import_id", _id, sa.ForeignKey("contact_imports.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("row", sa.BigInteger(), nullable=False),
        sa.Column("column", sa.String(255), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
    )
    op.create_index("ix_contact_import_errors_import", "contact_import_errors", ["import_id", "row"])


def downgrade() -> None:
    op.drop_table("contact_import_errors")
    op.drop_table("contact_imports")
