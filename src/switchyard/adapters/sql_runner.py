"""SQL actions for the database connectors: the host is resolved through the egress guard, then queried."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from switchyard.adapters.egress import resolve_checked
from switchyard.core.egress import EgressPolicy
from switchyard.core.errors import InvalidInput
from switchyard.services.actions import SqlRunner
from switchyard.services.targets import Target

DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}


def sql_runner(policy: EgressPolicy, *, timeout: float) -> SqlRunner:
    async def run(target: Target, kind: str, payload: Mapping[str, Any]) -> Any:
        from switchyard.adapters.sql import run_sql  # the database drivers load on first use

        protocol = str(target.definition.protocol)
        if protocol not in DEFAULT_PORTS:
            raise InvalidInput(f"{protocol} connections have no SQL actions", code="action.sql_unavailable")
        config = target.connection.config
        host = str(config.get("host") or "")
        port = int(config.get("port") or DEFAULT_PORTS[protocol])
        addresses = await resolve_checked(policy, host, port)
        return await run_sql(
            protocol, kind, address=addresses[0], config=config, credentials=target.credentials,
            payload=payload, timeout=timeout,
        )  # fmt: skip

    return run
