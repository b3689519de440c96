"""Templates: the Jinja2 sandbox, errors with line and column, MJML compiled once per version, the
template service and its admin API."""

from __future__ import annotations

import pytest

from backend.engine.sdk import Contact, Subscription
from backend.templates import mjml as mjml_module
from backend.templates import service
from backend.templates.environment import SecurityError, compile_jinja, syntax_problems
from backend.templates.render import CompiledTemplate, build_context
from backend.templates.service import compile_channels
from tests.api.conftest import ok
from tests.delivery.conftest import WELCOME_MJML
from tests.factories import add_contact


def render_email(mjml: str, contact: Contact | None = None, **email) -> dict[str, str]:
    channels = {"email": {"subject": email.pop("subject", "Hi"), "mjml": mjml, **email}}
    compiled, problems = compile_channels(channels)
    assert not problems, [p.describe() for p in problems]
    template = CompiledTemplate(1, "t", channels, compiled)
    context = build_context(contact, journey_context={"event": {"name": "signup", "properties": {"plan": "pro"}}})
    return template.render("email", context).fields


# -- syntax errors: line and column ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "line", "column", "message"),
    [
        ("Hello {{ name }", 1, 15, "unexpected '}'"),
        ("Hello\n  {{ name | }}", 2, 13, "expected token 'name'"),
        ("one\ntwo {% if x %}yes", 2, 18, "Unexpected end of template"),
        ("x {% frobnicate %}", 1, 6, "unknown tag 'frobnicate'"),
        ("a\nb\n   {{ 'unclosed }}", 3, 7, "unexpected char"),
        ("{{ a }}\n\n     {{ x y }}", 3, 11, "expected token 'end of print statement', got 'y'"),
    ],
)
def test_syntax_errors_name_line_and_column(source, line, column, message):
    (problem,) = syntax_problems(source, "/email/subject")
    assert (problem.line, problem.column) == (line, column), problem
    assert message in problem.message
    assert problem.describe().startswith(f"line {line}, column {column}: ")


def test_publish_reports_every_problem_with_its_field_line_and_column(services, workspace):
    mjml = "<mjml>\n  <mj-body>\n    <mj-text>Hi {{ contact.first_name }</mj-text>\n  </mj-body>\n</mjml>"
    now = services.clock.now()
    with services.sessions.begin() as session:
        template, problems = service.create_template(
            session,
            workspace.id,
            key="broken",
            name="Broken",
            draft={"email": {"subject": "{% if %}", "mjml": mjml}},
            now=now,
        )
        assert {p.pointer for p in problems} == {"/email/subject", "/email/mjml"}
        with pytest.raises(service.TemplateInvalid) as caught:
            service.publish(session, template, now=now)
    found = {p.pointer: (p.line, p.column) for p in caught.value.problems}
    assert found == {"/email/subject": (1, 7), "/email/mjml": (3, 39)}  # the lone "}"


def test_mjml_that_does_not_compile_is_refused_at_publish():
    _, problems = compile_channels({"email": {"subject": "x", "mjml": "<mjml><mj-body><mj-section>"}})
    assert [p.pointer for p in problems] == ["/email/mjml"]
    assert "MJML" in problems[0].message
    _, problems = compile_channels({"email": {"subject": "x", "mjml": "Dear {{ name }}"}})
    assert "must start with <mjml>" in problems[0].message


# -- the sandbox ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ x.__init__.__globals__ }}",
        "{{ x|attr('__class__') }}",
        "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
        "{{ '{0.__class__}'.format(x) }}",
        "{{ '%s'|format(x.__class__) }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ x['__class__'] }}",
        "{{ contact.attributes.update({'vip': true}) }}",
    ],
)
def test_the_sandbox_refuses_escape_payloads(payload):
    template = compile_jinja(payload, "email.subject")
    with pytest.raises(SecurityError):
        template.render(x=42, contact={"attributes": {}})


def test_an_unsafe_template_fails_the_message_with_its_line_not_the_process():
    channels = {
        "email": {"subject": "Hi", "mjml": "<mjml><mj-body><mj-text>\n{{ ''.__class__ }}</mj-text></mj-body></mjml>"}
    }
    compiled, problems = compile_channels(channels)
    assert not problems  # syntactically fine: refused when it runs
    from backend.templates.environment import TemplateRenderError

    with pytest.raises(TemplateRenderError) as caught:
        CompiledTemplate(1, "t", channels, compiled).render("email", build_context(None))
    assert caught.value.problem.pointer == "/email/mjml"
    assert caught.value.problem.line == 2
    assert "unsafe" in caught.value.problem.message


