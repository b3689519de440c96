"""CSV import and export in the domain (backend/contacts/imports.py, exports.py), on both engines: the
mapping, bad rows reported with their row and column while the good rows are imported, re-import
updating the same contacts, consent and subscriptions, BOM and semicolon files, and the export's
formula guard."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend.contacts import exports, imports
from backend.contacts.imports import MappingEntry
from backend.db.models import Contact, ContactImport, Subscription
from backend.errors import Refused
from tests.api.conftest import ok
from tests.audience.test_segments import work


def write(tmp_path: Path, text: str, *, bom: bool = False, name: str = "contacts.csv") -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def run_import(services, workspace, path: Path, mapping: list[MappingEntry] | None = None) -> ContactImport:
    spooled = imports.copy_in(path, services)
    job_id = imports.create(services, workspace.id, spooled, path.name)
    with services.engine.connect() as conn:
        job = imports.get(conn, workspace.id, job_id)
    imports.start(services, workspace.id, job_id, mapping or imports.mapping_of(job))
    imports.run_to_end(services, job_id)
    with services.engine.connect() as conn:
        return imports.get(conn, workspace.id, job_id)


def contacts(services, workspace) -> dict[str, Contact]:
    with services.engine.connect() as conn:
        rows = conn.execute(sa.select(Contact.__table__).where(Contact.workspace_id == workspace.id)).all()
    return {r.external_id or r.email: r for r in rows}


def report(services, job) -> list[tuple[int, str, str]]:
    with services.engine.connect() as conn:
        return [(e.row, e.column, e.reason) for e in imports.errors(conn, job.id)]


def test_guessed_mapping_reads_known_names_and_keeps_the_rest_as_traits():
    targets = [
        e.target
        for e in imports.guess_mapping(
            ["E-mail", "user_id", "Phone number", "Tags", "consent.email", "trait.plan", "computed.x", "City"]
        )
    ]
    assert targets == ["email", "external_id", "phone", "tags", "consent.email", "trait.plan", "ignore", "trait.City"]
    other_languages = ["Adres e-mail", "Identyfikator klienta", "Miasto", "邮箱", "Correo electrónico", "会员等级"]
    assert [e.target for e in imports.guess_mapping(other_languages)] == [
        "email",
        "external_id",
        "trait.Miasto",
        "email",
        "email",
        "trait.会员等级",
    ]


def test_good_rows_import_and_bad_rows_are_reported_by_row_and_column(services, workspace, tmp_path):
    path = write(
        tmp_path,
        "external_id,email,tags,City,age,timezone\n"
        'c-1,Ana@Example.com,"vip, newsletter",Kraków,34,Europe/Warsaw\n'
        "c-2,not-an-email,,Madrid,29,\n"
        "c-3,carla@example.com,,Beijing,,Mars/Olympus\n"
        ",,,Nowhere,1,\n"
        "c-5,eve@example.com,trial,Lima,41.5,\n",
    )
    job = run_import(services, workspace, path)
    assert (job.status, job.created, job.updated, job.failed, job.rows_done) == ("done", 2, 0, 3, 5)
    assert report(services, job) == [
        (3, "email", "is not an email address"),
        (4, "timezone", "is not a time zone (use a name like Europe/Warsaw)"),
        (5, "", "the row has neither an external id nor an email"),
    ]
    people = contacts(services, workspace)
    assert set(people) == {"c-1", "c-5"}
    ana = people["c-1"]
    assert ana.email == "ana@example.com"
    assert ana.tags == ["vip", "newsletter"]
    assert ana.attributes == {"City": "Kraków", "age": 34}
    assert ana.timezone == "Europe/Warsaw"
    assert people["c-5"].attributes == {"City": "Lima", "age": 41.5}
    assert not Path(job.path).exists()  # the spooled upload is removed when the import is over


def test_reimport_updates_the_same_contacts_instead_of_duplicating(services, workspace, tmp_path):
    first = write(tmp_path, "external_id,email,plan,tags\nc-1,a@example.com,basic,old\n", name="a.csv")
    run_import(services, workspace, first)
    again = write(
        tmp_path, "external_id,email,plan,tags\nc-1,a@example.com,pro,new\nc-2,b@example.com,basic,\n", name="b.csv"
    )
    job = run_import(services, workspace, again)
    assert (job.created, job.updated, job.failed) == (1, 1, 0)
    people = contacts(services, workspace)
    assert len(people) == 2
    assert people["c-1"].attributes == {"plan": "pro"}
    assert people["c-1"].tags == ["old", "new"]  # imported tags are added to the contact's own


def test_rows_without_external_id_match_on_email(services, workspace, tmp_path):
    run_import(services, workspace, write(tmp_path, "email,city\nA@example.com,Lodz\n", name="a.csv"))
    job = run_import(
        services, workspace, write(tmp_path, "email,city\na@example.com,Warsaw\nb@example.com,Lima\n", name="b.csv")
    )
    assert (job.created, job.updated) == (1, 1)
    people = contacts(services, workspace)
    assert people["a@example.com"].attributes == {"city": "Warsaw"}
    # A later file with external ids names the contact that so far had only its email.
    job = run_import(services, workspace, write(tmp_path, "external_id,email\nc-9,a@example.com\n", name="c.csv"))
    assert (job.created, job.updated) == (0, 1)
    assert contacts(services, workspace)["c-9"].email == "a@example.com"


def test_consent_and_subscriptions(services, workspace, tmp_path):
    path = write(
        tmp_path,
        "external_id,email consent,sms consent,package,ends,auto renew\n"
        "c-1,yes,no,Streaming,2026-02-01,true\n"
        "c-2,tak,sí,Sport,2026-03-01,nie\n"
        "c-3,maybe,,Sport,someday,\n",
    )
    mapping = [
        MappingEntry(column="external_id", target="external_id"),
        MappingEntry(column="email consent", target="consent.email"),
        MappingEntry(column="sms consent", target="consent.sms"),
        MappingEntry(column="package", target="subscription.name"),
        MappingEntry(column="ends", target="subscription.end_at"),
        MappingEntry(column="auto renew", target="subscription.auto_renew"),
    ]
    job = run_import(services, workspace, path, mapping)
    assert report(services, job) == [
        (4, "email consent", "is not yes/no or true/false"),
        (4, "ends", "is not a date (use 2026-12-31 or 2026-12-31T09:30:00Z)"),
    ]
    people = contacts(services, workspace)
    assert people["c-1"].consent == {"email": True, "sms": False}
    assert people["c-2"].consent == {"email": True, "sms": True}
    with services.engine.connect() as conn:
        subs = {r.external_id: r for r in conn.execute(sa.select(Subscription.__table__))}
    assert set(subs) == {"c-1:Streaming", "c-2:Sport"}
    assert subs["c-1:Streaming"].auto_renew is True and subs["c-1:Streaming"].end_at.isoformat().startswith(
        "2026-02-01"
    )
    # Re-importing with auto-renew switched off updates the record and remembers it was on.
    again = write(tmp_path, "external_id,package,auto renew\nc-1,Streaming,no\n", name="again.csv")
    run_import(services, workspace, again, [mapping[0], mapping[3], mapping[5]])
    with services.engine.connect() as conn:
        sub = conn.execute(sa.select(Subscription.__table__).where(Subscription.external_id == "c-1:Streaming")).one()
    assert (sub.auto_renew, sub.auto_renew_before) == (False, True)


@pytest.mark.parametrize(
    ("text", "bom"),
    [
        ("email;name;tags\r\nzofia@example.pl;Zofia Żółć;a;b\r\n", True),
        ("email\tname\nzofia@example.pl\tZofia Żółć\n", False),
    ],
)
def test_bom_and_semicolon_or_tab_files(services, workspace, tmp_path, text, bom):
    path = write(tmp_path, text, bom=bom)
    header = imports.read_header(path)
    assert header.columns[:2] == ["email", "name"]
    job = run_import(services, workspace, path)
    people = contacts(services, workspace)
    if ";" in text:
        assert job.failed == 1  # the row has more cells than the header: reported, not guessed
        assert report(services, job) == [(2, "", "the row has 4 cells but the header names 3 columns")]
    else:
        assert people["zofia@example.pl"].attributes == {"name": "Zofia Żółć"}


def test_files_no_mapping_can_fix_are_refused(services, workspace, tmp_path):
    for text, message in [
        (b"", "the file is empty"),
        (b"\xff\xfee\x00m\x00", "the file is UTF-16 text"),
        (b"email,\xe9t\xe9\n", "the file is not UTF-8 text"),
        (b"email,email\n", "the header row names 'email' twice"),
    ]:
        path = tmp_path / "bad.csv"
        path.write_bytes(text)
        with pytest.raises(Refused) as refused:
            imports.create(services, workspace.id, path, "bad.csv")
        assert refused.value.status == 400 and message in refused.value.detail
        assert not path.exists()


def test_a_mapping_is_checked_with_pointers():
    with pytest.raises(Refused) as refused:
        imports.check_mapping(
            ["a", "b"],
            [MappingEntry(column="a", target="trait.x"), MappingEntry(column="c", target="nonsense")],
        )
    pointers = [i.pointer for i in refused.value.issues]
    assert pointers == ["/mapping/1/column", "/mapping/1/target", "/mapping"]


def test_dry_run_previews_rows_as_stored_and_writes_nothing(services, workspace, tmp_path):
    run_import(services, workspace, write(tmp_path, "external_id,email\nc-1,a@example.com\n", name="a.csv"))
    path = imports.copy_in(
        write(tmp_path, "external_id,email,vip\nc-1,a@example.com,yes\nc-2,bad,no\nc-3,c@example.com,true\n"),
        services,
    )
    job_id = imports.create(services, workspace.id, path, "b.csv")
    with services.engine.connect() as conn:
        job = imports.get(conn, workspace.id, job_id)
        rows = imports.preview(conn, workspace.id, job, imports.mapping_of(job))
    assert [(r.row, r.action) for r in rows] == [(2, "update"), (3, "error"), (4, "create")]
    assert rows[0].values == {"external_id": "c-1", "email": "a@example.com", "traits": {"vip": "yes"}}
    assert rows[2].values["traits"] == {"vip": True}
    assert rows[1].problems[0].column == "email"
    assert len(contacts(services, workspace)) == 1


def test_imported_contacts_enter_segments_like_identified_ones(services, workspace, admin, tmp_path):
    segment = ok(admin.post("/api/segments", json={"name": "VIP", "rule": {"kind": "tag", "tag": "vip"}}), 201)
    work(services)
    run_import(services, workspace, write(tmp_path, "external_id,tags\nc-1,vip\nc-2,basic\n"))
    page = ok(admin.get(f"/api/segments/{segment['id']}/contacts"))
    assert [c["external_id"] for c in page["items"]] == ["c-1"]


def test_export_neutralises_formulas_and_round_trips(services, workspace, tmp_path):
    path = write(
        tmp_path,
        "external_id,email,note,balance,consent.email\n"
        'c-1,a@example.com,"=HYPERLINK(""http://x"")",-5,yes\n'
        "c-2,b@example.com,@SUM(A1),+7,no\n"
        "c-3,c@example.com,plain,3,\n",
    )
    run_import(
        services,
        workspace,
        path,
        [
            MappingEntry(column="external_id", target="external_id"),
            MappingEntry(column="email", target="email"),
            MappingEntry(column="note", target="trait.note"),
            MappingEntry(column="balance", target="trait.balance", type="text"),
            MappingEntry(column="consent.email", target="consent.email"),
        ],
    )
    text = "".join(exports.Export(services.engine, workspace.id).chunks())
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    by_id = {r["external_id"]: r for r in rows}
    assert by_id["c-1"]["trait.note"] == '\'=HYPERLINK("http://x")'
    assert by_id["c-1"]["trait.balance"] == "'-5"
    assert by_id["c-2"]["trait.note"] == "'@SUM(A1)"
    assert by_id["c-2"]["trait.balance"] == "'+7"
    assert by_id["c-1"]["consent.email"] == "true" and by_id["c-3"]["consent.email"] == ""
    assert list(rows[0])[:7] == list(exports.BASE)
    # The export imports back unchanged: the quote comes off again.
    back = write(tmp_path, text[1:], name="back.csv")
    job = run_import(services, workspace, back)
    assert (job.created, job.updated, job.failed) == (0, 3, 0)
    assert contacts(services, workspace)["c-1"].attributes["note"] == '=HYPERLINK("http://x")'
