"""Real local HTTP servers implementing the provider APIs Waymark talks to, for tests: a Twilio-like
Messages API, a WeChat-like Official Account API (token endpoint + template send) and a Web Push
service. Each records every request (method, path, query, headers, body) so tests can check the exact
payloads, and answers like the real API does — including its errors, which tests queue up."""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)

    @property
    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, dict[str, str], bytes]


def reply_json(status: int, data: Any, headers: dict[str, str] | None = None) -> Reply:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(data).encode()


class FakeServer:
    """Override :meth:`handle`. ``calls`` lists every request; ``queued`` holds canned replies that
    :meth:`next_queued` hands out first."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.queued: list[Reply] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                call = Call(
                    self.command,
                    parts.path,
                    {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with server.lock:
                    server.calls.append(call)
                status, headers, payload = server.handle(call)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def next_queued(self) -> Reply | None:
        with self.lock:
            return self.queued.pop(0) if self.queued else None

    def handle(self, call: Call) -> Reply:
        raise NotImplementedError

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeTwilio(FakeServer):
    """``POST /2010-04-01/Accounts/{sid}/Messages.json`` (form: To, From | MessagingServiceSid, Body),
    ``GET /2010-04-01/Accounts/{sid}.json``; HTTP Basic auth ``sid:token``."""

    def __init__(self, account_sid: str = "AC123", auth_token: str = "tok-secret") -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sent = 0
        super().__init__()

    def _authorised(self, call: Call) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return call.headers.get("authorization") == expected

    def handle(self, call: Call) -> Reply:
        prefix = f"/2010-04-01/Accounts/{self.account_sid}"
        if not self._authorised(call):
            return reply_json(401, {"code": 20003, "message": "Authenticate", "status": 401})
        if call.method == "GET" and call.path == prefix + ".json":
            return reply_json(200, {"sid": self.account_sid, "friendly_name": "Acme SMS", "status": "active"})
        if call.method != "POST" or call.path != prefix + "/Messages.json":
            return reply_json(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
        queued = self.next_queued()
        if queued:
            return queued
        form = call.form
        if not form.get("To", "").startswith("+"):
            return reply_json(
                400, {"code": 21211, "message": f"The 'To' number {form.get('To')} is not a valid phone number."}
            )
        with self.lock:
            self.sent += 1
            sid = f"SM{self.sent:032d}"
        return reply_json(201, {"sid": sid, "status": "queued", "to": form["To"], "body": form.get("Body")})

    @property
    def messages(self) -> list[Call]:
        return [c for c in self.calls if c.method == "POST"]


class FakeWechat(FakeServer):
    """``GET /cgi-bin/token`` and ``POST /cgi-bin/message/template/send?access_token=``. Tokens are
    ``TOKEN-<n>``; a newer token does not revoke older ones unless :meth:`revoke_all` is called."""

    def __init__(self, appid: str = "wx123", secret: str = "wx-secret", expires_in: int = 7200) -> None:
        self.appid = appid
        self.secret = secret
        self.expires_in = expires_in
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.token_delay = 0.0
        self.send_errors: list[dict[str, Any]] = []
        super().__init__()

    @property
    def token_calls(self) -> list[Call]:
        return [c for c in self.calls if c.path == "/cgi-bin/token"]

    @property
    def sends(self) -> list[Call]:
        return [c for c in self.calls if c.path == "/cgi-bin/message/template/send"]

    def revoke_all(self) -> None:
        with self.lock:
            self.valid.clear()

    def handle(self, call: Call) -> Reply:
        if call.path == "/cgi-bin/token" and call.method == "GET":
            if self.token_delay:
                time.sleep(self.token_delay)
            q = call.query
            if q.get("grant_type") != "client_credential" or q.get("appid") != self.appid:
                return reply_json(200, {"errcode": 40013, "errmsg": "invalid appid"})
            if q.get("secret") != self.secret:
                return reply_json(200, {"errcode": 40125, "errmsg": "invalid appsecret"})
            with self.lock:
                token = f"TOKEN-{len(self.issued) + 1}"
                self.issued.append(token)
                self.valid.add(token)
            return reply_json(200, {"access_token": token, "expires_in": self.expires_in})
        if call.path == "/cgi-bin/message/template/send" and call.method == "POST":
            if call.query.get("access_token") not in self.valid:
                return reply_json(200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"})
            with self.lock:
                error = self.send_errors.pop(0) if self.send_errors else None
            if error:
                return reply_json(200, error)
            body = call.json
            if not body.get("touser") or not body.get("template_id"):
                return reply_json(200, {"errcode": 47001, "errmsg": "data format error"})
            return reply_json(200, {"errcode": 0, "errmsg": "ok", "msgid": 200228332 + len(self.sends)})
        return reply_json(404, {"errcode": -1, "errmsg": "not found"})


class FakePushService(FakeServer):
    """Accepts ``POST /push/<id>`` like a browser vendor's push service: 201 Created, or the status set
    for that id in ``statuses`` (404/410 for a gone subscription, 429 …)."""

    def __init__(self) -> None:
        self.statuses: dict[str, int] = {}
        super().__init__()

    def endpoint(self, name: str) -> str:
        return f"{self.base_url}/push/{name}"

    def handle(self, call: Call) -> Reply:
        if call.method != "POST" or not call.path.startswith("/push/"):
            return 404, {}, b""
        name = call.path.removeprefix("/push/")
        status = self.statuses.get(name, 201)
        headers = {"Location": f"{self.base_url}/message/{name}-{len(self.calls)}"} if status == 201 else {}
        if status == 429:
            headers["Retry-After"] = "120"
        return status, headers, b""


class Subscriber:
    """A browser's side of a Web Push subscription: its keys, and decryption of what arrives."""

    def __init__(self, endpoint: str) -> None:
        import os

        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        self.endpoint = endpoint
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.auth = os.urandom(16)
        self.subscription = {
            "endpoint": endpoint,
            "keys": {"p256dh": _b64(public), "auth": _b64(self.auth)},
        }

    def decrypt(self, body: bytes) -> Any:
        import http_ece

        return json.loads(
            http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm")
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
