"""Tool names and input schemas that MCP clients and LLM tool APIs accept (pure: values in, values out).

Names. MCP, OpenAI (``function.name``) and Anthropic (``tools[].name``) all take ``^[a-zA-Z0-9_-]{1,64}$``.
A tool is named ``<integration key>_<action>``; any other character becomes ``_``. A second connection of
the same integration gets a suffix (``github_create_issue_k3v9qd``, see ``services/tools.py``). A name past
64 characters is cut to 55 and ends with ``_`` plus 8 hex digits of the SHA-256 of the full name, so two
long names stay distinct and the same input always gives the same name.

Schemas. An action's input is JSON Schema 2020-12; ``portable_schema`` returns a copy both providers take:

- Anthropic rejects an ``input_schema`` that is not ``type: object`` or that has ``oneOf``, ``allOf`` or
  ``anyOf`` at the top level ("input_schema does not support oneOf, allOf, or anyOf at the top level").
- OpenAI requires ``parameters`` to be an object schema ("schema must be a JSON Schema of 'type: "object"'")
  and, in strict mode, supports only a subset of keywords: no ``allOf``/``not``/``if``/``then``/``else``,
  ``dependentRequired``, ``dependentSchemas``, ``patternProperties``, ``unevaluated*``, ``contains``,
  ``prefixItems``; ``$ref`` only into the same document.

So: the top level is always ``{"type": "object", "properties": {...}}``; a top-level ``anyOf``/``oneOf``/
``allOf`` of object branches is merged into one object (``required`` keeps what every branch requires, or,
for ``allOf``, what any branch requires); a top-level ``enum``/``not``/``const`` is dropped; local ``$ref``s
are inlined (a cycle becomes ``{"type": "object"}``); ``$schema``, ``$id``, ``$defs`` and every keyword not
in ``KEPT`` are dropped; nested ``oneOf`` becomes ``anyOf`` and nested ``allOf`` is merged. Dropping a
constraint only widens what the model may send: the action still validates its input against the original
schema and answers ``action.invalid_input``.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping
from typing import Any, Protocol

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_NAME = 64
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
_HASH_DIGITS = 8

KEPT = frozenset(
    {
        "type", "description", "title", "properties", "required", "items", "enum", "const", "default",
        "additionalProperties", "anyOf", "format", "pattern", "minLength", "maxLength", "minimum",
        "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems",
        "uniqueItems", "minProperties", "maxProperties",
    }
)  # fmt: skip
TOP_FORBIDDEN = frozenset({"oneOf", "anyOf", "allOf", "enum", "not", "const", "if", "then", "else"})
_MAX_REF_DEPTH = 16


def _fit(name: str, limit: int) -> str:
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:_HASH_DIGITS]
    return f"{name[: limit - _HASH_DIGITS - 1]}_{digest}"


def tool_name(integration_key: str, action: str, *, suffix: str | None = None) -> str:
    """``<integration>_<action>`` (``_<suffix>`` appended when given), within the MCP/LLM name rules."""
    base = _UNSAFE.sub("_", f"{integration_key}_{action}") or "tool"
    if not suffix:
        return _fit(base, MAX_NAME)
    tail = "_" + _UNSAFE.sub("_", suffix)
    return _fit(base, MAX_NAME - len(tail)) + tail


class _Described(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def input_schema(self) -> dict[str, Any]: ...


def openai_function(tool: _Described) -> dict[str, Any]:
    """The tool as an OpenAI Chat Completions ``tools[]`` entry."""
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": portable_schema(tool.input_schema),
        },
    }


def anthropic_tool(tool: _Described) -> dict[str, Any]:
    """The tool as an Anthropic Messages ``tools[]`` entry."""
    return {
        "name": tool.name,
        "description": tool.description,
        "input_schema": portable_schema(tool.input_schema),
    }


def portable_schema(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """The schema rewritten to the subset OpenAI and Anthropic accept, an object at the top level."""
    if not isinstance(schema, Mapping):
        return {"type": "object", "properties": {}}
    root = dict(schema)
    cleaned = _clean(root, root, ())
    top = _top_object(cleaned)
    for keyword in TOP_FORBIDDEN:
        top.pop(keyword, None)
    top["type"] = "object"
    top.setdefault("properties", {})
    return top


def _resolve(root: Mapping[str, Any], ref: str) -> Any:
    if not ref.startswith("#"):
        return None
    node: Any = root
    for part in [p for p in ref[1:].split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _clean(node: Any, root: Mapping[str, Any], seen: tuple[str, ...]) -> dict[str, Any]:
    if node is True or not isinstance(node, Mapping):
        return {}
    if "$ref" in node:
        ref = str(node["$ref"])
        target = _resolve(root, ref)
        if target is None or ref in seen or len(seen) >= _MAX_REF_DEPTH:
            return {"type": "object"}
        merged = (
            {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            if isinstance(target, Mapping)
            else {}
        )
        return _clean(merged, root, (*seen, ref))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, Mapping):
            out[key] = {str(name): _clean(sub, root, seen) for name, sub in value.items()}
        elif key == "items" and isinstance(value, Mapping):
            out[key] = _clean(value, root, seen)
        elif key == "additionalProperties":
            out[key] = value if isinstance(value, bool) else _clean(value, root, seen)
        elif key in ("anyOf", "oneOf") and isinstance(value, list):
            out.setdefault("anyOf", []).extend(_clean(sub, root, seen) for sub in value)
        elif key == "allOf" and isinstance(value, list):
            out = _merge_all(out, [_clean(sub, root, seen) for sub in value])
        elif key == "required" and isinstance(value, list):
            out[key] = [str(v) for v in value]
        elif key in KEPT and key not in ("properties", "items", "anyOf", "required"):
            out[key] = copy.deepcopy(value)
    return out


def _merge_all(base: dict[str, Any], branches: list[dict[str, Any]]) -> dict[str, Any]:
    """``allOf`` folded into one schema: properties joined, every ``required`` kept, first value wins."""
    merged = dict(base)
    for branch in branches:
        for key, value in branch.items():
            if key == "properties":
                merged["properties"] = {**value, **merged.get("properties", {})}
            elif key == "required":
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            else:
                merged.setdefault(key, value)
    return merged


def _top_object(schema: dict[str, Any]) -> dict[str, Any]:
    """A top-level ``anyOf`` of object branches merged into one object; anything else left to the caller."""
    branches = schema.pop("anyOf", None)
    if not isinstance(branches, list) or not branches:
        return schema
    objects = [b for b in branches if b.get("type") in (None, "object")]
    if not objects:
        return schema
    properties: dict[str, Any] = dict(schema.get("properties", {}))
    for branch in objects:
        for name, sub in branch.get("properties", {}).items():
            properties.setdefault(name, sub)
    common = set(objects[0].get("required", []))
    for branch in objects[1:]:
        common &= set(branch.get("required", []))
    required = list(dict.fromkeys([*schema.get("required", []), *sorted(common)]))
    result = {**schema, "properties": properties}
    if required:
        result["required"] = required
    return result
