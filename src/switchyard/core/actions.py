"""Declarative actions as values: an action's input becomes a request; a provider's answer becomes output.

``build_call`` fills the action's request template (see ``ActionRequest``) from the input and the
connection config; ``read_output`` checks and selects the output from a decoded answer; ``next_page`` says
how to ask for the following page under the definition's pagination. Nothing here does IO.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from switchyard.core.errors import InvalidInput
from switchyard.core.manifest import templates
from switchyard.core.manifest.action_schema import Action, ActionResponse
from switchyard.core.manifest.schema import Pagination

WHOLE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}$")
LINK_NEXT = re.compile(r'<([^>]+)>\s*;[^,]*\brel="?next"?', re.IGNORECASE)


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


@dataclass(frozen=True)
class PreparedCall:
    """A request relative to the proxy base URL, or to ``absolute_url`` (a Link-header next page)."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    absolute_url: str | None = None

    def target(self) -> str:
        """The path and query string (or the absolute URL) this call asks for."""
        if self.absolute_url is not None:
            return self.absolute_url
        return self.path + ("?" + urlencode(self.query) if self.query else "")


def _scalar_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(_scalar_text(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _present(values: Mapping[str, object]) -> dict[str, object]:
    return {name: value for name, value in values.items() if value is not None}


def _fill_text(template: str, values: Mapping[str, object]) -> object:
    """A string template: MISSING when every placeholder is absent, an error when only some are."""
    names = templates.placeholders(template)
    if not names:
        return template
    absent = {name for name in names if name not in values}
    if absent == names:
        return MISSING
    if absent:
        missing = ", ".join(sorted(absent))
        raise InvalidInput(f"the action needs {missing}", code="action.invalid_input")
    return templates.render(template, {k: _scalar_text(v) for k, v in values.items()})


def _fill_json(template: object, values: Mapping[str, object], whole: Mapping[str, object]) -> object:
    if isinstance(template, str):
        match = WHOLE.match(template)
        if match:
            name = match.group(1)
            if name == "input":
                return dict(whole)
            return values.get(name, MISSING)
        return _fill_text(template, values)
    if isinstance(template, dict):
        filled = {key: _fill_json(value, values, whole) for key, value in template.items()}
        return {key: value for key, value in filled.items() if value is not MISSING}
    if isinstance(template, list):
        return [item for item in (_fill_json(v, values, whole) for v in template) if item is not MISSING]
    return template


def _form_pairs(document: object, prefix: str = "") -> list[tuple[str, str]]:
    """Stripe-style form encoding: nested objects as ``a[b]``, lists as ``a[0]``."""
    if isinstance(document, dict):
        pairs: list[tuple[str, str]] = []
        for key, value in document.items():
            pairs += _form_pairs(value, f"{prefix}[{key}]" if prefix else str(key))
        return pairs
    if isinstance(document, list):
        return [pair for i, item in enumerate(document) for pair in _form_pairs(item, f"{prefix}[{i}]")]
    return [(prefix, _scalar_text(document))]


def build_call(action: Action, payload: Mapping[str, Any], config: Mapping[str, Any]) -> PreparedCall:
    """The request ``action`` makes for ``payload`` (already valid against its input schema)."""
    request = action.request
    if request is None:
        raise InvalidInput(f"action {action.name} is not an HTTP action", code="action.not_http")
    values = {**_present(config), **_present(payload)}
    path = templates.render(request.path, {k: _scalar_text(v) for k, v in values.items()}, url_component=True)
    query = tuple(
        (name, str(filled))
        for name, template in request.query.items()
        if (filled := _fill_text(template, values)) is not MISSING
    )
    headers = [
        (name, str(filled))
        for name, template in request.headers.items()
        if (filled := _fill_text(template, values)) is not MISSING
    ]
    body: bytes | None = None
    if request.body is not None:
        document = _fill_json(request.body, values, _present(payload))
        if request.body_format == "form":
            body = urlencode(_form_pairs(document)).encode("ascii")
            content_type = "application/x-www-form-urlencoded"
        else:
            body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            content_type = "application/json"
        if not any(name.lower() == "content-type" for name, _ in headers):
            headers.append(("Content-Type", content_type))
    return PreparedCall(request.method, path, query, tuple(headers), body)


def select(document: Any, path: str | None) -> Any:
    """The value at a dotted path (``choices.0.message.content``); None where the path leads nowhere."""
    if not path:
        return document
    for part in path.split("."):
        if isinstance(document, Mapping):
            document = document.get(part)
        elif (
            isinstance(document, list)
            and part.lstrip("-").isdigit()
            and -len(document) <= int(part) < len(document)
        ):
            document = document[int(part)]
        else:
            return None
    return document


def refusal(response: ActionResponse, document: Any) -> str | None:
    """The provider's error message when an answer with a success status still reports a failure: the
    ``ok_path`` flag is not true, or (without one) something is found at ``error_path`` (GraphQL's errors)."""
    message = select(document, response.error_path) if response.error_path else None
    if response.ok_path is not None:
        if select(document, response.ok_path) is True:
            return None
        return str(message) if message is not None else f"the answer's {response.ok_path} is not true"
    return str(message) if message not in (None, "", [], {}) else None


def page_items(pagination: Pagination, document: Any) -> list[Any]:
    items = select(document, pagination.items_path) if pagination.items_path else document
    return list(items) if isinstance(items, list) else []


def next_page(
    pagination: Pagination,
    call: PreparedCall,
    document: Any,
    headers: Sequence[tuple[str, str]],
    items_seen: int,
) -> PreparedCall | None:
    """The call for the page after the one that answered ``document``; None on the last page."""
    items = page_items(pagination, document)
    if pagination.type == "link":
        link = ", ".join(value for name, value in headers if name.lower() == "link")
        match = LINK_NEXT.search(link)
        return replace(call, absolute_url=match.group(1)) if match else None
    if not items:
        return None
    query = dict(call.query)
    if pagination.type == "cursor":
        assert pagination.cursor_param is not None  # the schema requires it for cursor pagination
        cursor = select(document, pagination.cursor_path)
        if cursor in (None, "", False):
            return None
        query[pagination.cursor_param] = _scalar_text(cursor)
    elif pagination.type == "offset":
        assert pagination.offset_param is not None
        query[pagination.offset_param] = str(items_seen)
    else:
        assert pagination.page_param is not None
        query[pagination.page_param] = str(int(query.get(pagination.page_param, "1")) + 1)
    return replace(call, query=tuple(query.items()))
