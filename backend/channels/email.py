"""Email over SMTP (aiosmtplib).

* TLS: ``none``, ``starttls`` (required), ``ssl`` (implicit TLS, port 465) or ``auto`` (STARTTLS when
  the server offers it); optional AUTH; a default sender.
* Connections are reused across the messages of a dispatch run: a small pool of up to
  ``concurrency`` connections, each carrying messages one after another (MAIL/RCPT/DATA, then the
  next message on the same connection). A reused connection the server has meanwhile closed is
  reopened transparently before anything was sent.
* ``Message-ID`` is derived from the outbox idempotency key, so a message that is ever resent (an
  operator retrying an ``unknown`` one) carries the same id and receivers can fold duplicates.
* Failures are classified: 5xx replies are permanent, 4xx replies and network problems are retried.
* A workspace's own SMTP provider (``allow_private=False``) is checked like a webhook: its host must
  resolve to public addresses only, and the connection goes to the address that was checked, so an
  owner cannot use "Test connection" or sending to probe the server's private network. The process's
  own ``WAYMARK_SMTP_URL`` and the dev inbox are the operator's and may be local.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import email.utils
import functools
import re
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from backend.channels.base import OutgoingMessage, Provider, SendResult, stable_id
from backend.channels.http import BlockedTarget, resolve_public

TLS_MODES = ("none", "starttls", "ssl", "auto")
DEFAULT_PORTS = {"none": 25, "auto": 25, "starttls": 587, "ssl": 465}
DEFAULT_SENDER = "Waymark <waymark@localhost>"


class SmtpConfigError(ValueError):
    pass


@dataclass
class SmtpConfig:
    host: str
    port: int = 25
    tls: str = "auto"
    username: str | None = None
    password: str | None = None
    sender: str = DEFAULT_SENDER
    """Default ``From`` (``Name <address>``) when a template names no sender."""
    envelope_from: str | None = None
    """``MAIL FROM`` (bounce address); default: the From address."""
    timeout: float = 30.0
    validate_certs: bool = True
    concurrency: int = 4
    local_hostname: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """``smtp://user:pass@host:port?tls=starttls|ssl|none&from=Name <addr>`` (``smtps://`` = ssl).

        Extra query parameters: ``timeout``, ``verify=0``, ``concurrency``, ``envelope_from``."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise SmtpConfigError(f"an SMTP URL starts with smtp:// or smtps://, not {parts.scheme!r}")
        if not parts.hostname:
            raise SmtpConfigError("the SMTP URL has no host")
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        tls = query.get("tls") or ("ssl" if parts.scheme == "smtps" else "auto")
        return cls.from_dict(
            {
                "host": parts.hostname,
                "port": parts.port,
                "tls": tls,
                "username": unquote(parts.username) if parts.username else None,
                "password": unquote(parts.password) if parts.password else None,
                "from": query.get("from"),
                "envelope_from": query.get("envelope_from"),
                "timeout": query.get("timeout"),
                "validate_certs": query.get("verify", "1") not in ("0", "false", "no"),
                "concurrency": query.get("concurrency"),
            }
        )

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> SmtpConfig:
        """A provider row's config: ``{host, port, tls, username, password, from, …}`` or ``{url}``."""
        if config.get("url"):
            return cls.from_url(config["url"])
        tls = (config.get("tls") or "auto").lower()
        if tls in ("implicit", "smtps"):
            tls = "ssl"
        if tls not in TLS_MODES:
            raise SmtpConfigError(f"tls must be one of {', '.join(TLS_MODES)}, not {tls!r}")
        host = config.get("host")
        if not host:
            raise SmtpConfigError("an SMTP provider needs a host")
        return cls(
            host=host,
            port=int(config.get("port") or DEFAULT_PORTS[tls]),
            tls=tls,
            username=config.get("username") or None,
            password=config.get("password") or None,
            sender=config.get("from") or config.get("sender") or DEFAULT_SENDER,
            envelope_from=config.get("envelope_from") or None,
            timeout=float(config.get("timeout") or 30.0),
            validate_certs=config.get("validate_certs", True) is not False,
            concurrency=max(1, min(int(config.get("concurrency") or 4), 32)),
            local_hostname=config.get("local_hostname") or None,
        )


def _one_line(value: str) -> str:
    return " ".join(str(value).split())


@functools.lru_cache(maxsize=256)
def _domain(address: str) -> str:
    """The sender's domain for Message-IDs (cached: a run sends thousands of messages from one sender)."""
    _, addr = email.utils.parseaddr(address)
    return addr.rpartition("@")[2] or "waymark.localhost"


