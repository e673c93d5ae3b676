"""Reading a definition from YAML or JSON text, with errors that name the field and the line.

The text is parsed once into Python values plus a map from each value's path to its line, then normalised
(seed 000's ``authentication: {type, config}`` and seed 002's snake_case keys), then validated. Every
problem is reported with its dotted path and line: ``authenticationMethods.0.tokenUrl (line 12): Field
required``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from switchyard.core.errors import InvalidInput
from switchyard.core.manifest.schema import Definition

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.path or '<root>'}{where}: {self.message}"


class _LineLoader(yaml.SafeLoader):
    """A safe loader that also records the line of every mapping value and list item."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.lines: dict[Path, int] = {}

    def record(self, node: yaml.Node, path: Path) -> None:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    self.record(value_node, (*path, key_node.value))
                    self.lines[(*path, key_node.value)] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.record(item, (*path, index))


def parse(text: str, source: str = "<definition>") -> tuple[Any, dict[Path, int]]:
    """YAML (JSON is YAML) -> (value, line of each path)."""
    loader = _LineLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise _invalid(source, [Problem("", None, "the file is empty")])
        loader.record(node, ())
        value = loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise _invalid(source, [Problem("", line, f"not valid YAML or JSON: {problem}")]) from None
    finally:
        loader.dispose()
    return value, loader.lines


def normalise(document: Mapping[str, Any]) -> dict[str, Any]:
    """Fold seed 000's ``authentication: {type, config}`` into ``authenticationMethods``."""
    data = dict(document)
    legacy = data.pop("authentication", None)
    if legacy is not None:
        if not isinstance(legacy, Mapping) or "type" not in legacy:
            raise _invalid("<definition>", [Problem("authentication", None, "needs a type")])
        config = legacy.get("config") or {}
        if not isinstance(config, Mapping):
            raise _invalid("<definition>", [Problem("authentication.config", None, "must be a mapping")])
        methods = list(data.get("authenticationMethods") or data.get("authentication_methods") or [])
        methods.insert(0, {"type": legacy["type"], **config})
        data.pop("authentication_methods", None)
        data["authenticationMethods"] = methods
    return data


def _path_of(loc: tuple[int | str, ...]) -> Path:
    """Pydantic error locations, minus the discriminator tags it inserts for unions."""
    return tuple(part for part in loc if not (isinstance(part, str) and part.startswith("function-")))


def _line(lines: Mapping[Path, int], path: Path) -> int | None:
    candidates = [path]
    snake = tuple(_snake(p) if isinstance(p, str) else p for p in path)
    candidates.append(snake)
    if path and path[0] == "authenticationMethods":
        candidates.append(("authentication", "config", *path[2:]))
        candidates.append(("authentication",))
    for candidate in candidates:
        for length in range(len(candidate), -1, -1):
            if candidate[:length] in lines:
                return lines[candidate[:length]]
    return None


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def load(text: str, source: str = "<definition>") -> Definition:
    document, lines = parse(text, source)
    if not isinstance(document, Mapping):
        raise _invalid(source, [Problem("", 1, "a definition is a mapping of fields")])
    try:
        return Definition.model_validate(normalise(document))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path = _path_of(error["loc"])
            path = tuple(p for p in path if not (isinstance(p, str) and p in _AUTH_TAGS))
            dotted = ".".join(str(part) for part in path)
            problems.append(Problem(dotted, _line(lines, path), error["msg"]))
        raise _invalid(source, problems) from None


_AUTH_TAGS = {"oauth2", "oauth2_client_credentials", "oauth1", "api_key", "basic", "app_password"}


def _invalid(source: str, problems: list[Problem]) -> InvalidInput:
    listed = "; ".join(str(problem) for problem in problems[:20])
    return InvalidInput(
        f"{source} is not a valid connector definition: {listed}",
        code="connector.invalid_definition",
        remediation="Check the fields named above against the schema (switchyard connectors schema).",
        extra={"problems": [{"path": p.path, "line": p.line, "message": p.message} for p in problems]},
    )
