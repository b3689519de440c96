"""Parameter types for what the app injects into handlers by name (see ``create_app``)."""

from __future__ import annotations

from litestar.di import NamedDependency

from backend.api.auth import Principal
from backend.services import Services

ServicesDep = NamedDependency[Services]
PrincipalDep = NamedDependency[Principal]
