from tests.api.conftest import admin, client, other_workspace, services, settings, ticker, writer  # noqa: F401 - fixtures
