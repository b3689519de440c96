"""Bad input never gets a 500: malformed JSON, wrong types, oversize bodies, invalid graphs, bad credentials,
bad query parameters and cursors each get a clear 4xx that names the field (issue 2, item 11). The last
test throws garbage at every route in the OpenAPI schema."""

from __future__ import annotations

import re

import pytest
from litestar.testing import TestClient

from backend.api.app import create_app
from backend.config import load_settings
from backend.db.session import make_engine
from backend.services import Services
from tests.api.conftest import Api, ok


def problem(response, status: int = 400) -> dict:
    """The error body, after checking the status and the error shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == status and body["title"]
    return body


def pointers(response, status: int = 400) -> list[str]:
    return [p["pointer"] for p in problem(response, status).get("problems") or []]


# -- malformed bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"{", b'{"name": "x",}', b"\xff\xfe", b"{'name': 'x'}", b'{"name" "x"}'])
def test_malformed_json_is_a_400_that_says_so(admin, writer, body):
    for api, path in [(admin, "/api/journeys"), (admin, "/api/contacts"), (writer, "/v1/track"), (writer, "/v1/batch")]:
        response = api.post(path, content=body, headers={"Content-Type": "application/json"})
        assert "not valid JSON" in problem(response)["detail"], path
        assert pointers(response) == [""]  # the whole body


def test_a_missing_or_null_body_is_a_400(admin, writer):
    assert problem(admin.post("/api/journeys", content=b""))["problems"] == [
        {"pointer": "", "message": "a JSON body is required"}
    ]
    assert pointers(admin.post("/api/contacts", content=b"null")) == [""]
    assert "not valid JSON" in problem(writer.post("/v1/track", content=b""))["detail"]


def test_deeply_nested_json_is_a_400(admin, writer):
    deep = b'{"a":' * 5000 + b"1" + b"}" * 5000
    assert problem(admin.post("/api/journeys", content=deep))["title"]
    nested_traits = b'{"userId": "u", "traits": ' + b'{"a":' * 5000 + b"1" + b"}" * 5001
    problem(writer.post("/v1/identify", content=nested_traits))


@pytest.mark.parametrize(
    ("path", "body", "pointer"),
    [
        ("/api/journeys", {"name": 5}, "/name"),
        ("/api/journeys", {}, "/name"),
        ("/api/journeys", {"name": ""}, "/name"),
        ("/api/journeys", {"name": "x", "graph": "nodes"}, "/graph"),
        ("/api/journeys", {"name": "x", "colour": "red"}, ""),
        ("/api/contacts", {"tags": "vip"}, "/tags"),
        ("/api/contacts", {"consent": {"email": "yes"}}, "/consent"),  # msgspec does not name the key
        ("/api/contacts", {"external_id": "x" * 300}, "/external_id"),
        ("/api/keys", {"kind": "root"}, "/kind"),
    ],
)
def test_wrong_types_name_the_field(admin, path, body, pointer):
    found = pointers(admin.post(path, json=body))
    if pointer:
        assert found == [pointer]
    else:
        assert "colour" in problem(admin.post(path, json=body))["detail"]


@pytest.mark.parametrize(
    ("path", "body", "pointer"),
    [
        ("/v1/track", {"userId": "u"}, "/event"),
        ("/v1/track", {"event": "e"}, "/userId"),
        ("/v1/track", {"userId": "u", "event": ""}, "/event"),
        ("/v1/track", {"userId": "u", "event": "e", "properties": [1]}, "/properties"),
        ("/v1/track", {"userId": ["u"], "event": "e"}, "/userId"),
        ("/v1/track", {"userId": "u", "event": "e", "timestamp": "yesterday"}, "/timestamp"),
        ("/v1/track", {"userId": "u", "event": "e", "type": "identify"}, "/type"),
        ("/v1/identify", {"userId": "u", "traits": {"email": 5}}, "/traits/email"),
        ("/v1/identify", {"userId": "u", "traits": {"timezone": "Mars/Base"}}, "/traits/timezone"),
        ("/v1/identify", {"userId": "u", "traits": {"tags": [1]}}, "/traits/tags/0"),
        ("/v1/identify", {"userId": "u", "traits": {"consent": {"email": "no"}}}, "/traits/consent"),
        ("/v1/identify", {"userId": "u", "traits": {"subscriptions": [{"name": "VIP"}]}}, "/traits/subscriptions/0/id"),
        (
            "/v1/identify",
            {"userId": "u", "traits": {"subscriptions": [{"id": "s", "end_at": "soon"}]}},
            "/traits/subscriptions/0/end_at",
        ),
        ("/v1/group", {"userId": "u"}, "/groupId"),
        ("/v1/alias", {"userId": "u"}, "/previousId"),
        ("/v1/batch", {"batch": {}}, "/batch"),
        ("/v1/batch", {"batch": [{"type": "nope", "userId": "u"}]}, "/batch/0/type"),
        ("/v1/batch", {"batch": [{"type": "track", "userId": "u", "event": "ok"}, 5]}, "/batch/1"),
        (
            "/v1/batch",
            {"batch": [{"type": "track", "userId": "u", "event": "e", "properties": "p"}]},
            "/batch/0/properties",
        ),
        (
            "/v1/batch",
            {"batch": [{"type": "identify", "anonymousId": "a", "traits": {"phone": 48600}}]},
            "/batch/0/traits/phone",
        ),
    ],
)
def test_bad_segment_messages_name_the_field(writer, path, body, pointer):
    assert pointers(writer.post(path, json=body)) == [pointer]


def test_oversize_bodies(admin, writer):
    body = problem(admin.post("/api/journeys", content=b"x" * (6 * 1024 * 1024)), 413)
    assert "too large" in body["title"]
    assert "32 KB" in problem(writer.post("/v1/identify", content=b" " * (33 * 1024)))["detail"]
    assert "500 KB" in problem(writer.post("/v1/batch", content=b" " * (501 * 1024)))["detail"]


# -- journeys: unknown blocks and invalid graphs ----------------------------------------------------------


BROKEN_GRAPH = {
    "nodes": [
        {"id": "start", "type": "trigger.event", "config": {"event": "signup"}},
        {"id": "mystery", "type": "acme.teleport", "config": {}},
        {"id": "pause", "type": "wait.duration", "config": {"duration": "two hours"}},
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "mystery"},
        {"id": "e2", "source": "mystery", "target": "pause"},
        {"id": "e3", "source": "pause", "target": "nowhere"},
    ],
    "settings": {},
}


def test_unknown_block_types_and_invalid_graphs_get_every_problem_with_a_pointer(admin):
    journey = ok(
        admin.post("/api/journeys", json={"name": "Broken", "graph": BROKEN_GRAPH}), 201
    )  # drafts may be invalid
    validation = ok(admin.post(f"/api/journeys/{journey['id']}/validate", json={}))
    assert validation["valid"] is False
    found = {p["pointer"]: p for p in validation["problems"]}
    assert found["/nodes/1/type"]["code"] == "unknown_type"
    assert found["/nodes/1/type"]["node_id"] == "mystery"
    assert "/nodes/2/config/duration" in found
    assert "/edges/2/target" in found

    published = problem(admin.post(f"/api/journeys/{journey['id']}/publish", json={}), 422)
    assert {p["pointer"] for p in published["problems"]} == set(found)

    saved = ok(admin.put(f"/api/journeys/{journey['id']}/draft", json={"graph": {"nodes": "x"}, "revision": 1}))
    assert saved["problems"] and saved["problems"][0]["pointer"].startswith("/nodes")
    assert pointers(admin.put(f"/api/journeys/{journey['id']}/draft", json={"graph": [], "revision": 1})) == ["/graph"]
    assert pointers(admin.put(f"/api/journeys/{journey['id']}/draft", json={"graph": {}, "revision": "two"})) == [
        "/revision"
    ]
    ok(admin.post(f"/api/journeys/{journey['id']}/validate", json={"graph": {"nodes": [1, None, "x"]}}))


# -- credentials ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wm_admin_wrong", "Basic", "Basic %%%", "Token abc", "Bearer " + "x" * 5000],
)
def test_bad_credentials_are_401_on_both_apis(client, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    for path, method in [("/api/contacts", "GET"), ("/api/journeys", "POST"), ("/v1/track", "POST")]:
        response = client.request(method, path, headers=headers, json={"userId": "u", "event": "e", "name": "j"})
        problem(response, 401)
        assert response.headers["WWW-Authenticate"]


def test_a_write_key_on_the_admin_api_is_403_and_names_the_problem(client, workspace):
    response = client.get("/api/contacts", headers={"Authorization": f"Bearer {workspace.write_key}"})
    assert "/v1" in problem(response, 403)["title"]
    response = client.get("/api/contacts", auth=(workspace.write_key, ""))
    problem(response, 401)


# -- query parameters and cursors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "pointer"),
    [
        ("/api/contacts?limit=abc", "/query/limit"),
        ("/api/contacts?limit=0", "/query/limit"),
        ("/api/contacts?limit=501", "/query/limit"),
        ("/api/contacts?limit=1.5", "/query/limit"),
        ("/api/events?contact_id=abc", "/query/contact_id"),
        ("/api/events?limit=-1", "/query/limit"),
        ("/api/journeys?limit=x", "/query/limit"),
        ("/api/contacts?cursor=garbage!", "/query/cursor"),
        ("/api/contacts?cursor=aWQ6YWJj", "/query/cursor"),  # "id:abc"
        ("/api/events?cursor=bm9wZTox", "/query/cursor"),  # "nope:1"
        ("/api/journeys?cursor=%FF", "/query/cursor"),
    ],
)
def test_bad_query_parameters_name_the_parameter(admin, path, pointer):
    assert pointers(admin.get(path)) == [pointer]


def test_bad_cursors_on_timelines_and_node_lists(admin, writer):
    ok(writer.post("/v1/track", json={"userId": "u", "event": "e"}))
    contact_id = ok(admin.get("/api/contacts"))["items"][0]["id"]
    id_cursor = "aWQ6MQ"  # "id:1": a cursor from another list
    assert pointers(admin.get(f"/api/contacts/{contact_id}/events", params={"cursor": id_cursor})) == ["/query/cursor"]
    assert pointers(admin.get(f"/api/contacts/{contact_id}/events", params={"cursor": "dDpub3RhZGF0ZXwx"})) == [
        "/query/cursor"
    ]
    journey = ok(admin.post("/api/journeys", json={"name": "j"}), 201)
    node_list = f"/api/journeys/{journey['id']}/nodes/start/contacts"
    assert pointers(admin.get(node_list, params={"cursor": "%%"})) == ["/query/cursor"]
    assert pointers(admin.get(node_list, params={"status": "gone"})) == ["/query/status"]


def test_ids_out_of_range_are_not_found(admin):
    for path in ["/api/contacts/99999999999999999999", "/api/journeys/-99999999999999999999/stats", "/api/keys/0"]:
        method = "DELETE" if "keys" in path else "GET"
        problem(admin.request(method, path), 404)


@pytest.mark.parametrize(
    "api, path, body, pointer",
    [
        ("writer", "/v1/track", {"userId": "u", "event": "sign\u0000up"}, "/event"),
        (
            "writer",
            "/v1/track",
            {"userId": "u", "event": "e", "properties": {"x": ["ok", "a\u0000b"]}},
            "/properties/x/1",
        ),
        ("writer", "/v1/identify", {"userId": "u\u0000", "traits": {}}, "/userId"),
        ("writer", "/v1/identify", {"userId": "u", "traits": {"first\u0000name": "Ana"}}, "/traits/first\u0000name"),
        (
            "writer",
            "/v1/batch",
            {
                "batch": [
                    {"type": "track", "userId": "u", "event": "ok"},
                    {"type": "track", "userId": "u", "event": "\u0000"},
                ]
            },
            "/batch/1/event",
        ),
        ("admin", "/api/journeys", {"name": "nul \u0000 byte"}, "/name"),
        ("admin", "/api/contacts", {"external_id": "x", "attributes": {"plan": "a\u0000"}}, "/attributes/plan"),
    ],
)
def test_a_nul_character_is_the_same_400_naming_the_field_on_every_engine(admin, writer, api, path, body, pointer):
    """PostgreSQL cannot store NUL where SQLite can: both refuse it, before anything is stored."""
    client = {"admin": admin, "writer": writer}[api]
    response = client.post(path, json=body)
    assert response.status_code == 400, response.text
    assert pointers(response) == [pointer]
    assert "NUL" in response.json()["problems"][0]["message"]
    assert ok(admin.get("/api/contacts"))["items"] == []  # nothing was stored


def test_a_nul_character_in_a_query_parameter_names_the_parameter(admin):
    assert pointers(admin.get("/api/contacts", params={"q": "a\u0000"})) == ["/query/q"]


def test_an_escaped_backslash_before_u0000_is_not_a_nul(writer, admin):
    """``\\u0000`` in JSON is the text backslash-u-0000, which every engine stores."""
    response = writer.post("/v1/track", content=b'{"userId": "u", "event": "e", "properties": {"x": "\\\\u0000"}}')
    assert response.status_code == 200, response.text


# -- every route ------------------------------------------------------------------------------------------

GARBAGE = [
    b"",
    b"{",
    b"null",
    b"[]",
    b"[[[[]]]]",
    b'"text"',
    b"-1",
    b"1e999",
    b"{}",
    b'{"name": 5, "graph": 5, "kind": 5, "data": 5}',
    b'{"name": null, "email": null, "external_id": null}',
    b'{"name": "' + "\u00e9\u4e2d\U0001f600".encode() + b'", "graph": {"nodes": [{"id": 1}]}}',
    b'{"graph": {"nodes": [{"id": "a", "type": "nope", "version": 99}], "edges": [{}]}, "revision": -1}',
    b'{"userId": 99999999999999999999999999, "event": {"a": 1}, "traits": [], "batch": [null, 1, "x"]}',
    b'{"contact_ids": [1e300], "external_ids": [null], "tags": [[]], "attributes": []}',
    b'{"timestamp": "9999-99-99", "sentAt": "0000-01-01T00:00:00Z", "userId": "u", "event": "e"}',
    b'{"email": "\\u0000", "phone": "' + b"9" * 100 + b'", "timezone": "../../etc/passwd"}',
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b"\xff\xfe\x00",
    b"x" * 40_000,
]
QUERIES = ["", "?limit=-5", "?limit=zzz", "?cursor=%%%", "?cursor=aWQ6LTE", "?status=%00", "?q=%25%5F", "?locale=xx"]
PATH_VALUES = ["1", "-1", "0", "99999999999999999999", "abc", "%2F", "a" * 300]


def _routes() -> list[tuple[str, str]]:
    settings = load_settings(secret_key="s" * 32, var_dir="/tmp/waymark-route-list", dev_inbox=False)
    app = create_app(Services.create(settings, engine=make_engine("sqlite://")))
    schema = app.openapi_schema.to_schema()
    return sorted(
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    )


ROUTES = _routes()


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_route_answers_garbage_with_a_4xx(client: TestClient, workspace, admin, writer, method, path):
    journey = ok(admin.post("/api/journeys", json={"name": "target"}), 201)
    api: Api = writer if path.startswith("/v1") else admin if path.startswith("/api") else Api(client)
    values = [str(journey["id"]), *PATH_VALUES] if "{" in path else [""]
    for value in values:
        url = re.sub(r"\{[^}]+\}", value, path)
        for body in GARBAGE:
            response = api.request(method, url, content=body, headers={"Content-Type": "application/json"})
            assert response.status_code < 500, (method, url, body[:80], response.text)
            if response.status_code >= 400 and response.status_code != 404:
                assert response.json()["title"], response.text
        for query in QUERIES:
            response = api.request(method, url + query, content=b"{}", headers={"Content-Type": "text/plain"})
            assert response.status_code < 500, (method, url + query, response.text)
