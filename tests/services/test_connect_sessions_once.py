"""A connect session is spent by the first connection made through it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from switchyard.adapters.db.tables import connections
from switchyard.core.errors import InvalidInput, Unauthenticated
from switchyard.services.connect import EndUserSpec
from switchyard.services.container import Container
from switchyard.services.integrations import IntegrationSpec
from tests.conftest import KEYED_API_KEY, TenantFixture
from tests.flows.test_proxy import keyed_definition
from tests.peers.provider_api import ProviderApiPeer

VERIFIED = "verification: {path: /user}\n"


async def _keyed(container: Container, tenant: TenantFixture, url: str, *keys: str) -> None:
    await container.catalog.put(tenant.principal, "keyed", keyed_definition(url, extra=VERIFIED))
    for key in keys:
        spec = IntegrationSpec(
            fields=frozenset({"key", "connector_id", "auth_provider", "auth_type"}),
            key=key,
            connector_id="keyed",
            auth_provider="direct",
            auth_type="api_key",
        )
        await container.integrations.create(tenant.principal, spec)


async def _connections(container: Container, tenant_id: str) -> int:
    async with container.db.transaction(write=False) as tx:
        query = (
            sa.select(sa.func.count()).select_from(connections).where(connections.c.tenant_id == tenant_id)
        )
        return int((await tx.conn.execute(query)).scalar_one())


async def test_connect_with_session_connects_then_the_link_is_spent(
    container: Container, tenant: TenantFixture, keyed_api: ProviderApiPeer
) -> None:
    await _keyed(container, tenant, keyed_api.url, "keyed")
    new = await container.connect_sessions.create(tenant.principal, EndUserSpec("ext-7"))
    session = await container.connect_sessions.resolve(new.token)
    assert session.used_at is None

    connection = await container.connection_actions.connect_with_session(
        session, "keyed", credentials={"api_key": KEYED_API_KEY}, connection_config={}
    )
    assert connection.status == "active" and connection.end_user_id == new.end_user.id
    assert connection.tenant_id == tenant.id

    with pytest.raises(Unauthenticated) as caught:
        await container.connect_sessions.resolve(new.token)
    assert caught.value.code == "connect_session.used"
    assert caught.value.detail == "this connect link was already used"
    assert caught.value.remediation == "Ask the application for a new connect link."
    await container.connect_sessions.mark_used(session)  # again: no error, nothing changes
    assert await _connections(container, tenant.id) == 1


async def test_a_used_session_is_refused(container: Container, tenant: TenantFixture) -> None:
    new = await container.connect_sessions.create(tenant.principal, EndUserSpec("ext-8"))
    await container.connect_sessions.mark_used(new.session)
    with pytest.raises(Unauthenticated) as caught:
        await container.connect_sessions.resolve(new.token)
    assert caught.value.code == "connect_session.used"
    with pytest.raises(Unauthenticated) as unknown:
        await container.connect_sessions.resolve("cs_unknown")
    assert unknown.value.code == "connect_session.invalid"
    assert "missing, unknown or expired" in unknown.value.detail


async def test_a_disallowed_integration_is_refused_and_nothing_is_stored(
    container: Container, tenant: TenantFixture, keyed_api: ProviderApiPeer
) -> None:
    await _keyed(container, tenant, keyed_api.url, "keyed", "keyed-two")
    new = await container.connect_sessions.create(
        tenant.principal, EndUserSpec("ext-9"), allowed_integrations=["keyed"]
    )
    session = await container.connect_sessions.resolve(new.token)
    with pytest.raises(InvalidInput) as caught:
        await container.connection_actions.connect_with_session(
            session, "keyed-two", credentials={"api_key": KEYED_API_KEY}, connection_config={}
        )
    assert caught.value.code == "connect_session.integration_not_allowed"
    assert await _connections(container, tenant.id) == 0
    assert (await container.connect_sessions.resolve(new.token)).used_at is None  # still usable

    refused = await container.connect_sessions.resolve(new.token)
    with pytest.raises(InvalidInput) as wrong_key:
        await container.connection_actions.connect_with_session(
            refused, "keyed", credentials={"api_key": "not-the-key"}, connection_config={}
        )
    assert wrong_key.value.code == "connection.verification_failed"
    assert await _connections(container, tenant.id) == 0
    assert (await container.connect_sessions.resolve(new.token)).used_at is None  # a typo does not spend it
