"""Repositories of the web console: its users, their sessions, and the one-time set-up links.

Sessions and links are keyed by the digest of their token, never the token itself; users keep only an
argon2id hash of their password.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from switchyard.adapters.db.rows import model_of, to_columns
from switchyard.adapters.db.tables import console_sessions, console_setup_links, console_users
from switchyard.core.models import ConsoleSession, ConsoleSetupLink, ConsoleUser

_user = model_of(ConsoleUser)
_session = model_of(ConsoleSession)
_link = model_of(ConsoleSetupLink)


class SqlConsoleUsers:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, user: ConsoleUser) -> None:
        await self.conn.execute(console_users.insert().values(**to_columns(user, console_users)))

    async def find_by_email(self, email: str) -> ConsoleUser | None:
        """Not tenant-scoped: signing in by email is how the tenant is found."""
        query = console_users.select().where(console_users.c.email == email)
        row = (await self.conn.execute(query)).first()
        return _user(row) if row else None

    async def get(self, tenant_id: str, user_id: str) -> ConsoleUser | None:
        query = console_users.select().where(
            console_users.c.tenant_id == tenant_id, console_users.c.id == user_id
        )
        row = (await self.conn.execute(query)).first()
        return _user(row) if row else None

    async def all(self, tenant_id: str) -> list[ConsoleUser]:
        query = (
            console_users.select()
            .where(console_users.c.tenant_id == tenant_id)
            .order_by(console_users.c.email)
        )
        return [_user(row) for row in (await self.conn.execute(query)).all()]

    async def any(self) -> bool:
        """Whether any console user exists, in any tenant (the set-up link is offered only before)."""
        query = sa.select(sa.literal(1)).select_from(console_users).limit(1)
        return (await self.conn.execute(query)).first() is not None

    async def set_password_hash(self, tenant_id: str, user_id: str, password_hash: str) -> None:
        await self.conn.execute(
            console_users.update()
            .where(console_users.c.tenant_id == tenant_id, console_users.c.id == user_id)
            .values(password_hash=password_hash)
        )

    async def delete(self, tenant_id: str, user_id: str) -> bool:
        result = await self.conn.execute(
            console_users.delete().where(
                console_users.c.tenant_id == tenant_id, console_users.c.id == user_id
            )
        )
        return bool(result.rowcount)

    async def signed_in(self, tenant_id: str, user_id: str, at: datetime) -> None:
        await self.conn.execute(
            console_users.update()
            .where(console_users.c.tenant_id == tenant_id, console_users.c.id == user_id)
            .values(last_login_at=at)
        )


class SqlConsoleSessions:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, session: ConsoleSession) -> None:
        await self.conn.execute(console_sessions.insert().values(**to_columns(session, console_sessions)))

    async def find(self, token_digest: str) -> ConsoleSession | None:
        """Not tenant-scoped: the cookie is how the tenant is found."""
        query = console_sessions.select().where(console_sessions.c.token_digest == token_digest)
        row = (await self.conn.execute(query)).first()
        return _session(row) if row else None

    async def touch(self, tenant_id: str, session_id: str, at: datetime) -> None:
        await self.conn.execute(
            console_sessions.update()
            .where(console_sessions.c.tenant_id == tenant_id, console_sessions.c.id == session_id)
            .values(last_seen_at=at)
        )

    async def delete(self, tenant_id: str, session_id: str) -> bool:
        result = await self.conn.execute(
            console_sessions.delete().where(
                console_sessions.c.tenant_id == tenant_id, console_sessions.c.id == session_id
            )
        )
        return bool(result.rowcount)

    async def delete_for_user(self, tenant_id: str, user_id: str, *, keep: str | None = None) -> int:
        """Sign the user out everywhere (but in the session ``keep``); returns how many were ended."""
        query = console_sessions.delete().where(
            console_sessions.c.tenant_id == tenant_id, console_sessions.c.user_id == user_id
        )
        if keep is not None:
            query = query.where(console_sessions.c.id != keep)
        result = await self.conn.execute(query)
        return int(result.rowcount or 0)

    async def prune(self, before: datetime) -> int:
        result = await self.conn.execute(
            console_sessions.delete().where(console_sessions.c.expires_at <= before)
        )
        return int(result.rowcount or 0)


class SqlConsoleSetupLinks:
    """Not tenant data: a set-up link exists before any tenant may."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, link: ConsoleSetupLink) -> None:
        await self.conn.execute(console_setup_links.insert().values(**to_columns(link, console_setup_links)))

    async def find(self, token_digest: str) -> ConsoleSetupLink | None:
        query = console_setup_links.select().where(console_setup_links.c.token_digest == token_digest)
        row = (await self.conn.execute(query)).first()
        return _link(row) if row else None

    async def use(self, link_id: str, at: datetime) -> bool:
        """Mark the link used; False when another request used it first (single use)."""
        result = await self.conn.execute(
            console_setup_links.update()
            .where(console_setup_links.c.id == link_id, console_setup_links.c.used_at.is_(None))
            .values(used_at=at)
        )
        return result.rowcount == 1
