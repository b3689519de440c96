"""Contact import and export over the admin API, on both engines: upload → guessed mapping → dry run →
start → progress → report (JSON and CSV), bad requests as 4xx with pointers, and a streamed export of a
segment with formulas neutralised."""

from __future__ import annotations

import csv
import io

from backend.contacts import imports
from tests.api.conftest import ok
from tests.audience.test_segments import work

FILE = (
    "\ufeffemail;external_id;Tags;plan;email consent\r\n"
    "ana@example.com;c-1;vip;pro;yes\r\n"
    "bad-address;c-2;;basic;no\r\n"
    "carla@example.com;c-3;vip,trial;=1+2;\r\n"
)


def upload(admin, text: str, name: str = "list.csv"):
    return admin.post(
        "/api/imports", params={"filename": name}, content=text.encode(), headers={"Content-Type": "text/csv"}
    )


def test_upload_preview_start_progress_and_report(admin, services):
    job = ok(upload(admin, FILE), 201)
    assert job["status"] == "uploaded" and job["delimiter"] == ";"
    assert job["columns"] == ["email", "external_id", "Tags", "plan", "email consent"]
    assert [m["target"] for m in job["mapping"]] == [
        "email",
        "external_id",
        "tags",
        "trait.plan",
        "trait.email consent",
    ]
    assert job["sample"][0] == ["ana@example.com", "c-1", "vip", "pro", "yes"]
    mapping = job["mapping"]
    mapping[4]["target"] = "consent.email"

    preview = ok(admin.post(f"/api/imports/{job['id']}/preview", json={"mapping": mapping}))
    assert [(r["row"], r["action"]) for r in preview["rows"]] == [(2, "create"), (3, "error"), (4, "create")]
    assert preview["rows"][0]["values"] == {
        "email": "ana@example.com",
        "external_id": "c-1",
        "tags": ["vip"],
        "consent": {"email": True},
        "traits": {"plan": "pro"},
    }
    assert preview["rows"][1]["problems"] == [
        {"column": "email", "value": "bad-address", "reason": "is not an email address"}
    ]
    assert ok(admin.get("/api/contacts"))["total"] == 0  # the dry run wrote nothing

    started = ok(admin.post(f"/api/imports/{job['id']}/start", json={"mapping": mapping}), 202)
    assert started["status"] == "queued" and started["progress"]["percent"] == 0
    again = admin.post(f"/api/imports/{job['id']}/start", json={"mapping": mapping})
    assert again.status_code == 409
    work(services)
    done = ok(admin.get(f"/api/imports/{job['id']}"))
    assert (done["status"], done["created"], done["updated"], done["failed"]) == ("done", 2, 0, 1)
    assert done["progress"]["percent"] == 100

    report = ok(admin.get(f"/api/imports/{job['id']}/errors"))
    assert report["items"] == [
        {"row": 3, "column": "email", "value": "bad-address", "reason": "is not an email address"}
    ]
    download = admin.get(f"/api/imports/{job['id']}/errors.csv")
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert "list-errors.csv" in download.headers["content-disposition"]
    assert list(csv.reader(io.StringIO(download.text.lstrip("\ufeff")))) == [
        ["row", "column", "value", "reason"],
        ["3", "email", "bad-address", "is not an email address"],
    ]
    listed = ok(admin.get("/api/imports"))
    assert [j["id"] for j in listed] == [job["id"]]
    contacts = {c["external_id"]: c for c in ok(admin.get("/api/contacts"))["items"]}
    assert set(contacts) == {"c-1", "c-3"}
    carla = ok(admin.get(f"/api/contacts/{contacts['c-3']['id']}"))
    assert carla["tags"] == ["vip", "trial"] and carla["attributes"] == {"plan": "=1+2"}


def test_bad_uploads_and_mappings_are_4xx_with_pointers(admin, other_workspace):
    empty = upload(admin, "")
    assert empty.status_code == 400 and empty.json()["problems"][0]["pointer"] == "/file"
    latin1 = admin.post("/api/imports", content="email,nom\nzo\xe9@x.fr,Zo\xe9\n".encode("latin-1"))
    assert latin1.status_code == 400 and "UTF-8" in latin1.json()["detail"]
    job = ok(upload(admin, "email,city\na@example.com,Lima\n"), 201)
    bad = admin.post(
        f"/api/imports/{job['id']}/preview",
        json={"mapping": [{"column": "city", "target": "trait.city"}, {"column": "nope", "target": "email"}]},
    )
    assert bad.status_code == 400
    assert [p["pointer"] for p in bad.json()["problems"]] == ["/mapping/1/column"]
    nothing = admin.post(f"/api/imports/{job['id']}/start", json={"mapping": [{"column": "city", "target": "x"}]})
    assert nothing.status_code == 400
    assert [p["pointer"] for p in nothing.json()["problems"]] == ["/mapping/0/target", "/mapping"]
    assert admin.post(f"/api/imports/{job['id']}/start", json={"mapping": "no"}).status_code == 400
    assert admin.get("/api/imports/999999").status_code == 404
    from tests.api.conftest import admin_api

    stranger = admin_api(admin.client, other_workspace)
    assert stranger.get(f"/api/imports/{job['id']}").status_code == 404


def test_a_file_larger_than_the_limit_is_refused(admin, monkeypatch):
    from backend.api import imports as api

    monkeypatch.setattr(api, "MAX_IMPORT_BYTES", 100)
    response = upload(admin, "email\n" + "a@example.com\n" * 20)
    assert response.status_code == 413
    assert not list((imports.upload_dir(admin.client.app.state.services)).iterdir())


def test_export_streams_a_segments_contacts_with_formulas_neutralised(admin, services):
    ok(admin.post("/api/segments", json={"name": "VIP", "key": "vip", "rule": {"kind": "tag", "tag": "vip"}}), 201)
    work(services)
    job = ok(upload(admin, FILE), 201)
    ok(admin.post(f"/api/imports/{job['id']}/start", json={"mapping": job["mapping"]}), 202)
    work(services)
    response = admin.get("/api/contacts/export.csv", params={"segment": "vip"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="vip-')
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert [r["external_id"] for r in rows] == ["c-1", "c-3"]
    assert rows[1]["trait.plan"] == "'=1+2" and rows[1]["tags"] == "vip, trial"
    assert rows[0]["trait.email consent"] == "yes"
    everyone = admin.get("/api/contacts/export.csv")
    assert len(list(csv.DictReader(io.StringIO(everyone.text.lstrip("\ufeff"))))) == 2
    missing = admin.get("/api/contacts/export.csv", params={"segment": "nope"})
    assert missing.status_code == 400 and missing.json()["problems"][0]["pointer"] == "/query/segment"


def test_export_pages_through_more_contacts_than_one_page(admin, services, monkeypatch, tmp_path):
    from backend.contacts import exports

    monkeypatch.setattr(exports, "PAGE", 7)
    text = "external_id,email\n" + "".join(f"u{i},u{i}@example.com\n" for i in range(30))
    job = ok(upload(admin, text), 201)
    ok(admin.post(f"/api/imports/{job['id']}/start", json={"mapping": job["mapping"]}), 202)
    work(services)
    rows = list(csv.DictReader(io.StringIO(admin.get("/api/contacts/export.csv").text.lstrip("\ufeff"))))
    assert sorted(r["external_id"] for r in rows) == sorted(f"u{i}" for i in range(30))
