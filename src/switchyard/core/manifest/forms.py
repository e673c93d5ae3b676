"""Checking what an end user typed into a form against the definition's field schemas."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from switchyard.core.errors import InvalidInput
from switchyard.core.manifest.schema import FormField

_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def check(fields: Mapping[str, FormField], values: Mapping[str, Any], *, what: str) -> dict[str, Any]:
    """The accepted values (defaults filled in); every problem named in one ``InvalidInput``."""
    problems: list[str] = []
    accepted: dict[str, Any] = {}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        problems.append(f"unknown field(s) {', '.join(unknown)}")
    for name, field in fields.items():
        value = values.get(name, field.default)
        if value is None or value == "":
            if field.required:
                problems.append(f"{name} is required")
            continue
        allowed = _PYTHON_TYPES[field.type]
        if not isinstance(value, allowed) or (field.type != "boolean" and isinstance(value, bool)):
            problems.append(f"{name} must be a {field.type}")
            continue
        if field.pattern and not re.fullmatch(field.pattern, str(value)):
            problems.append(f"{name} does not match {field.pattern}")
            continue
        if field.enum and str(value) not in field.enum:
            problems.append(f"{name} must be one of {', '.join(field.enum)}")
            continue
        accepted[name] = value
    if problems:
        raise InvalidInput(
            f"the {what} is not valid: {'; '.join(problems)}",
            code=f"connection.invalid_{what.replace(' ', '_')}",
            extra={"fields": problems},
        )
    return accepted
