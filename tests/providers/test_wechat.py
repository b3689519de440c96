"""WeChat Official Account template messages against a real local WeChat-like server: exact request
bodies, the access token shared across workers through the database (one fetch, refreshed early, no
stampede, invalidated and retried once on 40001), and errcode classification."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from backend.channels.base import stable_id
from backend.channels.tokens import TokenStore, forget_local
from backend.channels.wechat import WechatConfig, WechatProvider
from backend.db.models import ProviderToken
from backend.runtime.outbox import Dispatcher
from tests.factories import add_contact
from tests.providers.conftest import add_provider, consent_and_events, make_template, outbox_row, queue

DRAFT = {
    "wechat": {
        "template_id": "TPL-renewal",
        "fields": {
            "first": "{{ contact.first_name }},您的会员即将到期",
            "keyword1": "{{ subscription.name }}",
            "remark": "点击续费",
        },
        "url": "https://acme.test/renew?c={{ contact.id }}",
    }
}


def setup(services, workspace, wechat, draft=DRAFT, **contact):
    config = {"appid": wechat.appid, "secret": wechat.secret, "base_url": wechat.base_url}
    add_provider(services, workspace.id, "wechat", "wechat", config, rate_per_second=0)
    make_template(services, workspace.id, "renew", draft)
    contact.setdefault("wechat_openid", "oOPENID1")
    contact.setdefault("attributes", {"first_name": "王芳"})
    return add_contact(services.sessions, workspace.id, **contact)


def test_template_message_body_and_token(services, workspace, dispatcher, wechat):
    contact = setup(services, workspace, wechat)
    oid = queue(services, workspace.id, contact, "wechat", "renew")
    assert dispatcher.run_once() == 1

    (token_call,) = wechat.token_calls
    assert token_call.query == {"grant_type": "client_credential", "appid": "wx123", "secret": "wx-secret"}
    (send,) = wechat.sends
    assert send.query == {"access_token": "TOKEN-1"}
    assert send.headers["content-type"] == "application/json"
    assert send.json == {
        "touser": "oOPENID1",
        "template_id": "TPL-renewal",
        "url": f"https://acme.test/renew?c={contact}",
        "data": {
            "first": {"value": "王芳,您的会员即将到期"},
            "keyword1": {"value": ""},
            "remark": {"value": "点击续费"},
        },
        "client_msg_id": stable_id(workspace.id, f"enr:{contact}:renew:0"),
    }
    row = outbox_row(services.engine, oid)
    assert row["status"] == "sent" and row["provider_message_id"] == "200228333"


def test_miniprogram_link(services, workspace, dispatcher, wechat):
    draft = {
        "wechat": {
            "template_id": "TPL-1",
            "fields": {"keyword1": "x"},
            "miniprogram": {"appid": "wxMINI", "pagepath": "pages/order?id={{ contact.id }}"},
        }
    }
    contact = setup(services, workspace, wechat, draft)
    queue(services, workspace.id, contact, "wechat", "renew")
    dispatcher.run_once()
    (send,) = wechat.sends
    assert send.json["miniprogram"] == {"appid": "wxMINI", "pagepath": f"pages/order?id={contact}"}
    assert "url" not in send.json


def test_the_token_is_fetched_once_and_shared_by_workers(services, workspace, wechat):
    contact = setup(services, workspace, wechat)
    for n in range(3):
        queue(services, workspace.id, contact, "wechat", "renew", n=n)
        forget_local()  # every run as if in a fresh worker process: only the database is shared
        Dispatcher(services).run_once()
    assert len(wechat.token_calls) == 1
    assert [s.query["access_token"] for s in wechat.sends] == ["TOKEN-1"] * 3
    with services.engine.connect() as conn:
        (stored,) = conn.execute(sa.select(ProviderToken.__table__)).all()
    assert stored.token == "TOKEN-1" and stored.refreshing_until is None


def test_the_token_is_refreshed_early(services, workspace, wechat, clock):
    contact = setup(services, workspace, wechat)
    queue(services, workspace.id, contact, "wechat", "renew")
    Dispatcher(services).run_once()
    clock.advance(timedelta(seconds=7200 - 400))  # still valid, not yet in the 5-minute margin
    queue(services, workspace.id, contact, "wechat", "renew", n=1)
    Dispatcher(services).run_once()
    assert len(wechat.token_calls) == 1
    clock.advance(timedelta(seconds=200))  # 200 s left: refresh before it lapses
    queue(services, workspace.id, contact, "wechat", "renew", n=2)
    Dispatcher(services).run_once()
    assert len(wechat.token_calls) == 2
    assert [s.query["access_token"] for s in wechat.sends] == ["TOKEN-1", "TOKEN-1", "TOKEN-2"]


def test_a_rejected_token_is_invalidated_and_the_send_retried_once(services, workspace, wechat):
    contact = setup(services, workspace, wechat)
    queue(services, workspace.id, contact, "wechat", "renew")
    Dispatcher(services).run_once()
    wechat.revoke_all()  # e.g. someone fetched a token elsewhere with the same AppSecret
    oid = queue(services, workspace.id, contact, "wechat", "renew", n=1)
    Dispatcher(services).run_once()
    assert outbox_row(services.engine, oid)["status"] == "sent"
    assert len(wechat.token_calls) == 2
    assert [s.query["access_token"] for s in wechat.sends] == ["TOKEN-1", "TOKEN-1", "TOKEN-2"]


def test_concurrent_workers_do_not_stampede_the_token_endpoint(services, wechat, engine, clock):
    wechat.token_delay = 0.4
    provider_config = WechatConfig(appid=wechat.appid, secret=wechat.secret, base_url=wechat.base_url)
    tokens: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        async def run() -> str:
            provider = WechatProvider(provider_config, allow_private=True)
            provider.attach(engine, clock)
            try:
                return await provider.token()
            finally:
                await provider.close()

        try:
            tokens.append(asyncio.run(run()))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert tokens == ["TOKEN-1"] * 8
    assert len(wechat.token_calls) == 1


def test_a_stale_lease_of_a_dead_worker_is_taken_over(services, wechat, engine, clock):
    store = TokenStore(engine, clock)
    assert store._claim("k", False)[0] == "fetch"  # this worker then "dies" without fetching
    assert store._claim("k", False)[0] == "wait"
    clock.advance(timedelta(seconds=31))
    assert store._claim("k", False)[0] == "fetch"


@pytest.mark.parametrize(
    ("error", "status", "part"),
    [
        ({"errcode": 43004, "errmsg": "require subscribe"}, "failed", "does not follow"),
        ({"errcode": 40003, "errmsg": "invalid openid"}, "failed", "invalid openid"),
        ({"errcode": 43101, "errmsg": "user refuse to accept the msg"}, "failed", "refuses"),
        ({"errcode": 40037, "errmsg": "invalid template_id"}, "failed", "invalid template_id"),
        ({"errcode": -1, "errmsg": "system error"}, "pending", "busy"),
        ({"errcode": 45009, "errmsg": "reach max api daily quota limit"}, "pending", "limit"),
    ],
)
def test_errcodes_are_classified(services, workspace, dispatcher, wechat, error, status, part):
    contact = setup(services, workspace, wechat)
    wechat.send_errors.append(error)
    oid = queue(services, workspace.id, contact, "wechat", "renew")
    dispatcher.run_once()
    row = outbox_row(services.engine, oid)
    assert row["status"] == status
    assert str(error["errcode"]) in row["last_error"] and part in row["last_error"]
    consent, events = consent_and_events(services.engine, contact)
    refused = error["errcode"] == 43101  # the user refuses the account's messages: an opt-out
    assert consent.get("wechat", True) is not refused
    assert [props["channel"] for name, props in events if name == "unsubscribed"] == (["wechat"] if refused else [])


def test_wrong_app_secret_is_retried_and_named(services, workspace, dispatcher, wechat):
    config = {"appid": wechat.appid, "secret": "nope", "base_url": wechat.base_url}
    add_provider(services, workspace.id, "wechat", "wechat", config)
    make_template(services, workspace.id, "renew", DRAFT)
    contact = add_contact(services.sessions, workspace.id, wechat_openid="oOPENID1")
    oid = queue(services, workspace.id, contact, "wechat", "renew")
    dispatcher.run_once()
    row = outbox_row(services.engine, oid)
    assert row["status"] == "pending"
    assert "40125" in row["last_error"] and "invalid AppSecret" in row["last_error"]
    with services.engine.connect() as conn:
        assert conn.execute(sa.select(ProviderToken.refreshing_until)).scalar() is None  # lease released
