"""One transaction, with every repository bound to its connection (the ``ports.Transaction``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from switchyard.adapters.db.catalog import SqlConnectorDefinitions, SqlIntegrations
from switchyard.adapters.db.connections import SqlConnections, SqlConnectSessions, SqlOAuthStates
from switchyard.adapters.db.console import SqlConsoleSessions, SqlConsoleSetupLinks, SqlConsoleUsers
from switchyard.adapters.db.mcp_tokens import SqlMcpTokens
from switchyard.adapters.db.operate import SqlCallerKeys, SqlOperateRequests
from switchyard.adapters.db.packages import SqlPackages
from switchyard.adapters.db.secrets import SqlSecrets
from switchyard.adapters.db.tenancy import SqlApiKeys, SqlEndUsers, SqlTenants
from switchyard.adapters.db.vault import SqlAccessLog, SqlMasterKeys, SqlVaultItems


class SqlTransaction:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.tenants = SqlTenants(conn)
        self.end_users = SqlEndUsers(conn)
        self.api_keys = SqlApiKeys(conn)
        self.secrets = SqlSecrets(conn)
        self.vault_items = SqlVaultItems(conn)
        self.access_log = SqlAccessLog(conn)
        self.master_keys = SqlMasterKeys(conn)
        self.connector_definitions = SqlConnectorDefinitions(conn)
        self.integrations = SqlIntegrations(conn)
        self.connect_sessions = SqlConnectSessions(conn)
        self.oauth_states = SqlOAuthStates(conn)
        self.connections = SqlConnections(conn)
        self.caller_keys = SqlCallerKeys(conn)
        self.operate_requests = SqlOperateRequests(conn)
        self.packages = SqlPackages(conn)
        self.mcp_tokens = SqlMcpTokens(conn)
        self.console_users = SqlConsoleUsers(conn)
        self.console_sessions = SqlConsoleSessions(conn)
        self.console_setup_links = SqlConsoleSetupLinks(conn)
