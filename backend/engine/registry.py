"""The block registry: every block type, built-in or third-party, comes in through one entry-point group."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from backend.engine.sdk import BlockType

ENTRY_POINT_GROUP = "waymark.blocks"

log = logging.getLogger(__name__)


class Registry:
    def __init__(self, blocks: Iterable[BlockType] = ()) -> None:
        self._blocks: dict[str, dict[int, BlockType]] = {}
        for block in blocks:
            self.add(block)

    def add(self, block: BlockType) -> None:
        versions = self._blocks.setdefault(block.type, {})
        if block.version in versions:
            raise ValueError(f"block type {block.type!r} version {block.version} is registered twice")
        versions[block.version] = block

    def get(self, type_: str, version: int | None = None) -> BlockType | None:
        versions = self._blocks.get(type_)
        if not versions:
            return None
        if version is None:
            return versions[max(versions)]
        return versions.get(version)

    def versions(self, type_: str) -> list[int]:
        return sorted(self._blocks.get(type_, {}))

    def __iter__(self) -> Iterator[BlockType]:
        for versions in self._blocks.values():
            yield from versions.values()

    def __contains__(self, type_: str) -> bool:
        return type_ in self._blocks

    def describe(self, locale: str | None = None) -> list[dict[str, Any]]:
        """What the editor needs to draw the palette and render each block's form."""
        out = []
        for block in sorted(self, key=lambda b: (b.category, b.type, b.version)):
            tr = _translations_for(block, locale)
            schema = block.config_schema()
            _translate_titles(schema, tr)
            out.append(
                {
                    "type": block.type,
                    "version": block.version,
                    "label": tr.get("label", block.label),
                    "description": tr.get("description", block.description),
                    "icon": block.icon,
                    "category": block.category,
                    "ports": list(block.ports),
                    "dynamic_ports": type(block).output_ports is not BlockType.output_ports,
                    "ports_from": block.ports_from,
                    "ports_after": list(block.ports_after),
                    "trigger": block.trigger,
                    "pauses": block.pauses,
                    "config_schema": schema,
                    "latest": block.version == max(self.versions(block.type)),
                    # The block's own validation messages in this language, by their English wording.
                    "problems": {k[len("problem.") :]: v for k, v in tr.items() if k.startswith("problem.")},
                }
            )
        return out


def _translations_for(block: BlockType, locale: str | None) -> dict[str, str]:
    if not locale:
        return {}
    return block.translations.get(locale) or block.translations.get(locale.split("-")[0]) or {}


def _translate_titles(schema: Any, tr: dict[str, str]) -> None:
    """Translate titles and help texts everywhere in a schema (``$defs`` too): ``field.<name>`` keys by
    property name, ``text.<English>`` keys by the English wording."""
    if not tr:
        return
    if isinstance(schema, list):
        for item in schema:
            _translate_titles(item, tr)
        return
    if not isinstance(schema, dict):
        return
    for key in ("title", "description"):
        value = schema.get(key)
        if isinstance(value, str) and f"text.{value}" in tr:
            schema[key] = tr[f"text.{value}"]
    for name, prop in schema.get("properties", {}).items():
        if isinstance(prop, dict):
            if f"field.{name}" in tr:
                prop["title"] = tr[f"field.{name}"]
            if f"field.{name}.description" in tr:
                prop["description"] = tr[f"field.{name}.description"]
    for value in schema.values():
        if isinstance(value, dict | list):
            _translate_titles(value, tr)


def load_entry_points() -> Registry:
    """Build a registry from the installed ``waymark.blocks`` entry points.

    A broken third-party package is logged and skipped rather than taking the whole server down.
    """
    registry = Registry()
    # Built-ins first, so a third-party package can never shadow a built-in type by load order.
    eps = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: not ep.value.startswith("blocks."))
    for ep in eps:
        try:
            cls = ep.load()
            block = cls() if isinstance(cls, type) else cls
            if not isinstance(block, BlockType):
                raise TypeError(f"{ep.value} is not a BlockType")
            registry.add(block)
        except Exception:
            log.exception("could not load block type %s from %s", ep.name, ep.value)
    return registry


@cache
def default_registry() -> Registry:
    return load_entry_points()
