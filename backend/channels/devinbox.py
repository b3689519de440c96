"""The development inbox: a local SMTP server (aiosmtpd) that keeps every message as a file.

``waymark run`` starts it when no SMTP server is configured, so the demo journey's email can be
read in ``var/mail/<timestamp>-<id>.eml`` (open it with any mail client, or ``cat`` it). It accepts
mail for any address and relays nothing. It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import socket
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path

log = logging.getLogger("waymark.devinbox")

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_counter = itertools.count(1)


class _Handler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server, session, envelope) -> str:
        content: bytes = envelope.original_content or envelope.content
        try:
            mid = message_from_bytes(content, policy=policy.default).get("Message-ID", "") or ""
        except Exception:
            mid = ""
        ident = _SAFE.sub("", mid.strip("<>").split("@")[0])[:40] or f"{os.getpid()}-{next(_counter)}"
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"{time.time() % 1:.6f}"[1:]
        path = self.directory / f"{stamp}-{ident}.eml"
        tmp = path.with_suffix(".tmp")
        envelope_header = (
            f"X-Waymark-Envelope-From: {envelope.mail_from}\r\n"
            f"X-Waymark-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        tmp.write_bytes(envelope_header + content)
        tmp.replace(path)
        log.info("dev inbox: stored mail to %s in %s", ", ".join(envelope.rcpt_tos), path)
        return "250 2.0.0 OK: stored in the dev inbox"


@dataclass
class DevInbox:
    host: str
    port: int
    directory: Path
    _controller: object

    @property
    def smtp_url(self) -> str:
        return f"smtp://{self.host}:{self.port}?tls=none"

    def messages(self) -> list[Path]:
        """Stored messages, oldest first."""
        return sorted(self.directory.glob("*.eml"))

    def stop(self) -> None:
        controller = self._controller
        if controller is not None:
            controller.stop()  # type: ignore[attr-defined]
            self._controller = None


def start_dev_inbox(settings, *, host: str = "127.0.0.1", port: int | None = None) -> DevInbox:
    """Start the inbox on ``settings.dev_inbox_port`` (in a background thread); ``.stop()`` ends it.

    Raises ``OSError`` when the port is taken (another Waymark running?)."""
    from aiosmtpd.controller import Controller

    directory = Path(settings.var_dir) / "mail"
    directory.mkdir(parents=True, exist_ok=True)
    port = settings.dev_inbox_port if port is None else port
    with socket.socket() as probe:  # fail fast: aiosmtpd would only notice after its ready timeout
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(f"cannot start the dev inbox on {host}:{port}: {exc.strerror or exc}") from exc
    controller = Controller(
        _Handler(directory),
        hostname=host,
        port=port,
        server_hostname="waymark-dev-inbox",
        ready_timeout=10.0,
        data_size_limit=25 * 1024 * 1024,
    )
    try:
        controller.start()
    except Exception as exc:
        raise OSError(f"cannot start the dev inbox on {host}:{port}: {exc}") from exc
    log.info("dev inbox listening on %s:%s, storing mail in %s", host, port, directory)
    return DevInbox(host, port, directory, controller)


def dev_inbox_url(settings) -> str:
    """Where the dispatcher sends email when no SMTP server is configured."""
    return f"smtp://127.0.0.1:{settings.dev_inbox_port}?tls=none"


def dev_inbox_wanted(settings) -> bool:
    """Whether ``waymark run`` should start the dev inbox: it is on and no SMTP server is configured."""
    return bool(settings.dev_inbox) and not settings.smtp_url
