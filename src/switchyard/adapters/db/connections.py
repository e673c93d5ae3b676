"""Repositories for connect sessions, OAuth states and connections."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from switchyard.adapters.db.rows import model_of, page, to_columns
from switchyard.adapters.db.tables import connect_sessions, connections, oauth_states
from switchyard.core.clock import as_utc
from switchyard.core.models import Connection, ConnectorUsage, ConnectSession, OAuthState, Page

_session = model_of(ConnectSession)
_state = model_of(OAuthState)
_connection = model_of(Connection)
_FIXED = frozenset({"id", "tenant_id", "integration_id", "connector_id", "end_user_id", "created_at"})


class SqlConnectSessions:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, session: ConnectSession) -> None:
        await self.conn.execute(connect_sessions.insert().values(**to_columns(session, connect_sessions)))

    async def find(self, token_digest: str) -> ConnectSession | None:
        """Not tenant-scoped: the token is how the tenant is found."""
        query = connect_sessions.select().where(connect_sessions.c.token_digest == token_digest)
        row = (await self.conn.execute(query)).first()
        return _session(row) if row else None

    async def mark_used(self, tenant_id: str, session_id: str, at: datetime) -> bool:
        """Mark the session used; False when it already was (a connect link works once)."""
        result = await self.conn.execute(
            connect_sessions.update()
            .where(
                connect_sessions.c.tenant_id == tenant_id,
                connect_sessions.c.id == session_id,
                connect_sessions.c.used_at.is_(None),
            )
            .values(used_at=at)
        )
        return result.rowcount == 1


class SqlOAuthStates:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, state: OAuthState) -> None:
        await self.conn.execute(oauth_states.insert().values(**to_columns(state, oauth_states)))

    async def find(self, state_digest: str) -> OAuthState | None:
        """Not tenant-scoped: the state is how the callback finds its tenant."""
        row = (
            await self.conn.execute(oauth_states.select().where(oauth_states.c.state_digest == state_digest))
        ).first()
        return _state(row) if row else None

    async def consume(self, state: OAuthState, at: datetime) -> bool:
        """Mark the state used; False when another request used it first (single use)."""
        result = await self.conn.execute(
            oauth_states.update()
            .where(oauth_states.c.id == state.id, oauth_states.c.used_at.is_(None))
            .values(used_at=at)
        )
        return bool(result.rowcount)

    async def expired(self, before: datetime, *, limit: int) -> list[OAuthState]:
        """Cleanup, over every tenant: abandoned authorizations older than ``before``."""
        query = oauth_states.select().where(oauth_states.c.expires_at < before).limit(limit)
        return [_state(row) for row in (await self.conn.execute(query)).all()]

    async def delete(self, state_ids: Sequence[str]) -> None:
        if state_ids:
            await self.conn.execute(oauth_states.delete().where(oauth_states.c.id.in_(list(state_ids))))


class SqlConnections:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, connection: Connection) -> None:
        await self.conn.execute(connections.insert().values(**to_columns(connection, connections)))

    async def get(self, tenant_id: str, connection_id: str, *, for_update: bool = False) -> Connection | None:
        query = connections.select().where(
            connections.c.tenant_id == tenant_id, connections.c.id == connection_id
        )
        if for_update:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).first()
        return _connection(row) if row else None

    async def page(
        self,
        tenant_id: str,
        *,
        after: str | None,
        limit: int,
        end_user_id: str | None = None,
        integration_id: str | None = None,
        status: str | None = None,
    ) -> Page[Connection]:
        query = connections.select().where(connections.c.tenant_id == tenant_id)
        for column, value in (
            (connections.c.end_user_id, end_user_id),
            (connections.c.integration_id, integration_id),
            (connections.c.status, status),
        ):
            if value is not None:
                query = query.where(column == value)
        if after:
            query = query.where(connections.c.id > after)
        rows = (await self.conn.execute(query.order_by(connections.c.id).limit(limit + 1))).all()
        return page(rows, limit, _connection)

    async def update(self, connection: Connection) -> None:
        await self.conn.execute(
            connections.update()
            .where(connections.c.tenant_id == connection.tenant_id, connections.c.id == connection.id)
            .values(**to_columns(connection, connections, exclude=_FIXED))
        )

    async def delete(self, tenant_id: str, connection_id: str) -> bool:
        result = await self.conn.execute(
            connections.delete().where(
                connections.c.tenant_id == tenant_id, connections.c.id == connection_id
            )
        )
        return bool(result.rowcount)

    async def touch_used(self, tenant_id: str, stamps: Mapping[str, datetime]) -> None:
        """Set ``last_used_at`` of each connection to its time, never backwards (a later stored time stays)."""
        if not stamps:
            return
        at = sa.bindparam("used_at", type_=connections.c.last_used_at.type)
        statement = (
            connections.update()
            .where(
                connections.c.tenant_id == tenant_id,
                connections.c.id == sa.bindparam("connection_id"),
                sa.or_(connections.c.last_used_at.is_(None), connections.c.last_used_at < at),
            )
            .values(last_used_at=at)
        )
        await self.conn.execute(
            statement, [{"connection_id": cid, "used_at": when} for cid, when in stamps.items()]
        )

    async def usage_by_connector(self, tenant_id: str) -> dict[str, ConnectorUsage]:
        """Per connector: how many connections, how many in error, and the latest use."""
        query = (
            sa.select(
                connections.c.connector_id,
                sa.func.count(),
                sa.func.sum(sa.case((connections.c.status == "error", 1), else_=0)),
                sa.func.max(connections.c.last_used_at),
            )
            .where(connections.c.tenant_id == tenant_id)
            .group_by(connections.c.connector_id)
        )
        rows = (await self.conn.execute(query)).all()
        return {
            connector: ConnectorUsage(int(count), int(errors or 0), as_utc(last) if last else None)
            for connector, count, errors, last in rows
        }

    async def revoking(self, *, limit: int) -> list[Connection]:
        """Revocation retries, over every tenant: connections whose provider has not confirmed yet."""
        query = (
            connections.select().where(connections.c.status == "revoking").order_by(connections.c.updated_at)
        )
        return [_connection(row) for row in (await self.conn.execute(query.limit(limit))).all()]

    async def due_for_refresh(self, before: datetime, *, limit: int) -> Sequence[tuple[str, str]]:
        """Refresh sweep, over every tenant: (tenant id, connection id) of tokens expiring before ``before``."""
        query = (
            sa.select(connections.c.tenant_id, connections.c.id)
            .where(
                connections.c.status == "active",  # a refresh refused for good waits for a reconnect
                connections.c.expires_at.is_not(None),
                connections.c.expires_at < before,
                sa.or_(connections.c.next_refresh_at.is_(None), connections.c.next_refresh_at <= before),
            )
            .order_by(connections.c.expires_at)
            .limit(limit)
        )
        return [(row.tenant_id, row.id) for row in (await self.conn.execute(query)).all()]