def message_id(workspace_id: int, idempotency_key: str, sender: str) -> str:
    return f"<wm.{stable_id(workspace_id, idempotency_key)}@{_domain(sender)}>"


_HEADER_NAME = re.compile(r"^[!-9;-~]+$")


def _header(name: str, value: str, utf8: bool) -> bytes:
    """One header line; non-ASCII values as RFC 2047 encoded words (raw UTF-8 under SMTPUTF8)."""
    value = _one_line(value)
    if value.isascii() and len(value) < 900:
        return f"{name}: {value}\r\n".encode()
    if utf8:
        return f"{name}: {value}\r\n".encode()
    if name in ("From", "To", "Reply-To", "Sender"):
        display, addr = email.utils.parseaddr(value)
        encoded = email.utils.formataddr((display, addr), charset="utf-8") if addr else value
    else:
        encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}\r\n".encode()


def _qp(text: str) -> bytes:
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode()
    return binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")


def build_email(
    message: OutgoingMessage, sender: str, now: datetime | None = None, *, utf8: bool = False
) -> tuple[bytes, str, str]:
    """The message as bytes (``multipart/alternative``: text, then HTML; quoted-printable UTF-8), its
    Message-ID and its From header.

    Built by hand: the standard library's ``EmailMessage`` spent ~4 ms per message in header
    parsing and folding, several times the cost of rendering and sending it."""
    content = message.content
    from_header = _one_line(content.get("sender") or sender)
    mid = message_id(message.workspace_id, message.idempotency_key, from_header)
    headers = [
        _header("From", from_header, utf8),
        _header("To", str(message.to), utf8),
        _header("Subject", content.get("subject") or "", utf8),
        _header("Date", email.utils.format_datetime(now or datetime.now(UTC)), utf8),
        _header("Message-ID", mid, utf8),
        b"MIME-Version: 1.0\r\n",
    ]
    # List-Unsubscribe / List-Unsubscribe-Post (RFC 8058) come with tracking; they arrive here through
    # ``message.headers`` like any other extra header.
    for name, value in message.headers.items():
        if not _HEADER_NAME.match(name) or name.lower() in _RESERVED:
            raise ValueError(f"not an allowed header name: {name!r}")
        headers.append(_header(name, value, utf8))
    text = _qp(content.get("text") or "")
    html = content.get("html")
    if not html:
        body = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + text
    else:
        boundary = f"=_wm_{stable_id(message.workspace_id, message.idempotency_key)[:24]}".encode()
        body = b"".join(
            (
                b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n\r\n',
                b"--" + boundary + b"\r\n",
                b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
                text,
                b"\r\n--" + boundary + b"\r\n",
                b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
                _qp(html),
                b"\r\n--" + boundary + b"--\r\n",
            )
        )
    return b"".join(headers) + body, mid, from_header


_RESERVED = frozenset({"from", "to", "subject", "date", "message-id", "mime-version", "content-type", "bcc", "cc"})


def classify(exc: BaseException) -> SendResult:
    """SMTP error → retry or permanent failure."""
    if isinstance(exc, BlockedTarget):
        return SendResult.failed(str(exc))
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return SendResult.retry(f"SMTP authentication failed ({exc.code} {exc.message}); check the provider settings")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        text = f"{exc.code} {exc.message}"
        if 500 <= exc.code < 600:
            result = SendResult.failed(text)
            if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
                # The address itself was refused for good: a hard bounce (email_bounced, consent withdrawn).
                result.bounce = "hard"
            return result
        return SendResult.retry(text)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return SendResult.retry(f"SMTP server does not support a required feature: {exc}")
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return SendResult.retry(f"SMTP timeout: {exc}")
    if isinstance(exc, OSError | aiosmtplib.SMTPException | ssl.SSLError):
        return SendResult.retry(f"SMTP connection problem: {exc or type(exc).__name__}")
    return SendResult.retry(f"{type(exc).__name__}: {exc}")


