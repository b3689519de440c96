"""A provider that accepts everything and delivers nothing: benchmarks and dry runs."""

from __future__ import annotations

from backend.channels.base import OutgoingMessage, Provider, SendResult, stable_id


class NullProvider(Provider):
    kind = "null"
    idempotent = True

    def __init__(self, channel: str = "email", concurrency: int = 64) -> None:
        self.channel = channel  # type: ignore[misc]
        self.concurrency = concurrency
        self.accepted = 0

    async def send(self, message: OutgoingMessage) -> SendResult:
        self.accepted += 1
        return SendResult.sent(f"null-{stable_id(message.workspace_id, message.idempotency_key)}")
