"""Write the API's OpenAPI document (what ``/schema/openapi.json`` serves) to a file: ``make api-types``
generates the SPA's TypeScript types (frontend/src/api/schema.gen.ts) from it, and ``make lint`` fails
when the committed types are not those of the current document.

    python scripts/openapi.py var/openapi.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.api.app import create_app
from backend.config import load_settings
from backend.db.session import make_engine
from backend.services import Services


def document() -> str:
    with tempfile.TemporaryDirectory() as var:
        settings = load_settings(secret_key="s" * 32, var_dir=var, dev_inbox=False)
        app = create_app(Services.create(settings, engine=make_engine("sqlite://")))
        with _client(app) as client:
            schema = client.get("/schema/openapi.json").json()
    return json.dumps(schema, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _client(app):
    from litestar.testing import TestClient

    return TestClient(app)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path)
    args = parser.parse_args()
    args.path.parent.mkdir(parents=True, exist_ok=True)
    args.path.write_text(document())


if __name__ == "__main__":
    main()
