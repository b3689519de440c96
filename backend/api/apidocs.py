"""The API viewer at /schema: Swagger UI from the web app's build (dist/assets/api-docs/, copied there
from the swagger-ui-dist npm package by frontend/api-docs-assets.mjs), not from a CDN, so it works
offline and under the Content-Security-Policy (backend/api/headers.py: no inline script)."""

from __future__ import annotations

import hashlib
import html
from functools import cache
from pathlib import Path
from typing import Any

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin

from backend.api import spa

ASSETS_URL = "/assets/api-docs"
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "start.js")
FAVICON = (
    "<link rel=\"icon\" href=\"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E"
    "%3Crect width='32' height='32' rx='8' fill='%234f46e5'/%3E%3C/svg%3E\">"
)


def _dir() -> Path:
    return spa.SPA_DIR / "assets" / "api-docs"


@cache
def _version(path: Path) -> str:
    """A content hash for the URL: /assets is cached for a year, and these names carry no hash of their own."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.exists() else "missing"


def asset_url(file: str) -> str:
    return f"{ASSETS_URL}/{file}?v={_version(_dir() / file)}"


class LocalSwaggerPlugin(OpenAPIRenderPlugin):
    def __init__(self, *, path: str = "/", **kwargs: Any) -> None:
        super().__init__(path=path, favicon=FAVICON, style="", **kwargs)

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        title = html.escape(str(openapi_schema["info"]["title"]))
        if not (_dir() / "start.js").exists():
            return (
                f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head><body>'
                "<p>The API viewer comes with the web app, which is not built yet: run <code>make run</code> "
                '(or <code>npm run build -w frontend</code>). The document itself is at <a href="'
                f'{html.escape(self.get_openapi_json_route(request))}">openapi.json</a>.</p></body></html>'
            ).encode()
        return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
{self.favicon}
<link rel="stylesheet" href="{asset_url("swagger-ui.css")}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{asset_url("swagger-ui-bundle.js")}"></script>
<script src="{asset_url("start.js")}" data-url="{html.escape(self.get_openapi_json_route(request))}"></script>
</body>
</html>
""".encode()
