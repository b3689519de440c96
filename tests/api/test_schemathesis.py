"""Property-based fuzzing of every operation in the OpenAPI schema with schemathesis: generated requests,
valid and invalid (negative mode), must never produce a server error."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from backend.api.app import create_app
from backend.config import load_settings
from backend.db.session import make_engine
from backend.services import Services

MAX_EXAMPLES = 10


def _schema(app) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/schema/openapi.json", app)


def _labels() -> list[str]:
    settings_ = load_settings(secret_key="s" * 32, var_dir="/tmp/waymark-route-list", dev_inbox=False)
    app = create_app(Services.create(settings_, engine=make_engine("sqlite://")))
    return sorted(result.ok().label for result in _schema(app).get_all_operations())


LABELS = _labels()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
@pytest.mark.parametrize("label", LABELS)
def test_no_generated_request_is_a_server_error(services, workspace, label, mode):
    services.settings.max_ingest_per_second = 0  # no 429s from the token bucket while fuzzing
    operation = _schema(create_app(services)).find_operation_by_label(label)
    if label.split()[1].startswith("/v1"):
        credentials = {"auth": (workspace.write_key, "")}
    else:
        credentials = {"headers": {"Authorization": f"Bearer {workspace.admin_key}"}}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def fuzz(case) -> None:
        response = case.call(**credentials)
        assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text[:500])
        if response.status_code >= 400:
            content_type = response.headers.get("content-type", [""])[0]  # schemathesis: a list per header
            assert content_type.startswith("application/json"), response.text[:200]

    try:
        fuzz()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE  # nothing to make invalid: no parameters, no body
