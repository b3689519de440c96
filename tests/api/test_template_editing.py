"""What the template editor relies on: conflict-safe drafts, previews of unsaved text, duplicates."""

from __future__ import annotations

EMAIL = {
    "email": {
        "subject": "Hi {{ contact.first_name }}",
        "mjml": "<mjml><mj-body><mj-section><mj-column>"
        "<mj-text>Hello {{ contact.first_name }}</mj-text></mj-column></mj-section></mj-body></mjml>",
    }
}


def create(admin, key="welcome"):
    response = admin.post(
        "/api/templates", json={"key": key, "name": "Welcome", "tags": ["onboarding"], "draft": EMAIL}
    )
    assert response.status_code == 201, response.text
    return response.json()["template"]


def test_a_stale_revision_is_refused_instead_of_overwriting(admin):
    template = create(admin)
    first = admin.put(
        f"/api/templates/{template['id']}/draft",
        json={"draft": {"sms": {"text": "mine"}}, "revision": template["revision"]},
    )
    assert first.status_code == 200
    assert first.json()["template"]["revision"] == template["revision"] + 1
    stale = admin.put(
        f"/api/templates/{template['id']}/draft",
        json={"draft": {"sms": {"text": "theirs"}}, "revision": template["revision"]},
    )
    assert stale.status_code == 409
    assert admin.get(f"/api/templates/{template['id']}").json()["draft"]["sms"]["text"] == "mine"


def test_preview_renders_unsaved_text_for_a_contact(admin):
    template = create(admin)
    contact = admin.post("/api/contacts", json={"external_id": "u1", "attributes": {"first_name": "Zofia"}}).json()
    typed = {"email": {**EMAIL["email"], "subject": "Cześć {{ contact.first_name }}!"}}
    preview = admin.post(
        f"/api/templates/{template['id']}/preview",
        json={"channel": "email", "contact_id": contact["id"], "draft": typed},
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["fields"]["subject"] == "Cześć Zofia!"
    saved = admin.get(f"/api/templates/{template['id']}").json()
    assert saved["draft"]["email"]["subject"] == "Hi {{ contact.first_name }}"  # nothing was saved


def test_duplicate_copies_the_draft_under_a_new_key(admin):
    template = create(admin)
    copy = admin.post(f"/api/templates/{template['id']}/duplicate", json={"key": "welcome_b"})
    assert copy.status_code == 201, copy.text
    body = copy.json()["template"]
    assert (body["key"], body["name"], body["tags"]) == ("welcome_b", "Welcome (copy)", ["onboarding"])
    assert body["draft"] == template["draft"]
    assert body["version"] is None
    taken = admin.post(f"/api/templates/{template['id']}/duplicate", json={"key": "welcome"})
    assert taken.status_code == 409
    bad = admin.post(f"/api/templates/{template['id']}/duplicate", json={"key": "no spaces"})
    assert bad.status_code == 400
    assert bad.json()["problems"][0]["pointer"] == "/key"
