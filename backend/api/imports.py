"""Contact import and export in the admin API. Thin: the upload streams to a file on disk, the rest is
:mod:`backend.contacts.imports` and :mod:`backend.contacts.exports`.

Flow: ``POST /api/imports`` (the CSV as the request body) → the columns, a guessed mapping and the first
rows; ``POST …/preview`` with a mapping → the dry run; ``POST …/start`` → the worker imports it in
chunks while ``GET /api/imports/{id}`` shows progress; ``GET …/errors`` and ``…/errors.csv`` → the
per-row report. ``GET /api/contacts/export.csv`` streams contacts (all, a search, or a segment's).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import anyio
import msgspec
from litestar import Controller, Request, get, post
from litestar.openapi.spec import Operation
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream
from msgspec import Meta

from backend.api.app import API_HANDLERS
from backend.api.auth import READS_ONLY
from backend.api.deps import PrincipalDep, ServicesDep
from backend.api.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from backend.contacts import exports, imports
from backend.contacts.imports import MappingEntry
from backend.db.session import read_connection

MAX_IMPORT_BYTES = 500 * 1024 * 1024
"""The largest CSV file accepted (it is streamed to disk, never held in memory)."""


class ImportProgress(msgspec.Struct, kw_only=True):
    bytes_done: int
    bytes_total: int
    percent: int


class ImportOut(msgspec.Struct, kw_only=True):
    id: int
    filename: str
    status: str
    """``uploaded`` (waiting for a mapping), ``queued``, ``running``, ``done``, ``failed`` or ``cancelled``."""
    delimiter: str
    columns: list[str]
    mapping: list[MappingEntry]
    """The mapping in use, or (``uploaded``) the one guessed from the column names."""
    sample: list[list[str]]
    """The first rows as they are in the file."""
    progress: ImportProgress
    rows_done: int
    created: int
    updated: int
    failed: int
    """Rows refused; ``GET /api/imports/{id}/errors`` says why."""
    message: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class MappingIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    mapping: Annotated[list[MappingEntry], Meta(max_length=imports.MAX_COLUMNS)]


class ProblemOut(msgspec.Struct, kw_only=True):
    column: str
    value: str
    reason: str


class PreviewRowOut(msgspec.Struct, kw_only=True):
    row: int
    """As a spreadsheet numbers it: the header is row 1."""
    action: str
    """``create``, ``update`` or ``error`` (the row would be refused)."""
    values: dict[str, Any]
    problems: list[ProblemOut]


class PreviewOut(msgspec.Struct, kw_only=True):
    rows: list[PreviewRowOut]


class ImportErrorOut(msgspec.Struct, kw_only=True):
    row: int
    column: str
    """Empty when the problem is the row as a whole."""
    value: str
    reason: str


def _out(job: Any, *, with_sample: bool = True) -> ImportOut:
    total = max(int(job.bytes_total), 1)
    if job.status == "done":
        done = total
    elif job.status in ("uploaded", "queued"):
        done = 0
    else:
        done = min(int(job.offset), total)
    return ImportOut(
        id=job.id,
        filename=job.filename,
        status=job.status,
        delimiter=job.delimiter,
        columns=list(job.columns or []),
        mapping=imports.mapping_of(job),
        sample=imports.sample(job) if with_sample and job.status == "uploaded" else [],
        progress=ImportProgress(bytes_done=done, bytes_total=int(job.bytes_total), percent=int(done * 100 / total)),
        rows_done=job.rows_done,
        created=job.created,
        updated=job.updated,
        failed=job.failed,
        message=job.message,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


class _CsvBody(Operation):
    def to_schema(self) -> dict[str, Any]:
        out = super().to_schema()
        out["requestBody"] = {
            "required": True,
            "description": "The CSV file itself (UTF-8 with or without a BOM; `,`, `;` or tab between cells),"
            f" streamed; at most {MAX_IMPORT_BYTES // (1024 * 1024)} MB.",
            "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
        }
        return out


def _csv_response(chunks: Iterator[str], filename: str) -> Stream:
    return Stream(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


class ImportController(Controller):
    path = "/imports"
    tags = ["contacts"]

    @post(
        "/",
        summary="Upload a CSV file of contacts (the body is the file); answers its columns and a guessed mapping",
        operation_class=_CsvBody,
        request_max_body_size=MAX_IMPORT_BYTES,
    )
    async def upload(
        self,
        request: Request,
        services: ServicesDep,
        principal: PrincipalDep,
        filename: Annotated[str, QueryParameter(max_length=255, description="the file's name, shown in lists")] = "",
    ) -> ImportOut:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_IMPORT_BYTES:
            raise imports.too_large(MAX_IMPORT_BYTES)
        dest = imports.new_upload_path(services)
        size = 0
        try:
            async with await anyio.open_file(dest, "wb") as out:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > MAX_IMPORT_BYTES:
                        raise imports.too_large(MAX_IMPORT_BYTES)
                    await out.write(chunk)
        except BaseException:
            Path(dest).unlink(missing_ok=True)
            raise
        job_id = await anyio.to_thread.run_sync(
            imports.create, services, principal.workspace_id, dest, filename or "contacts.csv", principal.user_id
        )
        return await anyio.to_thread.run_sync(self._one, services, principal.workspace_id, job_id)

    @staticmethod
    def _one(services, workspace_id: int, import_id: int) -> ImportOut:
        with read_connection(services.engine) as conn:
            return _out(imports.get(conn, workspace_id, import_id))

    @get("/", sync_to_thread=True, summary="Recent imports, newest first")
    def list_imports(self, services: ServicesDep, principal: PrincipalDep) -> list[ImportOut]:
        with read_connection(services.engine) as conn:
            return [_out(job, with_sample=False) for job in imports.recent(conn, principal.workspace_id)]

    @get("/{import_id:int}", sync_to_thread=True, summary="An import: status, progress and counts")
    def get_import(self, services: ServicesDep, principal: PrincipalDep, import_id: FromPath[int]) -> ImportOut:
        return self._one(services, principal.workspace_id, import_id)

    @post(
        "/{import_id:int}/preview",
        status_code=200,
        sync_to_thread=True,
        opt=READS_ONLY,
        summary="Dry run: the first rows as they would be stored with this mapping (nothing is written)",
    )
    def preview(
        self, services: ServicesDep, principal: PrincipalDep, import_id: FromPath[int], data: JSONBody[MappingIn]
    ) -> PreviewOut:
        with read_connection(services.engine) as conn:
            job = imports.get(conn, principal.workspace_id, import_id)
            rows = imports.preview(conn, principal.workspace_id, job, data.mapping)
        return PreviewOut(
            rows=[
                PreviewRowOut(
                    row=r.row,
                    action=r.action,
                    values=r.values,
                    problems=[ProblemOut(column=p.column, value=p.value, reason=p.reason) for p in r.problems],
                )
                for r in rows
            ]
        )

    @post(
        "/{import_id:int}/start",
        status_code=202,
        sync_to_thread=True,
        summary="Import the file with this mapping (in the background; poll the import for progress)",
    )
    def start(
        self, services: ServicesDep, principal: PrincipalDep, import_id: FromPath[int], data: JSONBody[MappingIn]
    ) -> ImportOut:
        imports.start(services, principal.workspace_id, import_id, data.mapping)
        return self._one(services, principal.workspace_id, import_id)

    @post("/{import_id:int}/cancel", status_code=200, sync_to_thread=True, summary="Stop an import")
    def cancel(self, services: ServicesDep, principal: PrincipalDep, import_id: FromPath[int]) -> ImportOut:
        imports.cancel(services, principal.workspace_id, import_id)
        return self._one(services, principal.workspace_id, import_id)

    @get("/{import_id:int}/errors", sync_to_thread=True, summary="The rows an import refused, and why")
    def errors(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        import_id: FromPath[int],
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[ImportErrorOut]:
        after = decode_cursor(cursor) or 0
        with read_connection(services.engine) as conn:
            imports.get(conn, principal.workspace_id, import_id)
            rows = imports.errors(conn, import_id, limit + 1, after)
        items = [ImportErrorOut(row=r.row, column=r.column, value=r.value, reason=r.reason) for r in rows[:limit]]
        return Page(items=items, next_cursor=encode_cursor(rows[limit - 1].id) if len(rows) > limit else None)

    @get(
        "/{import_id:int}/errors.csv",
        sync_to_thread=True,
        summary="The refused rows as a CSV file (row, column, value, reason)",
        media_type="text/csv",
    )
    def errors_csv(self, services: ServicesDep, principal: PrincipalDep, import_id: FromPath[int]) -> Stream:
        with read_connection(services.engine) as conn:
            job = imports.get(conn, principal.workspace_id, import_id)

        def chunks() -> Iterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\r\n")
            writer.writerow(["row", "column", "value", "reason"])
            yield "\ufeff" + buffer.getvalue()
            after = 0
            while True:
                with read_connection(services.engine) as conn:
                    rows = imports.errors(conn, job.id, 1000, after)
                if not rows:
                    return
                buffer.seek(0)
                buffer.truncate()
                writer.writerows(
                    [r.row, exports.neutralise(r.column), exports.neutralise(r.value), r.reason] for r in rows
                )
                yield buffer.getvalue()
                after = rows[-1].id

        stem = Path(job.filename).stem or "contacts"
        return _csv_response(chunks(), f"{_safe(stem)}-errors.csv")


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:100] or "contacts"


class ExportController(Controller):
    path = "/contacts/export.csv"
    tags = ["contacts"]

    @get(
        "/",
        sync_to_thread=True,
        media_type="text/csv",
        summary="Contacts as CSV (streamed): traits, tags, consent and computed properties; all, a search, or a"
        " segment's members",
    )
    def export(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        q: Annotated[
            str | None, QueryParameter(max_length=320, description="prefix of external id, email or phone")
        ] = None,
        segment: Annotated[
            str | None, QueryParameter(max_length=100, description="only members of the segment with this key")
        ] = None,
    ) -> Stream:
        export = exports.Export(services.engine, principal.workspace_id, q, segment)
        day = services.clock.now().date().isoformat()
        return _csv_response(export.chunks(), f"{_safe(segment or 'contacts')}-{day}.csv")


API_HANDLERS.extend([ImportController, ExportController])
