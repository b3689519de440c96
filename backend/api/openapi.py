"""The published OpenAPI document, made to tell the truth about what the server does.

Litestar documents each operation from its signature: a 400 with its own ``{status_code, detail, extra}``
body, and nothing else. The API answers every error with :class:`~backend.api.errors.ProblemDetail`, and
an operation can also answer 401 (no or bad credentials), 403 (a viewer writing, a CSRF token missing),
404 (an id that names nothing), 409 (a conflict with the stored state), 413 and 429 (ingestion limits).
Rather than repeat that on every handler, one pass over the generated document adds it, from the facts the
document already holds (security, path parameters, methods). The SPA's TypeScript types are generated
from this document (``npm run api-types -w frontend``), so the server and the SPA cannot drift.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from typing import Any

import msgspec
import msgspec.inspect
from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin

from backend.api.errors import ProblemDetail

WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
CHECKED_CONTENT = ("/api/journeys", "/api/templates", "/api/messages", "/api/sms", "/api/broadcasts")
"""Where a write can be refused for the journey graph's or the template's problems (422)."""
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

DESCRIPTIONS = {
    "400": "The request has problems; each names its field by JSON pointer",
    "401": "No credentials, or credentials that are unknown, revoked or expired",
    "403": "The credentials may not do this (a viewer writing, a session without its CSRF token)",
    "404": "Nothing with this id in the workspace",
    "409": "Conflicts with what is stored (a name taken, something in use, a state that does not allow it)",
    "413": "The request body is too large",
    "422": "The journey graph or the template has problems; each names its block or line",
    "429": "Too many requests; retry after the Retry-After header's seconds",
}


def _problem_components() -> dict[str, Any]:
    _, components = msgspec.json.schema_components([ProblemDetail], ref_template="#/components/schemas/{name}")
    return components


def _structs(cls: type = msgspec.Struct) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _structs(sub)


def _struct_components(names: set[str]) -> dict[str, type]:
    """The msgspec struct behind each component Litestar named (after its class, prefixed with its
    module's last part where two classes share a name)."""
    found: dict[str, type] = {}
    for struct in _structs():
        if struct.__module__.startswith("backend.") and not getattr(struct, "__parameters__", ()):
            for name in (struct.__name__, f"{struct.__module__.rsplit('.', 1)[-1]}_{struct.__name__}"):
                if name in names:
                    found[name] = struct
    return found


def _is_date_time(info: Any) -> bool:
    if isinstance(info, msgspec.inspect.UnionType):
        return any(_is_date_time(t) for t in info.types)
    return isinstance(info, msgspec.inspect.DateTimeType)


def mark_date_times(schemas: dict[str, Any], structs: dict[str, type]) -> None:
    """msgspec documents a datetime as a bare string, yet decodes only RFC 3339: say so with
    ``format: date-time`` on each such field of ``schemas`` (component name → schema)."""
    for name, struct in structs.items():
        properties = schemas.get(name, {}).get("properties", {})
        for field in msgspec.inspect.type_info(struct).fields:
            if field.encode_name in properties and _is_date_time(field.type):
                schema = properties[field.encode_name]
                for option in schema.get("anyOf") or [schema]:
                    if option.get("type") == "string":
                        option["format"] = "date-time"


def _msgspec_components(components: dict[str, Any]) -> None:
    """Replace Litestar's rendering of each struct with msgspec's own JSON schema for it: the decoder
    that checks requests is msgspec, so its schema states exactly what it accepts (constraints inside
    lists and optional fields, closed objects, tagged unions), which Litestar's drops in places."""
    structs = _struct_components(set(components))
    own, defs = msgspec.json.schema_components(list(structs.values()), ref_template="#/components/schemas/{name}")
    for name, schema in zip(structs, own, strict=True):
        components[name] = defs[schema["$ref"].rsplit("/", 1)[-1]] if "$ref" in schema else schema
    for name, schema in defs.items():
        components.setdefault(name, schema)
    mark_date_times(components, structs)
    mark_date_times(defs, {s.__name__: s for s in structs.values()})


EMAIL_PATTERN = r"^\s*(\S*@\S*)?\s*$"
"""What :func:`backend.contacts.people.check_fields` accepts: empty, or an ``@`` and no inner space."""


DURATION_PATTERN = r"^-?P(?!$)([0-9]{1,6}D)?(T(?!$)([0-9]{1,8}H)?([0-9]{1,9}M)?([0-9]{1,10}(\.[0-9]{1,6})?S)?)?$"
"""The ISO 8601 durations msgspec reads: days, hours, minutes and seconds (no years, months or weeks)."""


def _refine(schema: dict[str, Any], name: str) -> None:
    """Add what the server checks in code to a property's schema: e-mail shape, IANA time zones, and a
    score weight that is not zero."""
    for option in schema.get("oneOf") or schema.get("anyOf") or [schema]:
        if option.get("format") == "duration":
            option["pattern"] = DURATION_PATTERN
        if option.get("type") != "string" and name != "weight":
            continue
        if name == "email":
            option["pattern"] = EMAIL_PATTERN
        elif name == "timezone":
            option.clear()
            option["$ref"] = "#/components/schemas/TimeZone"
        elif name == "weight" and option.get("type") in ("number", "integer"):
            option["not"] = {"const": 0}


def _error_response(status: str) -> dict[str, Any]:
    return {
        "description": DESCRIPTIONS.get(status, "The request was refused"),
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}},
    }