class SmtpProvider(Provider):
    channel = "email"
    kind = "smtp"

    def __init__(self, config: SmtpConfig, *, allow_private: bool = True) -> None:
        self.config = config
        self.allow_private = allow_private
        self.concurrency = config.concurrency
        self._idle: list[aiosmtplib.SMTP] = []
        self._open: set[aiosmtplib.SMTP] = set()
        self._addresses: dict[str, str] = {}
        self.connections_opened = 0
        """How many SMTP connections this provider opened (tests prove reuse with it)."""

    @classmethod
    def from_url(cls, url: str) -> SmtpProvider:
        return cls(SmtpConfig.from_url(url))

    async def _pinned_socket(self) -> socket.socket:
        """A socket connected to a public address of the host (checked first; see the module doc)."""
        cfg = self.config
        address = (await resolve_public(cfg.host, cfg.port, "WAYMARK_ALLOW_PRIVATE_SMTP"))[0]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (address, cfg.port)), cfg.timeout)
        except BaseException:
            sock.close()
            raise
        return sock

    async def _connect(self) -> aiosmtplib.SMTP:
        cfg = self.config
        sock = None if self.allow_private else await self._pinned_socket()
        client = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port if sock is None else None,
            sock=sock,
            use_tls=cfg.tls == "ssl",
            start_tls={"starttls": True, "none": False, "ssl": False, "auto": None}[cfg.tls],
            username=cfg.username,
            password=cfg.password,
            timeout=cfg.timeout,
            validate_certs=cfg.validate_certs,
            local_hostname=cfg.local_hostname,
        )
        await client.connect()
        self.connections_opened += 1
        self._open.add(client)
        return client

    def _address(self, header: str) -> str:
        """The bare address of a From header (cached: nearly every message has the same sender)."""
        address = self._addresses.get(header)
        if address is None:
            address = email.utils.parseaddr(header)[1]
            if len(self._addresses) < 1000:
                self._addresses[header] = address
        return address

    async def _acquire(self) -> tuple[aiosmtplib.SMTP, bool]:
        """A connection and whether it was reused from the pool."""
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client, True
            self._open.discard(client)
        return await self._connect(), False

    def _release(self, client: aiosmtplib.SMTP) -> None:
        if client.is_connected:
            self._idle.append(client)
        else:
            self._open.discard(client)

    def _drop(self, client: aiosmtplib.SMTP) -> None:
        self._open.discard(client)
        with contextlib.suppress(Exception):
            client.close()

    async def send(self, message: OutgoingMessage) -> SendResult:
        result = await self.send_when(message, None)
        assert result is not None
        return result

    async def send_when(
        self, message: OutgoingMessage, ready: Callable[[], Awaitable[bool]] | None
    ) -> SendResult | None:
        """``send``, awaiting ``ready()`` just before ``DATA`` — the moment the message is handed over —
        so the dispatcher's commit of "this one is being sent" overlaps ``MAIL FROM`` / ``RCPT TO``.
        ``ready()`` answering ``False`` (another worker took the message over) aborts with ``RSET``
        and returns ``None``: nothing was handed over."""
        to = str(message.to or "")
        if "@" not in to:
            return SendResult.failed(f"not an email address: {to!r}")
        try:
            from_header = _one_line(message.content.get("sender") or self.config.sender)
            envelope_from = self.config.envelope_from or self._address(from_header)
            utf8 = not (to.isascii() and envelope_from.isascii())
            data, mid, _ = build_email(message, self.config.sender, utf8=utf8)
        except (ValueError, TypeError) as exc:
            return SendResult.failed(f"cannot build the message: {exc}")
        encoding = "utf-8" if utf8 else "ascii"
        client: aiosmtplib.SMTP | None = None
        try:
            while True:
                client, reused = await self._acquire()
                try:
                    if utf8 and not client.supports_extension("smtputf8"):
                        self._release(client)
                        return SendResult.failed("the address is not ASCII and the server does not offer SMTPUTF8")
                    await client.mail(envelope_from, options=["SMTPUTF8"] if utf8 else [], encoding=encoding)
                    break
                except aiosmtplib.SMTPServerDisconnected:
                    # A pooled connection the server closed while it sat idle: nothing was sent yet,
                    # so open a fresh one and start again.
                    self._drop(client)
                    client = None
                    if not reused:
                        raise
            await client.rcpt(to, encoding=encoding)
            if ready is not None and not await ready():
                await client.rset()
                self._release(client)
                return None
            await client.data(data)
        except asyncio.CancelledError:
            if client is not None:
                self._drop(client)
            raise
        except Exception as exc:
            result = classify(exc)
            if client is not None:
                if isinstance(exc, aiosmtplib.SMTPResponseException) and client.is_connected:
                    try:  # keep the connection usable for the next message
                        await client.rset()
                        self._release(client)
                    except Exception:
                        self._drop(client)
                else:
                    self._drop(client)
            return result
        self._release(client)
        return SendResult.sent(mid)

    async def close(self) -> None:
        clients = list(self._open)
        self._idle.clear()
        self._open.clear()
        for client in clients:
            try:
                if client.is_connected:
                    await asyncio.wait_for(client.quit(), timeout=5)
            except Exception:
                client.close()
