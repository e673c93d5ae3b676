"""Direct database access for tests that must reach under the services (tampering, inspection)."""

from __future__ import annotations

import sqlalchemy as sa

from switchyard.adapters.db.tables import secret_versions, secrets, vault_items
from switchyard.core.models import VaultItem
from switchyard.services.container import Container


async def item_of_secret(
    container: Container, tenant_id: str, name: str, version: int | None = None
) -> VaultItem:
    query = (
        sa.select(secret_versions.c.item_id)
        .join(secrets, secrets.c.id == secret_versions.c.secret_id)
        .where(secrets.c.tenant_id == tenant_id, secrets.c.name == name)
        .where(secret_versions.c.version == (version or secrets.c.current_version))
    )
    async with container.db.transaction(write=False) as tx:
        item_id = (await tx.conn.execute(query)).scalar_one()
        [item] = await tx.vault_items.get_many(tenant_id, [item_id])
    return item


async def overwrite_ciphertext(container: Container, item_id: str, blob: bytes) -> None:
    async with container.db.transaction() as tx:
        await tx.conn.execute(vault_items.update().where(vault_items.c.id == item_id).values(ciphertext=blob))


async def all_items(container: Container) -> list[VaultItem]:
    async with container.db.transaction(write=False) as tx:
        ids = (await tx.conn.execute(sa.select(vault_items.c.id, vault_items.c.tenant_id))).all()
        found: list[VaultItem] = []
        for item_id, tenant_id in ids:
            found.extend(await tx.vault_items.get_many(tenant_id, [item_id]))
    return found
