"""Property-based fuzzing of every operation in the OpenAPI schema with schemathesis and all its checks:
generated requests, valid and invalid (negative mode), never produce a server error, every answer has a
documented status, content type and body, invalid requests are refused and valid ones accepted.

A request can match the schema and still be refused for what only the stored state or several fields
together decide (a segment that does not exist, "give contact_ids or external_ids"). Those operations are
listed in ``STATE_CHECKED`` with their reason; for them a refusal must be a 400 that points at a field."""

from __future__ import annotations

import base64

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from backend.api.app import create_app
from backend.config import load_settings
from backend.db.session import make_engine
from backend.services import Services

MAX_EXAMPLES = 10
STATEFUL_EXAMPLES = 40

STATE_CHECKED = {
    "GET /api/contacts": "segment= names a saved segment",
    "GET /api/contacts/export.csv": "segment= names a saved segment",
    "POST /api/imports": "the file must be a CSV with a header row",
    "POST /api/imports/{import_id}/preview": "the mapping must name the file's columns, each target once",
    "POST /api/imports/{import_id}/start": "the mapping must name the file's columns, each target once",
    "POST /api/broadcasts": "the segment and template must exist",
    "POST /api/segments": "a rule may name other segments, computed properties and scores",
    "POST /api/segments/preview": "a rule may name other segments, computed properties and scores",
    "PATCH /api/segments/{segment_id}": "a rule may name other segments, computed properties and scores",
    "POST /api/computed-properties": "aggregates other than count need the property they aggregate",
    "PATCH /api/computed-properties/{prop_id}": "aggregates other than count need the property they aggregate",
    "POST /api/scores": "a property filter needs a value for most operators",
    "PATCH /api/scores/{score_id}": "a property filter needs a value for most operators",
    "POST /api/journeys/{journey_id}/enrollments": "contact_ids or external_ids, one of the two",
    "POST /v1/bounces": "each bounce names its message (message_id) or its recipient (email)",
    "POST /api/providers": "the provider kinds are the installed plug-ins'",
    "PATCH /api/providers/{provider_id}": "a provider's settings are checked against its kind",
    "POST /api/journeys/{journey_id}/publish": "a journey publishes only when its saved graph is complete",
    "PUT /api/journeys/{journey_id}/draft": "a graph is checked block by block against the installed block types",
    "POST /api/journeys": "a graph is checked block by block against the installed block types",
    "POST /api/templates": "the draft's channels are checked by the template service",
    "PUT /api/templates/{template_id}/draft": "the draft's channels are checked by the template service",
    "POST /api/templates/{template_id}/publish": "a template needs a body for a channel to publish",
    "POST /api/templates/{template_id}/test-send": "a template needs a body for the channel it tests",
    "POST /api/templates/{template_id}/preview": "a template needs a body for the channel it previews",
}


def _basic(write_key: str) -> str:
    """The write key as an explicit header (schemathesis knows a header it was given, not an auth pair,
    so its checks that leave credentials out can take it away)."""
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


def _state_checked(label: str, response) -> bool:
    """A refusal the schema cannot express: an operation in ``STATE_CHECKED``, or a date-time that RFC
    3339 allows and Python cannot hold (a leap second, year 1 with an offset before UTC), or text with
    a NUL character, which no field takes (PostgreSQL cannot store it; the document says so once, in its
    description, rather than on every string and every free-form object's keys), or a Segment message
    whose sentAt and timestamp are so far apart that correcting the clock skew leaves the calendar."""
    problems = response.json().get("problems") or []
    if label in STATE_CHECKED:
        return True
    schema_cannot_say = ("RFC3339", "NUL character", "too far apart")
    return bool(problems) and all(any(s in p["message"] for s in schema_cannot_say) for p in problems)


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
        credentials = {"headers": {"Authorization": _basic(workspace.write_key)}}
    else:
        credentials = {"headers": {"Authorization": f"Bearer {workspace.admin_key}"}}

    @given(case=operation.as_strategy(generation_mode=mode))
    # derandomize: the same examples on every run, so CI cannot meet a case no run here has seen
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case) -> None:
        response = case.call(**credentials)
        assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text[:500])
        if mode is GenerationMode.POSITIVE and response.status_code in (400, 422) and _state_checked(label, response):
            problems = response.json().get("problems") or []
            assert problems and all("pointer" in p for p in problems), response.text[:500]
            case.validate_response(response, excluded_checks=[positive_data_acceptance], transport_kwargs=credentials)
        else:
            case.validate_response(response, transport_kwargs=credentials)

    try:
        fuzz()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE  # nothing to make invalid: no parameters, no body


def test_stateful_sequences_keep_their_promises(services, workspace):
    """Chains of calls linked through the ids responses hand out (create a segment, read it, change it,
    delete it, read it again …), with all checks — including that a deleted thing is gone and that a
    created one can be read back."""
    services.settings.max_ingest_per_second = 0
    schema = _schema(create_app(services))
    admin = {"headers": {"Authorization": f"Bearer {workspace.admin_key}"}}
    writer = {"headers": {"Authorization": _basic(workspace.write_key)}}

    class Machine(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return writer if case.path.startswith("/v1") else admin

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
            label = f"{case.method} {case.path}"
            if response.status_code in (400, 422) and _state_checked(label, response):
                case.validate_response(response, excluded_checks=[positive_data_acceptance], transport_kwargs=kwargs)
            else:
                case.validate_response(response, transport_kwargs=kwargs)

    Machine.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=6,
            phases=[Phase.generate],  # replaying to shrink would meet a database the first run changed
            deadline=None,
            derandomize=True,  # the same examples on every run: CI cannot meet a case no one has seen
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
