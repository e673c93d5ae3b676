"""Every catalog action is a usable tool: its input schema suits LLM tool lists, its examples are valid
input, and each example renders into a complete request.

Inputs that the request template needs are declared, and every declared input reaches the request.
``build_call`` does not fill JSON Schema defaults, so the runner applies the input schema's top-level
``default`` values first; ``_with_defaults`` does the same here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import jsonschema
import pytest

from switchyard.adapters.catalog_files import load_builtin_catalog
from switchyard.core.actions import build_call
from switchyard.core.manifest import templates
from switchyard.core.manifest.action_schema import Action
from switchyard.core.manifest.schema import Definition
from switchyard.services.action_io import with_defaults

CATALOG = load_builtin_catalog()
ACTIONS = [
    pytest.param(definition, action, id=f"{name}.{action.name}")
    for name, definition in sorted(CATALOG.items())
    for action in definition.actions
]
WITH_OUTPUT = [param for param in ACTIONS if param.values[1].output_schema is not None]  # type: ignore[union-attr]
HTTP_ACTIONS = [param for param in ACTIONS if param.values[1].request is not None]  # type: ignore[union-attr]
HTTP_MINIMUMS = {
    "github": 6, "slack": 4, "linear": 3, "notion": 3, "google-calendar": 3, "stripe": 3, "hubspot": 3,
    "openai": 2, "anthropic": 1, "firecrawl": 1,
}  # fmt: skip
NAMED = {
    "github": {"get_authenticated_user", "list_repositories", "get_repository", "list_issues", "create_issue",
               "create_issue_comment", "list_pull_requests", "search_code"},
    "slack": {"send_message", "list_channels", "get_user_info", "add_reaction"},
    "linear": {"list_issues", "create_issue", "get_viewer"},
    "notion": {"search", "get_page", "create_page"},
    "google-calendar": {"list_calendars", "list_events", "create_event"},
    "stripe": {"list_customers", "create_customer", "retrieve_balance", "create_payment_intent"},
    "hubspot": {"list_contacts", "create_contact", "search_contacts", "get_contact"},
    "openai": {"generate_text", "create_embeddings"},
    "anthropic": {"generate_text"},
    "firecrawl": {"scrape_url"},
    "postgresql": {"query", "list_tables"},
    "mysql": {"query", "list_tables"},
}  # fmt: skip
COMBINATORS = {"oneOf", "anyOf", "allOf", "enum", "not", "const"}


def _subschemas(schema: Any) -> Iterator[dict[str, Any]]:
    if isinstance(schema, dict):
        yield schema
        for value in schema.values():
            yield from _subschemas(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _subschemas(item)


def _properties(schema: dict[str, Any], where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every named property at any depth (in properties, items, additionalProperties), with its path."""
    for name, sub in schema.get("properties", {}).items():
        yield f"{where}{name}", sub
        yield from _properties(sub, f"{where}{name}.")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _properties(schema[key], f"{where}{key}.")


def _with_defaults(action: Action, example: dict[str, Any]) -> dict[str, Any]:
    return with_defaults(action.input_schema, example)


def _sample_config(definition: Definition) -> dict[str, str]:
    return {name: field.example or "example" for name, field in definition.connection_config.items()}


def _templates(action: Action) -> tuple[set[str], set[str]]:
    """(placeholders of the path, placeholders anywhere in the request)."""
    assert action.request is not None
    request = action.request
    texts = [request.path, *request.query.values(), *request.headers.values()]
    texts += list(_strings(request.body))
    return templates.placeholders(request.path), set().union(*(templates.placeholders(t) for t in texts))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@pytest.mark.parametrize(("definition", "action"), ACTIONS)
def test_input_schema_suits_tool_lists(definition: Definition, action: Action) -> None:
    schema = action.input_schema
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert isinstance(schema.get("properties"), dict), "declare properties, even when there are none"
    assert isinstance(schema.get("required"), list), "declare required, even when empty"
    assert set(schema["required"]) <= set(schema["properties"]), "required names a property that is not there"
    assert schema.get("additionalProperties") is False, "unknown inputs must be refused"
    assert not COMBINATORS & set(schema), "no oneOf/anyOf/allOf/enum/not/const at the top level"
    for sub in _subschemas(schema):
        assert None not in sub.values(), f"a null in {sub} (an unquoted comma in a YAML flow mapping?)"
        assert "$ref" not in sub, "tool schemas are self-contained"
        assert "format" not in sub, "format is not enforced by every validator; use pattern or describe it"
    for path, sub in _properties(schema):
        assert str(sub.get("description", "")).strip(), f"property {path} needs a description"
    assert "\n" not in action.description.strip() and len(action.description) <= 160, "one short line"


@pytest.mark.parametrize(("definition", "action"), ACTIONS)
def test_examples_are_valid_input(definition: Definition, action: Action) -> None:
    assert action.examples, "at least one example input"
    validator = jsonschema.Draft202012Validator(action.input_schema)
    for example in action.examples:
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(example)]
        assert not errors, (example, errors)


@pytest.mark.parametrize(("definition", "action"), WITH_OUTPUT)
def test_output_schema_is_valid(definition: Definition, action: Action) -> None:
    assert action.output_schema is not None
    jsonschema.Draft202012Validator.check_schema(action.output_schema)
    for sub in _subschemas(action.output_schema):
        assert None not in sub.values(), f"a null in {sub} (an unquoted comma in a YAML flow mapping?)"
        assert sub.get("additionalProperties") is not False, "output schemas stay permissive"


