"""Public tracking routes (no auth; the signature is the credential): the open pixel
``/t/o/{public_id}/{signature}`` and click redirects ``/t/c/{public_id}/{index}/{signature}``. Importing
this module also registers the unsubscribe / preference page (backend/api/preferences.py) and the
provider notification endpoint ``POST /v1/bounces`` (backend/api/bounces.py).

A GET here changes nothing but the event it records. Unknown ids, bad signatures and links that were not
in the message answer 404 — never a redirect anywhere else, never a 500 (a database too busy to record
the event still gets the recipient their pixel or their page, and the loss is logged).
"""

from __future__ import annotations

from litestar import MediaType, Request, Response, Router, get
from litestar.params import FromPath

from backend.api import bounces as _bounces  # noqa: F401 - registers POST /v1/bounces
from backend.api import preferences as _preferences  # noqa: F401 - registers /t/u/…
from backend.api.app import PUBLIC_HANDLERS
from backend.api.deps import ServicesDep
from backend.api.preferences import TRACKING_EXCEPTION_HANDLERS, not_found_page
from backend.tracking import actions
from backend.tracking.links import PIXEL_GIF, redirect_location
from backend.tracking.signing import plausible_id, signer_for

NO_STORE = {
    "Cache-Control": "no-store, no-cache, must-revalidate, max-age=0, private",
    "Pragma": "no-cache",
    "X-Robots-Tag": "noindex, nofollow",
}
MAX_INDEX_DIGITS = 6


@get("/t/o/{public_id:str}/{signature:str}", include_in_schema=False, sync_to_thread=True)
def open_pixel(request: Request, services: ServicesDep, public_id: FromPath[str], signature: FromPath[str]) -> Response:
    signer = signer_for(services.settings.secret_key)
    if not (plausible_id(public_id) and signer.verify("o/" + public_id, signature)):
        return not_found_page()
    if not actions.open_message(services, public_id, request.headers.get("user-agent")):
        return not_found_page()
    return Response(PIXEL_GIF, media_type="image/gif", headers=NO_STORE)


@get("/t/c/{public_id:str}/{index:str}/{signature:str}", include_in_schema=False, sync_to_thread=True)
def click(
    request: Request,
    services: ServicesDep,
    public_id: FromPath[str],
    index: FromPath[str],
    signature: FromPath[str],
) -> Response:
    signer = signer_for(services.settings.secret_key)
    if not (index.isdecimal() and index.isascii() and len(index) <= MAX_INDEX_DIGITS and plausible_id(public_id)):
        return not_found_page()
    number = int(index)
    if str(number) != index or not signer.verify(f"c/{public_id}/{number}", signature):
        return not_found_page()
    url = actions.click_message(services, public_id, number, request.headers.get("user-agent"))
    if url is None:
        return not_found_page()
    return Response(
        b"",
        status_code=302,
        media_type=MediaType.TEXT,
        headers={**NO_STORE, "Location": redirect_location(url), "Referrer-Policy": "no-referrer"},
    )


PUBLIC_HANDLERS.append(
    Router(
        path="/",
        route_handlers=[open_pixel, click],
        include_in_schema=False,
        exception_handlers=TRACKING_EXCEPTION_HANDLERS,
    )
)
