"""Security headers on every response: the SPA, the API, /schema, the tracking and preference pages.

The Content-Security-Policy lets pages run only the scripts they load from this server (the built SPA
and /schema's viewer have no inline script), so an injected ``<script>`` or ``onerror=`` does nothing.
Styles may be inline: React's ``style`` props, CodeMirror's and React Flow's injected rules and the
e-mail previews (``srcdoc`` frames inherit this policy) need them, and a style cannot run code. Images
may come from anywhere because e-mail previews show the template's own images. ``frame-ancestors
'none'`` (and ``X-Frame-Options`` for old browsers) stops other sites framing the app for clickjacking;
``nosniff`` stops a browser guessing that a JSON or text answer is HTML or script."""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob: https: http:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]
_NAMES = {name for name, _ in SECURITY_HEADERS}


def security_headers(app: ASGIApp) -> ASGIApp:
    """ASGI middleware factory (Litestar ``middleware=[...]``): adds :data:`SECURITY_HEADERS` to every
    HTTP response start unless the handler set one of them itself."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware
