"""Connect sessions: a 30-minute grant for one end user to connect some of the tenant's integrations.

The backend creates a session for its end user and sends them to ``connect_url``; the session token (shown
once, stored as a digest) then authorizes that user's OAuth redirects and the hosted connect page. A session
is spent by the first connection made through it (``used_at``): the link works once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from switchyard.core.auth import tokens
from switchyard.core.clock import utcnow
from switchyard.core.errors import InvalidInput, Unauthenticated
from switchyard.core.ids import new_id
from switchyard.core.models import ConnectSession, EndUser, Principal
from switchyard.core.scopes import Scope
from switchyard.ports import Database
from switchyard.services.authz import require
from switchyard.services.tenancy import EndUserChanges, TenancyService

SESSION_TTL = timedelta(minutes=30)
TOKEN_PREFIX = "cs_"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class EndUserSpec:
    id: str
    email: str | None = None
    display_name: str | None = None
    tags: Sequence[str] = ()


@dataclass(frozen=True)
class NewSession:
    session: ConnectSession
    token: str
    connect_url: str
    end_user: EndUser


def invalid_session() -> Unauthenticated:
    return Unauthenticated(
        "the connect session is missing, unknown or expired",
        code="connect_session.invalid",
        remediation="Ask the application for a new connect link.",
    )


def used_session() -> Unauthenticated:
    return Unauthenticated(
        "this connect link was already used",
        code="connect_session.used",
        remediation="Ask the application for a new connect link.",
    )


async def mark_session_used(db: Database, tenant_id: str, session_id: str) -> bool:
    """Set the session's ``used_at``; False when it was already set."""
    async with db.transaction() as tx:
        return await tx.connect_sessions.mark_used(tenant_id, session_id, utcnow())


class ConnectSessionService:
    def __init__(self, db: Database, tenancy: TenancyService, *, public_base_url: str) -> None:
        self.db = db
        self.tenancy = tenancy
        self.public_base_url = public_base_url

    async def create(
        self,
        principal: Principal,
        end_user: EndUserSpec,
        *,
        allowed_integrations: Sequence[str] = (),
        return_url: str | None = None,
    ) -> NewSession:
        require(principal, Scope.CONNECTIONS_WRITE)
        _check_return_url(return_url)
        async with self.db.transaction(write=False) as tx:
            known = {i.key for i in await tx.integrations.all(principal.tenant_id)}
        missing = sorted(set(allowed_integrations) - known)
        if missing:
            raise InvalidInput(
                f"unknown integration(s): {', '.join(missing)}",
                code="integration.not_found",
                extra={"missing": missing},
            )
        user = await self._upsert_end_user(principal, end_user)
        token = tokens.new_token(TOKEN_PREFIX)
        now = utcnow()
        session = ConnectSession(
            id=new_id("cse"),
            tenant_id=principal.tenant_id,
            token_digest=tokens.digest(token),
            end_user_id=user.id,
            allowed_integrations=tuple(dict.fromkeys(allowed_integrations)),
            return_url=return_url,
            expires_at=now + SESSION_TTL,
            created_at=now,
        )
        async with self.db.transaction() as tx:
            await tx.connect_sessions.add(session)
        return NewSession(session, token, f"{self.public_base_url}/connect?session={token}", user)

    async def resolve(self, token: str | None) -> ConnectSession:
        """The live session behind a token; unknown and expired tokens are one error."""
        if not token:
            raise invalid_session()
        async with self.db.transaction(write=False) as tx:
            session = await tx.connect_sessions.find(tokens.digest(token))
        if session is None or session.expires_at <= utcnow():
            raise invalid_session()
        if session.used_at is not None:
            raise used_session()
        return session

    async def mark_used(self, session: ConnectSession) -> None:
        """Spend the session: its link works once. Marking a used session again changes nothing."""
        await mark_session_used(self.db, session.tenant_id, session.id)

    async def ensure_end_user(self, principal: Principal, spec: EndUserSpec) -> EndUser:
        """The end user with this external id, created (or updated with what ``spec`` gives) as needed."""
        require(principal, Scope.CONNECTIONS_WRITE)
        return await self._upsert_end_user(principal, spec)

    async def _upsert_end_user(self, principal: Principal, spec: EndUserSpec) -> EndUser:
        writer = Principal(
            principal.tenant_id, principal.actor, frozenset({Scope.END_USERS_WRITE, Scope.END_USERS_READ})
        )
        async with self.db.transaction(write=False) as tx:
            existing = await tx.end_users.get(principal.tenant_id, spec.id)
        if existing is None:
            return await self.tenancy.create_end_user(
                writer, external_id=spec.id, email=spec.email, display_name=spec.display_name, tags=spec.tags
            )
        given = {name for name in ("email", "display_name") if getattr(spec, name) is not None}
        if spec.tags:
            given.add("tags")
        if not given:
            return existing
        changes = EndUserChanges(frozenset(given), spec.email, spec.display_name, spec.tags)
        return await self.tenancy.update_end_user(writer, spec.id, changes)


def _check_return_url(url: str | None) -> None:
    if url is None:
        return
    parts = urlsplit(url)
    local = parts.scheme == "http" and parts.hostname in LOCAL_HOSTS
    if not parts.hostname or not (parts.scheme == "https" or local):
        raise InvalidInput(
            "return_url must be an https URL (http is allowed for localhost only)",
            code="connect_session.invalid_return_url",
        )
