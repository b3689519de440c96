"""The unsubscribe link: ``/t/u/{public_id}/{signature}``.

* ``GET`` shows the preference page (server-rendered, no scripts, no external assets, in the contact's
  language) and **never changes anything** — mail scanners and link previews fetch it freely.
* ``POST`` with the body ``List-Unsubscribe=One-Click`` (RFC 8058, sent by mail clients from the
  ``List-Unsubscribe-Post`` header) unsubscribes the contact from the message's channel at once: no
  cookie, no CSRF token, nothing to click.
* ``POST`` of the page's own form (carrying the signed ``token``) unsubscribes from the message's
  channel (``action=unsubscribe``) or sets every channel shown (``action=save``, checked = subscribed).
"""

from __future__ import annotations

import html
import logging
from functools import partial

import anyio
from litestar import MediaType, Request, Response, Router, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath
from sqlalchemy.exc import SQLAlchemyError

from backend.api.app import PUBLIC_HANDLERS
from backend.api.deps import ServicesDep
from backend.services import Services
from backend.tracking import actions, i18n
from backend.tracking.actions import Preferences
from backend.tracking.signing import Signer, plausible_id, signer_for

log = logging.getLogger("waymark.tracking")

MAX_FORM_BYTES = 16 * 1024
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
}

_STYLE = """
:root{color-scheme:light dark}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","PingFang SC","Microsoft YaHei",sans-serif;
margin:0;background:#f4f5f7;color:#1f2328}
main{max-width:34rem;margin:2rem auto;padding:1.5rem 1.75rem;background:#fff;border-radius:8px;
box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.5rem;margin:0 0 .5rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
p{margin:.5rem 0}fieldset{border:0;padding:0;margin:0}legend{font-weight:600;margin-bottom:.5rem}
label{display:flex;gap:.6rem;align-items:center;padding:.35rem 0;cursor:pointer}
input[type=checkbox]{width:1.2rem;height:1.2rem}
button{font:inherit;padding:.55rem 1.1rem;border-radius:6px;border:1px solid #1f2328;background:#1f2328;color:#fff;
cursor:pointer;margin-top:.75rem}
button.secondary{background:#fff;color:#1f2328}
button:focus-visible,input:focus-visible{outline:3px solid #0a66d8;outline-offset:2px}
.notice{padding:.75rem 1rem;border-radius:6px;background:#e7f5ec;border:1px solid #1a7f37;margin:1rem 0}
.notice.error{background:#fdecea;border-color:#b42318}
.note{color:#57606a;font-size:.875rem;margin-top:1.5rem}
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}main{background:#161b22}
button{background:#e6edf3;color:#0d1117;border-color:#e6edf3}button.secondary{background:#161b22;color:#e6edf3}
.notice{background:#0f2e1b}.notice.error{background:#3b1614}.note{color:#8b949e}}
"""


def _signer(services: Services) -> Signer:
    return signer_for(services.settings.secret_key)


