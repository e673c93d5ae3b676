"""Reading the built-in catalog shipped inside the package (``switchyard/catalog/*.yaml``)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from switchyard.core.errors import ConfigurationError
from switchyard.core.manifest.loader import load
from switchyard.core.manifest.schema import Definition


def builtin_definition_files() -> dict[str, str]:
    """File name -> text, for every definition in the package's catalog."""
    folder = resources.files("switchyard.catalog")
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".yaml")
    }


@lru_cache(maxsize=1)
def load_builtin_catalog() -> dict[str, Definition]:
    """Parsed once per process; callers copy the mapping before changing it."""
    catalog: dict[str, Definition] = {}
    for file_name, text in builtin_definition_files().items():
        definition = load(text, f"catalog/{file_name}")
        if f"{definition.name}.yaml" != file_name:
            raise ConfigurationError(
                f"catalog/{file_name} defines {definition.name!r}; the file must be named after it",
                code="config.catalog_invalid",
            )
        catalog[definition.name] = definition
    return catalog
