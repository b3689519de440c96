"""``POST /v1/bounces``: delivery notifications from an email provider (write key, like ingestion).

The body is one notification or a JSON array of up to 500 (see backend/tracking/bounces.py and
docs/api.md, "Bounces and complaints")."""

from __future__ import annotations

from litestar import Controller, post
from litestar.params import JSONBody

from backend.api.app import INGEST_HANDLERS
from backend.api.deps import PrincipalDep, ServicesDep
from backend.api.errors import bad_request
from backend.tracking.bounces import MAX_NOTIFICATIONS, Notification, NotificationResult, process


class BounceController(Controller):
    path = "/"
    tags = ["ingestion"]

    @post(
        "/bounces",
        status_code=200,
        sync_to_thread=True,
        summary="Report bounces, spam complaints, deliveries and unsubscribes from your email provider",
        description=(
            "One notification or an array of up to 500. Each names the message by `message_id` (the "
            "Message-ID header Waymark sent) or the recipient by `email`. `hard` bounces, `complaint`s and "
            "`unsubscribe`s withdraw email consent. A notification `id` seen before is ignored. Always 200 "
            "for well-formed input; `matched` counts notifications that found a message or contact."
        ),
    )
    def bounces(
        self,
        data: JSONBody[Notification | list[Notification]],
        services: ServicesDep,
        principal: PrincipalDep,
    ) -> NotificationResult:
        items = data if isinstance(data, list) else [data]
        base = "" if isinstance(data, list) else None
        if len(items) > MAX_NOTIFICATIONS:
            raise bad_request("", f"at most {MAX_NOTIFICATIONS} notifications per request")
        for i, item in enumerate(items):
            if not (item.message_id or item.email):
                pointer = f"/{i}" if base is not None else ""
                raise bad_request(pointer, "name the message (message_id) or the recipient (email)")
        return process(services, principal.workspace_id, items)


INGEST_HANDLERS.append(BounceController)