@pytest.mark.parametrize(("definition", "action"), HTTP_ACTIONS)
def test_request_inputs_are_declared_and_used(definition: Definition, action: Action) -> None:
    in_path, used = _templates(action)
    declared = set(action.input_schema["properties"])
    config = set(definition.connection_config)
    required = set(action.input_schema["required"])
    defaulted = {name for name, spec in action.input_schema["properties"].items() if "default" in spec}
    assert used - {"input"} <= declared | config, f"undeclared placeholders {used - declared - config}"
    assert in_path <= required | defaulted | config, f"path placeholders must be required: {in_path}"
    assert declared <= used or "input" in used, f"inputs that never reach the request: {declared - used}"


@pytest.mark.parametrize(("definition", "action"), HTTP_ACTIONS)
def test_examples_render_into_complete_requests(definition: Definition, action: Action) -> None:
    assert action.request is not None
    for example in action.examples:
        call = build_call(action, _with_defaults(action, example), _sample_config(definition))
        assert call.method == action.request.method
        assert call.path.startswith("/") and "{{" not in call.target()
        assert all("{{" not in value for _, value in call.headers)
        if call.body is None:
            continue
        content_type = dict((name.lower(), value) for name, value in call.headers)["content-type"]
        if action.request.body_format == "form":
            assert content_type == "application/x-www-form-urlencoded"
            assert all("{{" not in value for _, value in parse_qsl(call.body.decode("ascii")))
        else:
            assert content_type.startswith("application/json")
            body = json.loads(call.body)
            assert "{{" not in json.dumps(body)
            messages = body.get("messages", []) if isinstance(body, dict) else []
            assert all("content" in message for message in messages), "a chat message lost its content"


def test_the_named_actions_exist_in_the_required_numbers() -> None:
    for name, wanted in NAMED.items():
        present = {action.name for action in CATALOG[name].actions}
        assert wanted <= present, f"{name} lacks {wanted - present}"
    for name, minimum in HTTP_MINIMUMS.items():
        assert len(CATALOG[name].actions) >= minimum, name
    assert sum(len(CATALOG[name].actions) for name in HTTP_MINIMUMS) >= 30


@pytest.mark.parametrize("name", ["postgresql", "mysql"])
def test_database_actions_run_sql(name: str) -> None:
    definition = CATALOG[name]
    assert {(action.name, action.sql) for action in definition.actions} == {
        ("query", "query"),
        ("list_tables", "list_tables"),
    }
    query = definition.action("query")
    assert query is not None
    assert query.input_schema["required"] == ["sql"]
    assert query.input_schema["properties"]["max_rows"]["default"] == 1000
    assert all(action.is_idempotent() for action in definition.actions)


@pytest.mark.parametrize(
    ("connector", "action_name"),
    [("slack", "send_message"), ("slack", "add_reaction"), ("linear", "create_issue"),
     ("stripe", "create_customer"), ("openai", "generate_text")],
)  # fmt: skip
def test_writes_are_not_retried_blindly(connector: str, action_name: str) -> None:
    action = CATALOG[connector].action(action_name)
    assert action is not None and not action.is_idempotent()


@pytest.mark.parametrize(
    ("connector", "action_name"),
    [("linear", "list_issues"), ("linear", "get_viewer"), ("notion", "search"), ("hubspot", "search_contacts"),
     ("firecrawl", "scrape_url"), ("slack", "list_channels")],
)  # fmt: skip
def test_reads_sent_as_post_are_marked_idempotent(connector: str, action_name: str) -> None:
    action = CATALOG[connector].action(action_name)
    assert action is not None and action.is_idempotent()


def test_slack_actions_read_ok_and_error_and_send_json_with_a_charset() -> None:
    for action in CATALOG["slack"].actions:
        assert action.response.ok_path == "ok" and action.response.error_path == "error", action.name
    send = CATALOG["slack"].action("send_message")
    assert send is not None
    call = build_call(send, {"channel": "C1", "text": "hi"}, {})
    assert ("Content-Type", "application/json; charset=utf-8") in call.headers
    assert json.loads(call.body or b"") == {"channel": "C1", "text": "hi"}


def test_stripe_bodies_are_form_encoded_with_nested_metadata() -> None:
    action = CATALOG["stripe"].action("create_customer")
    assert action is not None
    call = build_call(action, {"email": "a@example.com", "metadata": {"user_id": "u42"}}, {})
    assert sorted(parse_qsl((call.body or b"").decode())) == [
        ("email", "a@example.com"),
        ("metadata[user_id]", "u42"),
    ]
    assert not any(name == "Idempotency-Key" for name, _ in call.headers), "absent key, no header"


def test_anthropic_reaches_the_api_with_its_version_header() -> None:
    definition = CATALOG["anthropic"]
    assert definition.proxy is not None and "anthropic-version" in definition.proxy.headers
    action = definition.action("generate_text")
    assert action is not None
    body = json.loads(build_call(action, _with_defaults(action, {"prompt": "hi"}), {}).body or b"")
    assert body["max_tokens"] == 1024 and body["model"] and "system" not in body
