"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL — a model
change without its migration fails here, not on an operator's `waymark migrate` — and they run down
and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from alembic import command
from backend.db.migrate import alembic_config, upgrade
from backend.db.models import Base


def _differences(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_migrated_schema_matches_the_models(engine):
    assert _differences(engine) == []


def test_the_newest_migration_goes_down_and_up_again(engine):
    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "-1")
    assert _differences(engine) != []  # something really was undone
    upgrade(engine)
    assert _differences(engine) == []
