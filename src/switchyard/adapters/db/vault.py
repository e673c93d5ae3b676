"""Repositories for the vault: master-key records, sealed items and the append-only access audit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from switchyard.adapters.db.rows import model_of, page, to_columns, utc
from switchyard.adapters.db.tables import master_keys, vault_access_log, vault_items
from switchyard.core.models import AccessRecord, MasterKeyRecord, Page, VaultItem

_master_key = model_of(MasterKeyRecord)
_item = model_of(VaultItem)
_record = model_of(AccessRecord)


class SqlMasterKeys:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def all(self) -> list[MasterKeyRecord]:
        query = master_keys.select().order_by(master_keys.c.created_at, master_keys.c.key_id)
        return [_master_key(row) for row in (await self.conn.execute(query)).all()]

    async def add(self, record: MasterKeyRecord) -> None:
        await self.conn.execute(master_keys.insert().values(**to_columns(record, master_keys)))

    async def retire_if_unreferenced(self, key_id: str) -> bool:
        """One statement: retire the key only while no vault item references it."""
        unreferenced = ~sa.exists(sa.select(vault_items.c.id).where(vault_items.c.key_id == key_id))
        result = await self.conn.execute(
            master_keys.update()
            .where(master_keys.c.key_id == key_id, master_keys.c.state == "decrypt_only", unreferenced)
            .values(state="retired", retired_at=sa.func.now())
        )
        return bool(result.rowcount)

    async def set_state(self, key_id: str, state: str, at: datetime) -> None:
        values: dict[str, Any] = {"state": state}
        if state == "retired":
            values["retired_at"] = at
        await self.conn.execute(master_keys.update().where(master_keys.c.key_id == key_id).values(**values))


class SqlVaultItems:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, item: VaultItem) -> None:
        await self.conn.execute(vault_items.insert().values(**to_columns(item, vault_items)))

    async def get_many(self, tenant_id: str, item_ids: Sequence[str]) -> list[VaultItem]:
        if not item_ids:
            return []
        query = vault_items.select().where(
            vault_items.c.tenant_id == tenant_id, vault_items.c.id.in_(list(item_ids))
        )
        return [_item(row) for row in (await self.conn.execute(query)).all()]

    async def delete(self, tenant_id: str, item_ids: Sequence[str]) -> None:
        if item_ids:
            await self.conn.execute(
                vault_items.delete().where(
                    vault_items.c.tenant_id == tenant_id, vault_items.c.id.in_(list(item_ids))
                )
            )

    async def replace_ciphertext(self, item: VaultItem, *, key_id: str, ciphertext: bytes | None) -> bool:
        result = await self.conn.execute(
            vault_items.update()
            .where(
                vault_items.c.tenant_id == item.tenant_id,
                vault_items.c.id == item.id,
                vault_items.c.revision == item.revision,
            )
            .values(key_id=key_id, ciphertext=ciphertext, revision=item.revision + 1)
        )
        return bool(result.rowcount)

    async def not_under_key(self, key_id: str, *, after: str | None, limit: int) -> list[VaultItem]:
        query = vault_items.select().where(vault_items.c.key_id != key_id)
        if after:
            query = query.where(vault_items.c.id > after)
        rows = (await self.conn.execute(query.order_by(vault_items.c.id).limit(limit))).all()
        return [_item(row) for row in rows]

    async def count_by_key(self) -> dict[str, int]:
        query = sa.select(vault_items.c.key_id, sa.func.count()).group_by(vault_items.c.key_id)
        return {key_id: count for key_id, count in (await self.conn.execute(query)).all()}


class SqlAccessLog:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def append(self, records: Sequence[AccessRecord]) -> None:
        if records:
            await self.conn.execute(
                vault_access_log.insert(),
                [to_columns(record, vault_access_log) for record in records],
            )

    async def summary(self, tenant_id: str, item_ids: Sequence[str]) -> tuple[int, datetime | None]:
        query = sa.select(sa.func.count(), sa.func.max(vault_access_log.c.at)).where(
            vault_access_log.c.tenant_id == tenant_id,
            vault_access_log.c.item_id.in_(list(item_ids)),
            vault_access_log.c.outcome == "ok",
        )
        count, last = (await self.conn.execute(query)).one()
        return int(count), utc(last)

    async def page(
        self, tenant_id: str, item_ids: Sequence[str], *, before: str | None, limit: int
    ) -> Page[AccessRecord]:
        """Newest first; ``before`` is the cursor of the previous page."""
        query = vault_access_log.select().where(
            vault_access_log.c.tenant_id == tenant_id, vault_access_log.c.item_id.in_(list(item_ids))
        )
        if before:
            query = query.where(vault_access_log.c.id < before)
        rows = (await self.conn.execute(query.order_by(vault_access_log.c.id.desc()).limit(limit + 1))).all()
        return page(rows, limit, _record)

    async def tenant_page(
        self,
        tenant_id: str,
        *,
        before: str | None,
        limit: int,
        outcome: str | None = None,
        actor: str | None = None,
    ) -> Page[AccessRecord]:
        """Every record of the tenant, newest first, optionally only one outcome or one actor."""
        query = vault_access_log.select().where(vault_access_log.c.tenant_id == tenant_id)
        if outcome:
            query = query.where(vault_access_log.c.outcome == outcome)
        if actor:
            query = query.where(vault_access_log.c.actor == actor)
        if before:
            query = query.where(vault_access_log.c.id < before)
        rows = (await self.conn.execute(query.order_by(vault_access_log.c.id.desc()).limit(limit + 1))).all()
        return page(rows, limit, _record)
