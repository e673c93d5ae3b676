"""Tenants (workspaces) and their end users (the people who connect accounts)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from switchyard.core.clock import utcnow
from switchyard.core.errors import Conflict, InvalidInput, NotFound
from switchyard.core.ids import new_id
from switchyard.core.models import EndUser, Page, Principal, Tenant
from switchyard.core.scopes import Scope
from switchyard.ports import Database
from switchyard.services.authz import require

TENANT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
EXTERNAL_ID = re.compile(r"^[\x21-\x7e]{1,255}$")
MAX_TAGS = 50
MAX_PAGE = 200


@dataclass(frozen=True)
class EndUserChanges:
    fields: frozenset[str]
    email: str | None = None
    display_name: str | None = None
    tags: Sequence[str] = ()


def _check_tags(tags: Sequence[str]) -> tuple[str, ...]:
    cleaned = tuple(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))
    if len(cleaned) > MAX_TAGS or any(len(tag) > 64 for tag in cleaned):
        raise InvalidInput(f"at most {MAX_TAGS} tags of at most 64 characters", code="end_user.invalid_tags")
    return cleaned


class TenancyService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_tenant(self, name: str) -> Tenant:
        if not TENANT_NAME.fullmatch(name):
            raise InvalidInput(
                f"invalid tenant name {name[:80]!r}",
                code="tenant.invalid_name",
                remediation="Use 1-63 lowercase letters, digits and '-', starting with a letter or digit.",
            )
        tenant = Tenant(id=new_id("ten"), name=name, created_at=utcnow())
        try:
            async with self.db.transaction() as tx:
                if await tx.tenants.get_by_name(name) is not None:
                    raise Conflict(f"a tenant named {name!r} already exists", code="tenant.exists")
                await tx.tenants.add(tenant)
        except Conflict as exc:
            raise Conflict(f"a tenant named {name!r} already exists", code="tenant.exists") from exc
        return tenant

    async def get_tenant(self, tenant_id: str) -> Tenant:
        async with self.db.transaction(write=False) as tx:
            tenant = await tx.tenants.get(tenant_id)
        if tenant is None:
            raise NotFound("no such tenant", code="tenant.not_found")
        return tenant

    async def find_tenant(self, name_or_id: str) -> Tenant:
        async with self.db.transaction(write=False) as tx:
            tenant = await tx.tenants.get_by_name(name_or_id) or await tx.tenants.get(name_or_id)
        if tenant is None:
            raise NotFound(f"no tenant named {name_or_id!r}", code="tenant.not_found")
        return tenant

    async def list_tenants(self) -> list[Tenant]:
        async with self.db.transaction(write=False) as tx:
            return await tx.tenants.all()

    async def create_end_user(
        self,
        principal: Principal,
        *,
        external_id: str,
        email: str | None = None,
        display_name: str | None = None,
        tags: Sequence[str] = (),
    ) -> EndUser:
        require(principal, Scope.END_USERS_WRITE)
        if not EXTERNAL_ID.fullmatch(external_id):
            raise InvalidInput(
                "external_id must be 1-255 printable ASCII characters without spaces",
                code="end_user.invalid_external_id",
            )
        now = utcnow()
        end_user = EndUser(
            id=new_id("eus"),
            tenant_id=principal.tenant_id,
            external_id=external_id,
            email=email,
            display_name=display_name,
            tags=_check_tags(tags),
            created_at=now,
            updated_at=now,
        )
        exists = Conflict(f"end user {external_id!r} already exists", code="end_user.exists")
        try:
            async with self.db.transaction() as tx:
                if await tx.end_users.get(principal.tenant_id, external_id) is not None:
                    raise exists
                await tx.end_users.add(end_user)
        except Conflict:
            raise exists from None
        return end_user

    async def get_end_user(self, principal: Principal, external_id: str) -> EndUser:
        require(principal, Scope.END_USERS_READ)
        async with self.db.transaction(write=False) as tx:
            end_user = await tx.end_users.get(principal.tenant_id, external_id)
        if end_user is None:
            raise NotFound(f"no end user {external_id!r}", code="end_user.not_found")
        return end_user

    async def list_end_users(
        self, principal: Principal, *, after: str | None, limit: int, tag: str | None
    ) -> Page[EndUser]:
        require(principal, Scope.END_USERS_READ)
        async with self.db.transaction(write=False) as tx:
            return await tx.end_users.page(
                principal.tenant_id, after=after, limit=min(limit, MAX_PAGE), tag=tag
            )

    async def update_end_user(
        self, principal: Principal, external_id: str, changes: EndUserChanges
    ) -> EndUser:
        require(principal, Scope.END_USERS_WRITE)
        async with self.db.transaction() as tx:
            current = await tx.end_users.get(principal.tenant_id, external_id)
            if current is None:
                raise NotFound(f"no end user {external_id!r}", code="end_user.not_found")
            updated = replace(
                current,
                email=changes.email if "email" in changes.fields else current.email,
                display_name=changes.display_name
                if "display_name" in changes.fields
                else current.display_name,
                tags=_check_tags(changes.tags) if "tags" in changes.fields else current.tags,
                updated_at=utcnow(),
            )
            await tx.end_users.update(updated)
        return updated

    async def delete_end_user(self, principal: Principal, external_id: str) -> None:
        require(principal, Scope.END_USERS_WRITE)
        async with self.db.transaction() as tx:
            if not await tx.end_users.delete(principal.tenant_id, external_id):
                raise NotFound(f"no end user {external_id!r}", code="end_user.not_found")
