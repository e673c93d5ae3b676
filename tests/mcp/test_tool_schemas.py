"""Every catalog action's tool schema is valid JSON Schema 2020-12 and within OpenAI's and Anthropic's rules."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from switchyard.adapters.catalog_files import load_builtin_catalog
from switchyard.core.tool_schemas import (
    KEPT,
    NAME_PATTERN,
    TOP_FORBIDDEN,
    anthropic_tool,
    openai_function,
    portable_schema,
    tool_name,
)
from switchyard.services.tools import Tool

CATALOG = load_builtin_catalog()
ACTIONS = [(cid, action) for cid, definition in sorted(CATALOG.items()) for action in definition.actions]


def _keywords(schema: Any, found: set[str]) -> set[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            found.add(key)
            if key == "properties" and isinstance(value, dict):
                for sub in value.values():
                    _keywords(sub, found)
            elif key in ("items", "additionalProperties"):
                _keywords(value, found)
            elif key == "anyOf":
                for sub in value:
                    _keywords(sub, found)
    return found


def check_tool_rules(schema: dict[str, Any]) -> None:
    Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object" and isinstance(schema["properties"], dict)
    assert not TOP_FORBIDDEN & set(schema)
    assert _keywords(schema, set()) <= KEPT
    assert not {"$ref", "$defs", "$schema", "$id", "oneOf", "allOf", "not"} & _keywords(schema, set())


def test_the_catalog_has_actions() -> None:
    assert len(ACTIONS) > 20


@pytest.mark.parametrize(("connector", "action"), ACTIONS, ids=[f"{c}.{a.name}" for c, a in ACTIONS])
def test_every_catalog_action_schema_is_portable(connector: str, action: Any) -> None:
    Draft202012Validator.check_schema(action.input_schema)
    schema = portable_schema(action.input_schema)
    check_tool_rules(schema)
    name = tool_name(connector, action.name)
    assert NAME_PATTERN.match(name)
    tool = Tool(name, action.description, action.input_schema, "con_x", connector, connector, action.name)
    assert openai_function(tool)["function"]["parameters"] == schema
    assert anthropic_tool(tool)["input_schema"] == schema


def test_hard_schemas_are_rewritten() -> None:
    hard = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:x",
        "$defs": {"item": {"type": "object", "properties": {"id": {"type": "string"}}, "if": {}, "then": {}}},
        "oneOf": [
            {"type": "object", "properties": {"a": {"$ref": "#/$defs/item"}}, "required": ["a", "z"]},
            {
                "type": "object",
                "properties": {"b": {"type": "integer", "oneOf": [{"minimum": 1}]}},
                "required": ["z"],
            },
        ],
        "not": {"required": ["c"]},
        "enum": [1],
    }
    schema = portable_schema(hard)
    check_tool_rules(schema)
    assert schema["properties"]["a"] == {"type": "object", "properties": {"id": {"type": "string"}}}
    assert schema["required"] == ["z"]
    assert portable_schema(None) == {"type": "object", "properties": {}}
    cyclic = {"type": "object", "properties": {"next": {"$ref": "#"}}}
    check_tool_rules(portable_schema(cyclic))


def test_names_fit_the_rules() -> None:
    assert tool_name("github", "create_issue") == "github_create_issue"
    assert tool_name("my.int/egration", "x") == "my_int_egration_x"
    long = tool_name("i" * 60, "action_name")
    assert len(long) == 64 and NAME_PATTERN.match(long)
    assert long != tool_name("i" * 60, "action_namf")
    suffixed = tool_name("i" * 60, "a", suffix="abc123")
    assert len(suffixed) == 64 and suffixed.endswith("_abc123")