# -- personalisation ------------------------------------------------------------------------------


def test_computed_properties_are_contact_computed_key():
    contact = Contact(id=7, email="ana@example.com", computed={"rentals_30d": 3})
    fields = render_email(
        "<mjml><mj-body><mj-text>You rented {{ contact.computed.rentals_30d }} films</mj-text></mj-body></mjml>",
        contact,
        subject="{{ contact.computed.rentals_30d }} rentals, {{ contact.computed.missing | default(0) }} missing",
    )
    assert "You rented 3 films" in fields["html"]
    assert fields["subject"] == "3 rentals, 0 missing"


def test_missing_values_render_empty_or_their_default_and_never_crash():
    contact = Contact(id=7, email="ana@example.com", attributes={"nickname": None})
    fields = render_email(
        "<mjml><mj-body><mj-text>"
        "A={{ contact.first_name | default('friend') }} "
        "B={{ contact.nickname | default('pal') }} "
        "C=[{{ contact.plan.name.upper }}] "
        "D={{ contact.age + 1 }} "
        "E={% if contact.age > 18 %}adult{% else %}unknown{% endif %} "
        "F={% for s in contact.missing_list %}x{% endfor %}."
        "</mj-text></mj-body></mjml>",
        contact,
    )
    assert "A=friend B=pal C=[] D= E=unknown F=." in fields["html"]


def test_html_is_escaped_and_text_fields_are_not():
    contact = Contact(id=1, email="a@b.test", attributes={"first_name": "<b>Ana & Co</b>"})
    fields = render_email(
        "<mjml><mj-body><mj-text>Hi {{ contact.first_name }}</mj-text></mj-body></mjml>",
        contact,
        subject="For {{ contact.first_name }}",
    )
    assert "Hi &lt;b&gt;Ana &amp; Co&lt;/b&gt;" in fields["html"]
    assert fields["subject"] == "For <b>Ana & Co</b>"
    assert "Hi <b>Ana & Co</b>" in fields["text"]


def test_context_has_contact_subscriptions_and_the_trigger_event():
    contact = Contact(
        id=3,
        email="ana@example.com",
        tags={"vip"},
        attributes={"first_name": "Ana"},
        locale="pl",
        subscriptions=[Subscription(name="Gold", status="active", attributes={"price": 10})],
    )
    fields = render_email(
        "<mjml><mj-body><mj-text>{{ contact.first_name }}|{{ contact.attributes.first_name }}|{{ contact.email }}|"
        "{{ 'vip' in contact.tags }}|{{ subscription.name }}|{{ subscriptions | length }}|{{ subscription.price }}|"
        "{{ event.properties.plan }}|{{ 1234.5 | number }}</mj-text></mj-body></mjml>",
        contact,
    )
    assert "Ana|Ana|ana@example.com|True|Gold|1|10|pro|1&nbsp;234,5" in fields["html"] or (
        "Ana|Ana|ana@example.com|True|Gold|1|10|pro|1\u00a0234,5" in fields["html"]
    )


def test_jinja_blocks_can_wrap_mjml_sections_and_attributes():
    fields = render_email(
        """<mjml><mj-body>
{% for item in ['a', 'b'] %}
<mj-section><mj-column>
  <mj-button href="https://acme.test/{{ item }}?x={{ "quoted" }}">Item {{ item }}</mj-button>
</mj-column></mj-section>
{% endfor %}
</mj-body></mjml>"""
    )
    html = fields["html"]
    assert 'href="https://acme.test/a?x=quoted"' in html and 'href="https://acme.test/b?x=quoted"' in html
    assert html.count("Item a") == 1 and html.count("Item b") == 1
    assert "Item a (https://acme.test/a?x=quoted)" in fields["text"]


def test_preheader_is_hidden_in_the_html():
    fields = render_email(WELCOME_MJML, preheader="Only {{ 2 + 1 }} steps left")
    assert fields["preheader"] == "Only 3 steps left"
    assert "display:none" in fields["html"].split("Only 3 steps left")[0][-300:]


# -- MJML compiled once per version ---------------------------------------------------------------


