"""Signed, unguessable tracking links.

Every message handed to a provider gets a ``public_id`` (128 random bits, URL-safe). Its tracking URLs
carry an HMAC-SHA256 signature over what they name, keyed with a key derived from the instance's
``secret_key``, truncated to 96 bits and base64url-encoded (16 characters):

* ``/t/o/{public_id}/{sig("o/" + public_id)}`` — the open pixel;
* ``/t/c/{public_id}/{index}/{sig("c/" + public_id + "/" + index)}`` — the ``index``-th tracked link;
* ``/t/u/{public_id}/{sig("u/" + public_id)}`` — unsubscribe / preferences (GET shows the page, POST
  with ``List-Unsubscribe=One-Click`` unsubscribes at once, RFC 8058);
* the preference form carries ``token = sig("p/" + public_id)``.

A click URL names a link *index*, never a URL: the original URLs are stored on the outbox row when the
message is sent (``outbox.links``), so a recipient cannot point a Waymark link anywhere else (no open
redirect), and signatures are checked in constant time before the database is touched.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import secrets
from functools import lru_cache

SIGNATURE_BYTES = 12
"""96 bits: forging one link means guessing 2**96 values, online, one HTTP request each."""
SIGNATURE_LENGTH = 16
_KEY_PURPOSE = b"waymark/tracking-links/v1"
_BLOCK = 64  # SHA-256 block size
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def new_public_id() -> str:
    """128 random bits, base64url (22 characters)."""
    return secrets.token_urlsafe(16)


def plausible_id(value: str) -> bool:
    """Shape check before anything else (a cheap 404 for junk)."""
    return 16 <= len(value) <= 40 and value.isascii() and all(c.isalnum() or c in "-_" for c in value)


class Signer:
    """HMAC-SHA256 (RFC 2104) with the inner and outer hash states computed once: a signature costs two
    SHA-256 state copies instead of a fresh keyed HMAC context per link (~1 µs instead of ~5 µs with
    OpenSSL 3), which matters at a dozen links per email and a thousand emails per second."""

    def __init__(self, secret_key: str) -> None:
        # A key of its own for tracking links, so a signature made here can never be mistaken for one made
        # with the same secret elsewhere (sessions, …).
        key = hmac.digest(secret_key.encode(), _KEY_PURPOSE, "sha256")
        block = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
        self.key = key

    def mac(self, data: bytes) -> bytes:
        """HMAC-SHA256 of ``data`` under :attr:`key` (equal to ``hmac.digest(self.key, data, "sha256")``)."""
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def sign(self, text: str) -> str:
        mac = self.mac(text.encode())[:SIGNATURE_BYTES]
        return binascii.b2a_base64(mac, newline=False).translate(_URLSAFE).decode()  # 16 characters

    def verify(self, text: str, signature: str) -> bool:
        """Constant-time comparison (the length and character set are not secret)."""
        if len(signature) != SIGNATURE_LENGTH or not signature.isascii():
            return False
        return hmac.compare_digest(self.sign(text).encode(), signature.encode())

    # The signed texts, in one place.

    def open_sig(self, public_id: str) -> str:
        return self.sign("o/" + public_id)

    def click_sig(self, public_id: str, index: int) -> str:
        return self.sign(f"c/{public_id}/{index}")

    def unsubscribe_sig(self, public_id: str) -> str:
        return self.sign("u/" + public_id)

    def form_token(self, public_id: str) -> str:
        return self.sign("p/" + public_id)


@lru_cache(maxsize=8)
def signer_for(secret_key: str) -> Signer:
    return Signer(secret_key)
