"""API key scopes and the one rule that decides whether a key may do something."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from switchyard.core.errors import InvalidInput


class Scope(StrEnum):
    ADMIN = "admin"
    END_USERS_READ = "end_users:read"
    END_USERS_WRITE = "end_users:write"
    CONNECTIONS_READ = "connections:read"
    CONNECTIONS_WRITE = "connections:write"
    PROXY = "proxy"
    ACTIONS = "actions"
    SECRETS_READ = "secrets:read"
    SECRETS_WRITE = "secrets:write"
    SECRETS_REVEAL = "secrets:reveal"
    MCP = "mcp"
    CONNECTORS_WRITE = "connectors:write"
    INTEGRATIONS_READ = "integrations:read"
    INTEGRATIONS_WRITE = "integrations:write"


# ``admin`` stands for every scope but these: revealing plaintext is always an explicit grant.
NOT_IMPLIED_BY_ADMIN = frozenset({Scope.SECRETS_REVEAL})


def allows(held: Iterable[str], needed: Scope) -> bool:
    held_set = set(held)
    if needed in held_set:
        return True
    return Scope.ADMIN in held_set and needed not in NOT_IMPLIED_BY_ADMIN


def parse_scopes(values: Iterable[str]) -> frozenset[Scope]:
    known = {scope.value for scope in Scope}
    requested = [value.strip() for value in values if value.strip()]
    unknown = sorted(set(requested) - known)
    if unknown:
        raise InvalidInput(
            f"unknown scope(s): {', '.join(unknown)}",
            code="api_key.invalid_scope",
            remediation=f"Known scopes: {', '.join(sorted(known))}.",
        )
    if not requested:
        raise InvalidInput("an API key needs at least one scope", code="api_key.invalid_scope")
    return frozenset(Scope(value) for value in requested)
