"""One error shape for every failure: ``{status, title, detail, problems: [{pointer, message}]}``.

Nothing reaches the client as an HTML page or a bare 500 stack: validation errors name the field with
a JSON pointer, and unexpected errors are logged with an id the operator can grep for.
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, SerializationException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy import exc as sa_exc

from backend.api.headers import SECURITY_HEADERS
from backend.engine.validation import GraphInvalid, Problem, msgspec_path_to_pointer
from backend.errors import Refused

log = logging.getLogger("waymark.api")


class ProblemItem(msgspec.Struct, omit_defaults=True):
    pointer: str
    message: str
    code: str | None = None
    node_id: str | None = None
    severity: str | None = None
    """``warning`` for problems that do not stop publishing; absent for errors."""
    line: int | None = None
    """For a template's problems: the line (1-based) and column in the field the pointer names."""
    column: int | None = None
    limit: str | None = None
    """For a template that hit a render limit: which one (``cpu``, ``output``, ``value`` …)."""


class ProblemDetail(msgspec.Struct, omit_defaults=True):
    status: int
    title: str
    detail: str | None = None
    problems: list[ProblemItem] | None = None


class ApiError(HTTPException):
    """An error with a specific status, a human title and optional per-field problems."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        problems: list[ProblemItem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status, detail=title, headers=headers)
        self.title = title
        self.problem_detail = detail
        self.problems = problems


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, f"{what} not found")


def bad_request(pointer: str, message: str, title: str = "The request has problems") -> ApiError:
    return ApiError(400, title, message, [ProblemItem(pointer, message)])


NUL_MESSAGE = "text may not contain the NUL character (\\u0000)"


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _nul_pointer(value: Any, pointer: str) -> str | None:
    if isinstance(value, str):
        return pointer if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{pointer}/{_escape(key)}"
            if "\x00" in key:
                return here
            found = _nul_pointer(item, here)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_pointer(item, f"{pointer}/{index}")
            if found is not None:
                return found
    return None


def refuse_nul(body: bytes, base: str = "") -> None:
    """PostgreSQL cannot store NUL in text or JSON(B) and SQLite can: refuse it in any JSON string of the
    body, on both engines alike, with the pointer of the first such field. Only a body holding the escape
    ``\\u0000`` is looked into, so other requests pay one byte search."""
    if b"\\u0000" not in body:
        return
    try:
        doc = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return  # not JSON: the body's own parsing reports it
    pointer = _nul_pointer(doc, base)
    if pointer is not None:
        message = f"{pointer or '/'}: {NUL_MESSAGE}"
        raise ApiError(400, "The request has problems", message, [ProblemItem(pointer, NUL_MESSAGE)])


def refuse_nul_text(values: dict[str, Any], where: str) -> None:
    """The same for query parameters (``where="query"``): the pointer is ``/query/<name>``."""
    for name, value in values.items():
        items = value if isinstance(value, list) else [value]
        if any(isinstance(item, str) and "\x00" in item for item in items):
            pointer = f"/{where}/{_escape(name)}"
            raise ApiError(
                400, "The request has problems", f"{pointer}: {NUL_MESSAGE}", [ProblemItem(pointer, NUL_MESSAGE)]
            )


def from_graph_problems(problems: list[Problem]) -> list[ProblemItem]:
    return [
        ProblemItem(p.pointer, p.message, p.code, p.node_id, "warning" if p.severity == "warning" else None)
        for p in problems
    ]


_SECURITY_HEADERS = {name.decode(): value.decode() for name, value in SECURITY_HEADERS}


def _response(body: ProblemDetail, headers: dict[str, str] | None = None) -> Response:
    return Response(
        content=msgspec.json.encode(body),
        status_code=body.status,
        media_type=MediaType.JSON,
        # Also here: a path no route matches is answered before the app's middleware runs.
        headers={**_SECURITY_HEADERS, **(headers or {})},
    )


def _api_error(_: Request, exc: ApiError) -> Response:
    return _response(ProblemDetail(exc.status_code, exc.title, exc.problem_detail, exc.problems), exc.headers)


_KEY_PATH = re.compile(r"[^.\[\]]+|\[\d+\]")


def _pointer_from_key(key: str | None) -> str:
    if not key:
        return ""
    parts = []
    for token in _KEY_PATH.findall(key):
        parts.append(token[1:-1] if token.startswith("[") else token)
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _validation_error(_: Request, exc: ValidationException) -> Response:
    problems: list[ProblemItem] = []
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid value"))
        suffix, message = msgspec_path_to_pointer(message)
        source = getattr(item.get("source"), "value", item.get("source"))
        key = item.get("key")
        if source == "body":
            # Litestar names the whole body "data"; a JSON pointer to the whole body is "".
            pointer = suffix or _pointer_from_key(key if key not in ("body", "data") else None)
            if key == "data" and message == "'data'":
                message = "a JSON body is required"
        else:
            pointer = f"/{source}/{key}" if source and key else _pointer_from_key(key)
            message = f"{message} (in {source} parameter {key!r})" if source and key else message
        problems.append(ProblemItem(pointer, message))
    detail = str(exc.detail)
    if "Validation failed" in detail and problems:
        detail = "; ".join(f"{p.pointer or '/'}: {p.message}" for p in problems)
    elif "JSON is malformed" in detail or "malformed" in detail.lower():
        detail = "The body is not valid JSON: " + detail
    return _response(ProblemDetail(400, "The request has problems", detail, problems or None))


def _http_error(_: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if isinstance(exc.__cause__, SerializationException):  # Litestar could not decode the body
        message = f"the body is not valid JSON: {exc.detail}"
        return _response(ProblemDetail(400, "The request has problems", message, [ProblemItem("", message)]))
    headers = dict(exc.headers or {})
    if isinstance(exc, NotAuthorizedException) and "WWW-Authenticate" not in headers:
        headers["WWW-Authenticate"] = 'Bearer realm="waymark"'
    title = str(exc.detail) if exc.detail else "Request failed"
    if status == 413:
        title = "The request body is too large"
    return _response(ProblemDetail(status, title), headers)


def _refused(_: Request, exc: Refused) -> Response:
    problems = [ProblemItem(i.pointer, i.message) for i in exc.issues] or None
    return _response(ProblemDetail(exc.status, exc.title, exc.detail, problems))


def _graph_invalid(_: Request, exc: GraphInvalid) -> Response:
    return _response(
        ProblemDetail(
            422,
            "The journey graph has problems",
            f"{len(exc.problems)} problem(s)",
            from_graph_problems(exc.problems),
        )
    )


def _unexpected(request: Request, exc: Exception) -> Response:
    incident = secrets.token_hex(6)
    log.exception("unhandled error %s on %s %s", incident, request.method, request.url.path)
    return _response(
        ProblemDetail(
            HTTP_500_INTERNAL_SERVER_ERROR,
            "Internal error",
            f"Something went wrong on our side (incident {incident}); nothing you sent was lost.",
        )
    )


def _too_deep(_: Request, exc: RecursionError) -> Response:
    message = "the body is nested too deeply"
    return _response(ProblemDetail(400, "The request has problems", message, [ProblemItem("", message)]))


def _out_of_range(request: Request, exc: Exception) -> Response:
    """The database refused a value (a number beyond 64 bits, a NUL character in text, …): the request's
    fault, not ours, but the field is not known here."""
    log.info("value refused by the database on %s %s: %s", request.method, request.url.path, exc)
    message = "a value in the request is out of the range the database can store (too large a number, a NUL character…)"
    return _response(ProblemDetail(400, "The request has problems", message))


EXCEPTION_HANDLERS: dict[Any, Any] = {
    RecursionError: _too_deep,
    OverflowError: _out_of_range,
    sa_exc.DataError: _out_of_range,
    ApiError: _api_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    GraphInvalid: _graph_invalid,
    Refused: _refused,
    Exception: _unexpected,
}
