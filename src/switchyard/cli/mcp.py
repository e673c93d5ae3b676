"""``switchyard mcp``: an end user's connections as MCP tools over stdio, from the local data dir.

An MCP client (Claude Desktop, Cursor, ...) starts this command; stdout carries only the protocol, logs go
to stderr. The command acts as the CLI principal inside ``--tenant`` for the end user ``--end-user``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from mcp.server.stdio import stdio_server

from switchyard.cli.output import TenantOption
from switchyard.cli.runtime import run_with_container, tenant_principal
from switchyard.mcp.server import McpIdentity, build_server, initialization_options
from switchyard.services.container import Container


def mcp(
    tenant: TenantOption,
    end_user: Annotated[
        str, typer.Option("--end-user", metavar="ID", help="Your id for the end user whose tools to serve.")
    ],
    integration: Annotated[
        str | None, typer.Option("--integration", metavar="KEY", help="Only this integration's tools.")
    ] = None,
    proxy_tool: Annotated[
        bool, typer.Option("--proxy-tool", help="Also offer the generic proxy_request tool.")
    ] = False,
) -> None:
    """Serve an end user's connected tools over MCP on stdin/stdout."""

    async def work(container: Container) -> None:
        principal = await tenant_principal(container, tenant)
        identity = McpIdentity(principal, end_user, integration, proxy_tool)
        server = build_server(container.tools, lambda _ctx: identity)
        async with stdio_server() as (read, write):
            await server.run(read, write, initialization_options(server))

    run_with_container(work)
