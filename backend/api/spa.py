"""Serving the built web app: content-hashed assets cached for a year (gzipped for browsers that ask: the
JS is about a third of its size), every other page path answered with index.html so deep links
(``/journeys/42``) reload into the app."""

from __future__ import annotations

import os
from pathlib import Path

from litestar import MediaType, Response, Router, get
from litestar.config.compression import CompressionConfig
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.middleware import DefineMiddleware
from litestar.middleware.compression.middleware import CompressionMiddleware
from litestar.params import FromPath
from litestar.static_files import create_static_files_router

SPA_DIR = Path(os.environ.get("WAYMARK_SPA_DIR", Path(__file__).resolve().parents[2] / "frontend" / "dist"))
RESERVED_PREFIXES = ("api/", "v1/", "schema", "t/", "assets/")
# Only the assets: once per browser (they are cached for a year), and level 6 is within 1% of 9 for JS.
ASSET_COMPRESSION = CompressionConfig(backend="gzip", minimum_size=1024, gzip_compress_level=6)

NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>Waymark</title>
<body style="font-family: system-ui; margin: 4rem; max-width: 40rem">
<h1>The web app is not built yet</h1>
<p>Run <code>make run</code> (or <code>npm ci && npm run build -w frontend</code>) and reload.
The API is already up: see <a href="/schema">/schema</a>.</p></body>"""


@get(
    ["/", "/{path:path}"],
    include_in_schema=False,
    sync_to_thread=False,
    cache_control=CacheControlHeader(no_cache=True),
)
def spa_index(path: FromPath[str] = "") -> Response:
    if path.lstrip("/").startswith(RESERVED_PREFIXES):
        raise NotFoundException()
    index = SPA_DIR / "index.html"
    if not index.exists():
        return Response(NOT_BUILT, media_type=MediaType.HTML, status_code=503)
    return Response(index.read_bytes(), media_type=MediaType.HTML)


def spa_routers() -> list:
    assets = create_static_files_router(
        path="/assets",
        directories=[SPA_DIR / "assets"],
        cache_control=CacheControlHeader(max_age=365 * 24 * 3600, public=True),
        include_in_schema=False,
        name="spa-assets",
        middleware=[DefineMiddleware(CompressionMiddleware, config=ASSET_COMPRESSION)],
    )
    return [assets, Router(path="/", route_handlers=[spa_index], include_in_schema=False)]