def _statuses(path: str, method: str, operation: dict[str, Any]) -> set[str]:
    """The error statuses this operation can answer, from what the document says about it."""
    statuses: set[str] = set()
    parameters = operation.get("parameters") or []
    if parameters or operation.get("requestBody"):
        statuses.add("400")
    if any(p.get("in") == "path" for p in parameters):
        statuses.add("404")
    if operation.get("security"):
        statuses.add("401")
        if path.startswith("/api"):
            statuses.add("403")
    if path.startswith("/api"):
        statuses.update(("401", "403"))  # sessions: /api/auth answers 401 when not signed in
    if path.startswith("/api") and method in WRITE_METHODS:
        statuses.add("409")
    if path.startswith(CHECKED_CONTENT) and method in WRITE_METHODS:
        statuses.add("422")
    if path.startswith("/v1"):
        statuses.update(("413", "429"))
    return statuses


def tell_the_truth(document: dict[str, Any]) -> dict[str, Any]:
    """Rewrite ``document`` in place: the problem body on every error, the statuses each operation can
    answer, and a 204 that has no body."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    if "ProblemDetail" in components:
        return document  # already done
    components.update(_problem_components())
    _msgspec_components(components)
    components["TimeZone"] = {
        "type": "string",
        "description": "An IANA time zone name, e.g. Europe/Warsaw",
        "enum": sorted(zoneinfo.available_timezones()),
    }
    for component in components.values():
        for name, schema in (component.get("properties") or {}).items():
            _refine(schema, name)
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in list(responses):
                if status.startswith("4"):
                    responses[status] = _error_response(status)
                elif status == "204":
                    responses[status].pop("content", None)
            for status in _statuses(path, method, operation):
                responses.setdefault(status, _error_response(status))
    return document


class TruthfulOpenAPIPlugin(OpenAPIPlugin):
    """Litestar's OpenAPI plugin with :func:`tell_the_truth` applied once to the document it serves."""

    __slots__ = ()

    def provide_openapi_schema(self) -> dict[str, Any]:
        return tell_the_truth(super().provide_openapi_schema())


def install(app: Litestar) -> None:
    """Serve the truthful document from ``/schema`` (the plugin instance's routes are already built, so
    its class is swapped rather than the instance replaced)."""
    plugin = app.plugins.get(OpenAPIPlugin)
    plugin.__class__ = TruthfulOpenAPIPlugin