def test_mjml_is_compiled_once_per_version_and_never_per_message(services, workspace, dispatcher, smtp_server):
    from tests.delivery.conftest import email_journey, make_template, track

    before = mjml_module.compilations()
    template_id = make_template(services, workspace.id)
    assert mjml_module.compilations() == before + 1

    email_journey(services, workspace.id)
    from backend.runtime.tick import Ticker

    ticker = Ticker(services.engine, services.graphs, services.clock)
    for i in range(30):
        contact = add_contact(services.sessions, workspace.id, email=f"c{i}@example.com")
        track(services, workspace.id, contact, "signup")
    ticker.run_until_idle()
    assert dispatcher.run_once() == 30
    assert len(smtp_server.wait_for(30)) == 30
    assert mjml_module.compilations() == before + 1  # 30 personalised emails, no MJML

    # A second dispatcher (another worker process) renders from the stored HTML, still no MJML.
    from backend.runtime.outbox import Dispatcher

    contact = add_contact(services.sessions, workspace.id, email="late@example.com")
    track(services, workspace.id, contact, "signup")
    ticker.run_until_idle()
    assert Dispatcher(services).run_once() == 1
    assert mjml_module.compilations() == before + 1

    with services.sessions.begin() as session:
        template = service.get_template(session, workspace.id, template_id)
        service.publish(session, template, now=services.clock.now())
    assert mjml_module.compilations() == before + 2


# -- admin API ---------------------------------------------------------------------------------------


def test_template_api_create_edit_publish_preview(admin, services, workspace):
    draft = {"email": {"subject": "Hi {{ contact.first_name }}", "mjml": WELCOME_MJML}}
    created = ok(admin.post("/api/templates", json={"key": "welcome", "name": "Welcome", "draft": draft}), 201)
    tid = created["template"]["id"]
    assert created["problems"] == [] and created["template"]["channels"] == ["email"]
    assert created["template"]["version"] is None

    dup = admin.post("/api/templates", json={"key": "welcome", "name": "Again"})
    assert dup.status_code == 409

    shape = admin.post("/api/templates", json={"key": "x", "name": "X", "draft": {"email": {"subjekt": "?"}}})
    assert shape.status_code == 400 and shape.json()["problems"][0]["pointer"].startswith("/draft/email")

    broken = {"email": {"subject": "Hi", "mjml": "<mjml><mj-body>\n<mj-text>{{ a.b( }}</mj-text></mj-body></mjml>"}}
    saved = ok(admin.put(f"/api/templates/{tid}/draft", json={"draft": broken}))
    assert saved["problems"] == [
        {"pointer": "/draft/email/mjml", "message": "unexpected '}', expected ')'", "line": 2, "column": 18}
    ]
    refused = admin.post(f"/api/templates/{tid}/publish")
    assert refused.status_code == 422
    (problem,) = refused.json()["problems"]
    assert (problem["pointer"], problem["line"], problem["column"]) == ("/draft/email/mjml", 2, 18)

    ok(admin.put(f"/api/templates/{tid}/draft", json={"draft": draft, "name": "Welcome mail"}))
    version = ok(admin.post(f"/api/templates/{tid}/publish"), 201)
    assert version["number"] == 1
    got = ok(admin.get(f"/api/templates/{tid}"))
    assert (got["version"], got["published_version_id"], got["name"]) == (1, version["id"], "Welcome mail")
    assert [v["number"] for v in ok(admin.get(f"/api/templates/{tid}/versions"))] == [1]
    listed = ok(admin.get("/api/templates?q=welc"))
    assert [t["key"] for t in listed["items"]] == ["welcome"]

    contact = add_contact(services.sessions, workspace.id, email="ana@example.com", attributes={"first_name": "Ana"})
    preview = ok(
        admin.post(
            f"/api/templates/{tid}/preview",
            json={"contact_id": contact, "version": 1, "context": {"event": {"properties": {"plan": "pro"}}}},
        )
    )
    assert preview["fields"]["subject"] == "Hi Ana"
    assert "Your pro plan is waiting." in preview["fields"]["html"]
    assert preview["problems"] == []

    lacking = add_contact(services.sessions, workspace.id, email="bo@example.com")
    preview = ok(admin.post(f"/api/templates/{tid}/preview", json={"contact_id": lacking}))
    assert preview["fields"]["subject"] == "Hi"
    assert preview["missing"] == ["first_name", "properties.plan"]


def test_template_api_is_scoped_to_the_workspace(admin, client, services, workspace, other_workspace):
    from tests.api.conftest import admin_api

    tid = ok(admin.post("/api/templates", json={"key": "welcome", "name": "Welcome"}), 201)["template"]["id"]
    other = admin_api(client, other_workspace)
    assert other.get(f"/api/templates/{tid}").status_code == 404
    assert ok(other.get("/api/templates"))["items"] == []
    foreign = add_contact(services.sessions, other_workspace.id, email="x@globex.test")
    assert admin.post(f"/api/templates/{tid}/preview", json={"contact_id": foreign}).status_code == 400
