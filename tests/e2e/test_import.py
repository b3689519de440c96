"""Contact import in the browser, as a marketer does it: a CSV of 10,000 contacts (semicolons, a BOM,
three bad rows) uploaded from the Contacts page, the guessed mapping adjusted, the dry run read, the
import followed on its progress bar to the end, the refused rows named in the report with their
download, an imported contact found in the list; the export downloads the list as CSV. axe-core checks
each step."""

from __future__ import annotations

import csv
import io
import json
import urllib.parse
import urllib.request

from playwright.sync_api import Page, expect

from tests.e2e.a11y import assert_accessible, assert_no_spill
from tests.e2e.conftest import sign_in
from tests.e2e.live import LiveServer
from tests.e2e.test_build_journey import admin, wait_for

ROWS = 10_000
BAD = {1234: "not-an-email", 5000: "still@bad address", 9999: "@nobody"}


def contacts_csv() -> bytes:
    lines = ["E-mail;Customer ID;Tags;Plan;Newsletter"]
    for n in range(1, ROWS + 1):
        email = BAD.get(n, f"person{n}@example.com")
        lines.append(f"{email};imp-{n:05d};{'vip' if n % 10 == 0 else 'lead'};{'pro' if n % 3 else 'basic'};yes")
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()


def test_a_marketer_imports_10000_contacts_and_reads_the_report(page: Page, live_server: LiveServer, tmp_path):
    sign_in(page, live_server, path="/contacts")
    page.get_by_test_id("contacts-import").click()
    expect(page.get_by_test_id("import-page")).to_be_visible()
    assert_accessible(page, "import upload")
    page.get_by_test_id("import-file").set_input_files(
        files=[{"name": "crm-export.csv", "mimeType": "text/csv", "buffer": contacts_csv()}]
    )
    page.get_by_test_id("import-upload").click()

    # The mapping: guessed from the header; the marketer makes "Newsletter" the e-mail consent.
    expect(page.get_by_test_id("import-mapping")).to_be_visible()
    expect(page.get_by_test_id("import-target-0")).to_have_value("email")
    expect(page.get_by_test_id("import-target-1")).to_have_value("external_id")
    expect(page.get_by_test_id("import-target-2")).to_have_value("tags")
    expect(page.get_by_test_id("import-target-3")).to_have_value("trait.Plan")
    target = page.get_by_test_id("import-target-4")
    target.focus()
    target.select_option("consent.email")  # a native select: the keyboard chooses the same way
    expect(target).to_have_value("consent.email")
    assert_accessible(page, "import mapping")
    assert_no_spill(page, "import mapping")

    page.get_by_test_id("import-preview").click()
    expect(page.get_by_test_id("import-preview-rows")).to_be_visible()
    first = page.get_by_test_id("import-preview-2")
    expect(first).to_have_attribute("data-action", "create")
    expect(first).to_contain_text("person1@example.com")
    expect(first).to_contain_text('"email":true')
    assert_accessible(page, "import preview")
    assert page.request.get(live_server.url + "/api/contacts?q=imp-").json()["total"] == 0  # a dry run

    page.get_by_test_id("import-start").press("Enter")
    progress = page.get_by_test_id("import-progress")
    expect(progress).to_be_visible()
    expect(progress).to_have_attribute("data-status", "done", timeout=120_000)
    expect(page.get_by_test_id("import-created")).to_have_text("9,997")
    expect(page.get_by_test_id("import-failed")).to_have_text("3")
    report = page.get_by_test_id("import-errors")
    for n, value in BAD.items():
        row = page.get_by_test_id(f"import-error-{n + 1}")  # the header is row 1
        expect(row).to_contain_text("E-mail")
        expect(row).to_contain_text(value)
        expect(row).to_contain_text("is not an email address")
    assert_accessible(page, "import report")
    assert_no_spill(page, "import report")
    with page.expect_download() as download:
        report.get_by_test_id("import-errors-download").click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert rows[0] == ["row", "column", "value", "reason"]
    assert [int(r[0]) for r in rows[1:]] == [n + 1 for n in BAD]

    # An imported contact, found in the list and opened.
    page.get_by_test_id("import-to-contacts").click()
    page.get_by_test_id("contacts-search").fill("imp-04321")
    expect(page.get_by_test_id("contacts-total")).to_have_attribute("data-total", "1")
    page.get_by_role("link", name="imp-04321").click()
    expect(page.get_by_text("person4321@example.com").first).to_be_visible()

    # The list exports as CSV (the search narrows it).
    page.goto(live_server.url + "/contacts?q=imp-0432")
    expect(page.get_by_test_id("contacts-total")).to_have_attribute("data-total", "10")
    with page.expect_download() as exported:
        page.get_by_test_id("contacts-export").click()
    table = list(csv.DictReader(io.StringIO(exported.value.path().read_text(encoding="utf-8-sig"))))
    assert sorted(r["external_id"] for r in table) == [f"imp-0432{d}" for d in range(10)]
    assert {r["consent.email"] for r in table} == {"true"}


def _upload(server: LiveServer, text: str) -> dict:
    request = urllib.request.Request(
        server.url + "/api/imports?filename=" + urllib.parse.quote("Zamówienia klientów — eksport z CRM 2026.csv"),
        data=text.encode(),
        method="POST",
        headers={"Authorization": f"Bearer {server.admin_key}", "Content-Type": "text/csv"},
    )
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def test_the_import_pages_in_every_language(page: Page, live_server: LiveServer):
    header = "Adres e-mail,Identyfikator klienta,Data ostatniego zamówienia z programu lojalnościowego,Pakiet\n"
    waiting = _upload(live_server, header + "a@example.com,lang-1,2026-01-01,Sport\n")
    finished = _upload(live_server, header + "a@example.com,lang-1,2026-01-01,Sport\nbad,lang-2,x,y\n")
    admin(live_server, "POST", f"/api/imports/{finished['id']}/start", {"mapping": finished["mapping"]})
    wait_for(lambda: admin(live_server, "GET", f"/api/imports/{finished['id']}")["status"] == "done")
    sign_in(page, live_server)
    pages = {
        "import upload": ("/contacts/import", "import-file"),
        "import mapping": (f"/contacts/import/{waiting['id']}", "import-mapping"),
        "import report": (f"/contacts/import/{finished['id']}", "import-errors"),
    }
    titles = {"zh-CN": "分群", "es": "Segmentos", "pl": "Segmenty", "en": "Segments"}
    for language, nav in titles.items():
        page.get_by_test_id("language-switcher").select_option(language)
        expect(page.get_by_test_id("nav-segments")).to_have_text(nav)
        for name, (path, ready) in pages.items():
            page.get_by_test_id("nav-journeys").click()  # client-side navigation keeps the language
            page.evaluate(
                "(path) => { history.pushState({}, '', path); dispatchEvent(new PopStateEvent('popstate')); }", path
            )
            expect(page.get_by_test_id(ready)).to_be_visible()
            if name == "import mapping":
                page.get_by_test_id("import-preview").click()
                expect(page.get_by_test_id("import-preview-rows")).to_be_visible()
            page.wait_for_timeout(200)
            assert_no_spill(page, f"{name} ({language})")
            assert_accessible(page, f"{name} ({language})")
