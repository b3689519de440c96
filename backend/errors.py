"""The one way a domain module refuses a request, without knowing about HTTP: the API turns
:class:`Refused` into its problem document (``status``, ``title``, a JSON pointer per problem)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    pointer: str
    message: str


class Refused(Exception):
    def __init__(self, status: int, title: str, issues: list[Issue] | None = None, detail: str | None = None) -> None:
        self.status = status
        self.title = title
        self.issues = issues or []
        self.detail = detail or ("; ".join(f"{i.pointer or '/'}: {i.message}" for i in self.issues) or title)
        super().__init__(self.detail)


def invalid(pointer: str, message: str) -> Refused:
    return Refused(400, "The request has problems", [Issue(pointer, message)])


def missing(what: str) -> Refused:
    return Refused(404, f"{what} not found")


def conflict(pointer: str, message: str, title: str = "This conflicts with what exists") -> Refused:
    return Refused(409, title, [Issue(pointer, message)])
