"""`waymark import`: the same import as the web app's, from a terminal, on both engines."""

from __future__ import annotations

import csv

import pytest
import sqlalchemy as sa

from backend.cli import main
from backend.db.models import Contact


@pytest.fixture
def cli_env(monkeypatch, db_url, tmp_path, workspace):
    monkeypatch.setenv("WAYMARK_DATABASE_URL", db_url)
    monkeypatch.setenv("WAYMARK_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("WAYMARK_SECRET_KEY", "k" * 32)
    return workspace


def test_import_dry_run_then_import_with_a_report(cli_env, engine, tmp_path, capsys):
    source = tmp_path / "crm.csv"
    source.write_text("E-mail,Customer,Plan\nana@example.com,c-1,pro\nnope,c-2,basic\n", encoding="utf-8")

    main(["import", str(source), "--workspace", "acme", "--dry-run", "--map", "Plan=trait.tier"])
    out = capsys.readouterr().out
    assert "'Plan'" in out and "-> trait.tier" in out
    assert "row 2: create" in out and "row 3: error E-mail: is not an email address" in out
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Contact)).scalar_one() == 0

    report = tmp_path / "report.csv"
    main(["import", str(source), "--workspace", "acme", "--map", "Plan=trait.tier", "--errors", str(report)])
    out = capsys.readouterr().out
    assert "done: 1 created, 0 updated, 1 rows refused" in out
    assert list(csv.reader(report.open(encoding="utf-8"))) == [
        ["row", "column", "value", "reason"],
        ["3", "E-mail", "nope", "is not an email address"],
    ]
    with engine.connect() as conn:
        row = conn.execute(sa.select(Contact.external_id, Contact.attributes)).one()
    assert row.external_id == "c-1" and row.attributes == {"tier": "pro"}

    main(["import", str(source), "--workspace", "acme", "--map", "Plan=trait.tier"])
    assert "done: 0 created, 1 updated, 1 rows refused" in capsys.readouterr().out


def test_import_refuses_a_bad_mapping_with_its_pointer(cli_env, tmp_path, capsys):
    source = tmp_path / "crm.csv"
    source.write_text("name\nAna\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        main(["import", str(source), "--workspace", "acme"])
    assert exited.value.code == 1
    assert "/mapping: map a column to external_id or email" in capsys.readouterr().err