def _page(lang: str, title: str, body: str, status: int = 200) -> Response:
    document = (
        f'<!doctype html><html lang="{html.escape(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex,nofollow">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return Response(document, status_code=status, media_type=MediaType.HTML, headers=PAGE_HEADERS)


def not_found_page() -> Response:
    return _page(
        "en",
        "Link not found",
        "<h1>Link not found</h1><p>This link is not valid, or the message it came from no longer exists.</p>",
        404,
    )


def unavailable_page(request: Request, exc: Exception) -> Response:
    """A database error on a public tracking route: 503 with a retry hint, never a bare 500."""
    log.warning("tracking route %s unavailable: %s", request.url.path, exc)
    response = _page(
        "en",
        "Try again in a moment",
        "<h1>Try again in a moment</h1><p>This page is not available right now. Please try again shortly.</p>",
        503,
    )
    response.headers["Retry-After"] = "30"
    return response


TRACKING_EXCEPTION_HANDLERS = {SQLAlchemyError: unavailable_page}


def render(state: Preferences, token: str, *, notice: str | None = None, error: str | None = None) -> str:
    """The page's HTML; every value from the database or the request is escaped."""
    lang = state.lang
    t = partial(i18n.text, lang)
    esc = html.escape
    sender = state.sender or "us"
    channel_name = t(f"channel.{state.channel}")
    parts = [f"<h1>{esc(t('title'))}</h1>", f"<p>{esc(t('intro', sender=sender))}</p>"]
    if state.test:
        parts.append(f'<p class="notice" role="status">{esc(t("test_notice"))}</p>')
    if error:
        parts.append(f'<p class="notice error" role="alert">{esc(error)}</p>')
    elif notice:
        parts.append(f'<p class="notice" role="status">{esc(notice)}</p>')
    hidden = f'<input type="hidden" name="token" value="{esc(token)}">'
    if state.subscribed.get(state.channel, True):
        parts.append(
            f"<h2>{esc(t('unsubscribe_question', channel=channel_name))}</h2>"
            f'<form method="post">{hidden}<input type="hidden" name="channel" value="{esc(state.channel)}">'
            f'<button type="submit" name="action" value="unsubscribe">{esc(t("unsubscribe_button"))}</button></form>'
        )
    elif not notice:
        parts.append(f'<p class="notice" role="status">{esc(t("already_unsubscribed", channel=channel_name))}</p>')
    boxes = []
    for channel in state.channels:
        checked = " checked" if state.subscribed.get(channel, True) else ""
        boxes.append(
            f'<input type="hidden" name="shown" value="{esc(channel)}">'
            f'<label><input type="checkbox" name="subscribed" value="{esc(channel)}"{checked}> '
            f"{esc(t(f'label.{channel}'))}</label>"
        )
    parts.append(
        f"<h2>{esc(t('preferences_heading'))}</h2>"
        f'<form method="post">{hidden}<fieldset><legend>{esc(t("preferences_legend"))}</legend>'
        + "".join(boxes)
        + f'</fieldset><button type="submit" class="secondary" name="action" value="save">'
        f"{esc(t('save_button'))}</button></form>"
    )
    parts.append(f'<p class="note">{esc(t("transactional_note"))}</p>')
    return "".join(parts)


def _respond(state: Preferences, token: str, *, notice: str | None = None, error: str | None = None, status=200):
    return _page(state.lang, i18n.text(state.lang, "title"), render(state, token, notice=notice, error=error), status)


def _valid(services: Services, public_id: str, signature: str) -> bool:
    return plausible_id(public_id) and _signer(services).verify("u/" + public_id, signature)


@get("/t/u/{public_id:str}/{signature:str}", include_in_schema=False, sync_to_thread=True)
def preference_page(
    request: Request, services: ServicesDep, public_id: FromPath[str], signature: FromPath[str]
) -> Response:
    """Read only: shows the page, changes nothing."""
    if not _valid(services, public_id, signature):
        return not_found_page()
    state = actions.preferences(services, public_id, request.headers.get("accept-language"))
    if state is None:
        return not_found_page()
    return _respond(state, _signer(services).form_token(public_id))


async def _form(request: Request) -> dict[str, list[str]] | None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        return None
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return None
    try:
        form = await request.form()
    except Exception:  # malformed multipart / encoding: treated as an empty form
        return {}
    out: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            continue
        out.setdefault(str(key), []).append(str(value))
    return out


@post("/t/u/{public_id:str}/{signature:str}", include_in_schema=False, status_code=200)
async def preference_post(
    request: Request, services: ServicesDep, public_id: FromPath[str], signature: FromPath[str]
) -> Response:
    if not _valid(services, public_id, signature):
        return not_found_page()
    form = await _form(request)
    if form is None:
        return _page("en", "Too large", "<h1>The form is too large</h1>", 413)
    accept_language = request.headers.get("accept-language")
    signer = _signer(services)
    token = signer.form_token(public_id)
    if form.get("List-Unsubscribe") == ["One-Click"]:
        # RFC 8058: the POST itself is the request; the message's channel is unsubscribed at once.
        state = await anyio.to_thread.run_sync(
            partial(actions.set_preferences, services, public_id, None, "one_click", accept_language)
        )
        if state is None:
            return not_found_page()
        return _respond(state, token, notice=i18n.text(state.lang, "done_unsubscribed", channel=_name(state)))

    sent_token = (form.get("token") or [""])[0]
    if not signer.verify("p/" + public_id, sent_token):
        state = await anyio.to_thread.run_sync(partial(actions.preferences, services, public_id, accept_language))
        if state is None:
            return not_found_page()
        return _respond(state, token, error=i18n.text(state.lang, "bad_form"), status=400)

    action = (form.get("action") or ["save"])[0]
    wanted: dict[str, bool] | None = None  # unsubscribe: the message's channel
    if action != "unsubscribe":
        checked = set(form.get("subscribed", []))
        wanted = {c: c in checked for c in form.get("shown", []) if c in i18n.CHANNELS}
    state = await anyio.to_thread.run_sync(
        partial(actions.set_preferences, services, public_id, wanted, "preferences", accept_language)
    )
    if state is None:
        return not_found_page()
    if state.test:
        notice = None
    elif action == "unsubscribe":
        notice = i18n.text(state.lang, "done_unsubscribed", channel=_name(state))
    else:
        notice = i18n.text(state.lang, "done_saved")
    return _respond(state, token, notice=notice)


def _name(state: Preferences) -> str:
    return i18n.text(state.lang, f"channel.{state.channel}")


PUBLIC_HANDLERS.append(
    Router(
        path="/",
        route_handlers=[preference_page, preference_post],
        include_in_schema=False,
        exception_handlers=TRACKING_EXCEPTION_HANDLERS,
    )
)
