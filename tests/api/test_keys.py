"""API keys: create (shown once), list, revoke (immediately effective)."""

from __future__ import annotations

from tests.api.conftest import Api, ok


def test_a_new_write_key_ingests_and_stops_the_moment_it_is_revoked(client, admin):
    created = ok(admin.post("/api/keys", json={"kind": "write", "name": "website"}), 201)
    assert created["key"].startswith("wm_write_") and created["key"].startswith(created["prefix"])
    assert created["revoked_at"] is None
    writer = Api(client, auth=(created["key"], ""))
    ok(writer.post("/v1/track", json={"userId": "u", "event": "e"}))  # now cached by the key cache

    listed = ok(admin.get("/api/keys"))
    assert listed[0]["name"] == "website"
    assert all("key" not in k for k in listed)  # the key itself is never shown again

    assert admin.delete(f"/api/keys/{created['id']}").status_code == 204
    refused = writer.post("/v1/track", json={"userId": "u", "event": "e"})
    assert refused.status_code == 401
    assert ok(admin.get("/api/keys"))[0]["revoked_at"] is not None
    assert admin.delete(f"/api/keys/{created['id']}").status_code == 204  # revoking twice is fine


def test_a_write_key_cannot_use_the_admin_api(client, workspace):
    response = client.get("/api/keys", headers={"Authorization": f"Bearer {workspace.write_key}"})
    assert response.status_code == 403


def test_admin_keys_work_until_revoked_and_the_last_one_is_kept(client, admin, workspace):
    second = ok(admin.post("/api/keys", json={"kind": "admin", "name": "ci"}), 201)
    other_admin = Api(client, headers={"Authorization": f"Bearer {second['key']}"})
    ok(other_admin.get("/api/contacts"))
    default_admin_id = next(k["id"] for k in ok(admin.get("/api/keys")) if k["name"] == "default admin key")
    assert other_admin.delete(f"/api/keys/{default_admin_id}").status_code == 204
    assert admin.get("/api/contacts").status_code == 401
    last = other_admin.delete(f"/api/keys/{second['id']}")
    assert last.status_code == 409
    assert "last admin key" in last.json()["title"]
    ok(other_admin.get("/api/contacts"))


def test_key_requests_are_validated(admin):
    bad_kind = admin.post("/api/keys", json={"kind": "root", "name": "x"})
    assert bad_kind.status_code == 400
    assert bad_kind.json()["problems"][0]["pointer"] == "/kind"
    assert admin.delete("/api/keys/999999").status_code == 404
    assert admin.delete("/api/keys/abc").status_code in (400, 404)
