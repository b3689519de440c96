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

import base64
import hmac
import secrets
from functools import lru_cache

SIGNATURE_BYTES = 12
"""96 bits: forging one link means guessing 2**96 values, online, one HTTP request each."""
SIGNATURE_LENGTH = 16
PUBLIC_ID_LENGTH = 22
_KEY_PURPOSE = b"waymark/tracking-links/v1"


def new_public_id() -> str:
    """128 random bits, base64url (22 characters)."""
    return secrets.token_urlsafe(16)


def plausible_id(value: str) -> bool:
    """Shape check before anything else (a cheap 404 for junk)."""
    return 16 <= len(value) <= 40 and value.isascii() and all(c.isalnum() or c in "-_" for c in value)


class Signer:
    def __init__(self, secret_key: str) -> None:
        # A key of its own for tracking links, so a signature made here can never be mistaken for one made
        # with the same secret elsewhere (sessions, …).
        self._key = hmac.digest(secret_key.encode(), _KEY_PURPOSE, "sha256")

    def sign(self, text: str) -> str:
        mac = hmac.digest(self._key, text.encode(), "sha256")[:SIGNATURE_BYTES]
        return base64.urlsafe_b64encode(mac).decode()[:SIGNATURE_LENGTH]

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
