"""Fixtures for the HTTP API: an app on the test database, and clients that authenticate as a workspace's
admin key or write key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from backend.api.app import create_app
from backend.config import Settings, load_settings
from backend.runtime.tick import Ticker
from backend.services import Services
from backend.workspaces import NewWorkspace, create_workspace


@pytest.fixture
def settings(tmp_path) -> Settings:
    return load_settings(secret_key="s" * 32, var_dir=str(tmp_path), dev_inbox=False)


@pytest.fixture
def services(settings, engine, clock, registry) -> Services:
    return Services.create(settings, engine=engine, clock=clock, registry=registry)


@pytest.fixture
def client(services) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as client:
        yield client


@pytest.fixture
def ticker(services) -> Ticker:
    return Ticker(services.engine, services.graphs, services.clock, batch_size=100)


class Api:
    """A client bound to one set of credentials: ``api.get("/api/contacts")``."""

    def __init__(self, client: TestClient, *, headers: dict[str, str] | None = None, auth: Any = None) -> None:
        self.client = client
        self.headers = headers or {}
        self.auth = auth

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        if self.auth is not None:
            kwargs.setdefault("auth", self.auth)
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)


def admin_api(client: TestClient, ws: NewWorkspace) -> Api:
    return Api(client, headers={"Authorization": f"Bearer {ws.admin_key}"})


def write_api(client: TestClient, ws: NewWorkspace) -> Api:
    """Segment style: the write key is the Basic-auth user name, the password is empty."""
    return Api(client, auth=(ws.write_key, ""))


@pytest.fixture
def admin(client, workspace) -> Api:
    return admin_api(client, workspace)


@pytest.fixture
def writer(client, workspace) -> Api:
    return write_api(client, workspace)


@pytest.fixture
def other_workspace(sessions) -> NewWorkspace:
    with sessions.begin() as session:
        return create_workspace(session, "globex", "Globex Corp.")


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON body, after checking the status (the body is in the failure message)."""
    assert response.status_code == status, response.text
    return response.json() if response.content else None
