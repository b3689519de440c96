"""Delivery providers: email (SMTP), webhook, null, the dev inbox; see :mod:`backend.channels.base`."""

from backend.channels.base import OutgoingMessage, Provider, SendResult

__all__ = ["OutgoingMessage", "Provider", "SendResult"]
