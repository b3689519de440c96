"""The published OpenAPI document tells the truth about the server (what schemathesis cannot see by
fuzzing one operation at a time)."""

from __future__ import annotations

from litestar.testing import TestClient

from backend.api.app import create_app

METHODS = ("get", "put", "post", "delete", "patch")


def _document(services) -> dict:
    with TestClient(create_app(services)) as client:
        return client.get("/schema/openapi.json").json()


def test_every_error_is_documented_with_the_body_the_server_sends(services):
    document = _document(services)
    problem = document["components"]["schemas"]["ProblemDetail"]
    assert set(problem["required"]) == {"status", "title"}
    for path, item in document["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            responses = item[method]["responses"]
            errors = {s: r for s, r in responses.items() if s.startswith("4")}
            for status, response in errors.items():
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ProblemDetail"}, (method, path, status)
            if path.startswith("/api"):
                assert {"401", "403"} <= set(errors), (method, path)
            if "{" in path:
                assert "404" in errors, (method, path)
            for status, response in responses.items():
                if status == "204":
                    assert "content" not in response, (method, path)


def test_request_bodies_are_closed_where_the_server_refuses_unknown_fields(services):
    schemas = _document(services)["components"]["schemas"]
    assert schemas["ContactCreate"]["additionalProperties"] is False
    assert schemas["SegmentIn"]["additionalProperties"] is False
    # constraints inside lists reach the document (Litestar's rendering dropped them)
    assert (
        schemas["RetryRequest" if "RetryRequest" in schemas else "messages_RetryRequest"]["properties"]["ids"]["items"][
            "minimum"
        ]
        == 1
    )


def test_options_lists_every_method_of_a_path(admin):
    response = admin.request("OPTIONS", "/api/contacts/1")
    assert response.status_code == 204
    assert set(response.headers["allow"].split(", ")) == {"GET", "PATCH", "DELETE", "OPTIONS"}


def test_a_query_parameter_given_twice_is_refused(admin):
    response = admin.get("/api/contacts?limit=5&limit=6")
    assert response.status_code == 400
    assert response.json()["problems"][0]["pointer"] == "/query/limit"


def test_a_cursor_in_the_documented_format_pages_on(admin):
    for n in range(3):
        assert admin.post("/api/contacts", json={"external_id": f"u{n}"}).status_code == 201
    first = admin.get("/api/contacts?limit=2").json()
    assert first["next_cursor"].isdigit()
    rest = admin.get(f"/api/contacts?limit=2&cursor={first['next_cursor']}").json()
    assert len(first["items"]) + len(rest["items"]) == 3
    assert admin.get("/api/contacts?cursor=abc").status_code == 400
