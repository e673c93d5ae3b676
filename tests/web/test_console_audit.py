"""The audit log: the tenant's vault access records, newest first, paged and filtered; and its service."""

from __future__ import annotations

import pytest

from switchyard.core.clock import utcnow
from switchyard.core.errors import Forbidden, InvalidInput
from switchyard.core.ids import new_id
from switchyard.core.models import AccessRecord
from switchyard.services.audit import AuditService
from switchyard.services.container import Container
from switchyard.services.vault import Accessor
from switchyard.web.routes import audit as audit_pages
from tests.conftest import TenantFixture, make_tenant
from tests.web.conftest import Console

XSS = "<script>alert(1)</script>"
XSS_ATTR = '"><img src=x onerror=alert(1)>'


async def _opened(
    container: Container, tenant: TenantFixture, name: str, actor: str = "connection:con_1"
) -> None:
    """A secret, opened once by ``actor`` (one ``ok`` access record)."""
    await container.secrets.create(tenant.principal, name=name, value="opened-value-123456")
    await container.secrets.resolve(
        tenant.id, {"key": {"secret_name": name}}, accessor=Accessor(actor, "proxy.request")
    )


async def _failed(
    container: Container, tenant: TenantFixture, actor: str, purpose: str = "proxy.request"
) -> None:
    record = AccessRecord(
        id=new_id("acc"),
        tenant_id=tenant.id,
        item_id=new_id("vlt"),
        owner_kind="secret_version",
        owner_id=new_id("sev"),
        actor=actor,
        purpose=purpose,
        outcome="failed",
        at=utcnow(),
        error_code="vault.decrypt_failed",
        request_id="req_audit_test",
    )
    async with container.db.transaction() as tx:
        await tx.access_log.append([record])


async def test_the_service_pages_filters_and_keeps_tenants_apart(
    container: Container, tenant: TenantFixture
) -> None:
    audit = AuditService(container.db)
    other = await make_tenant(container)
    await _opened(container, tenant, "first", actor="connection:a")
    await _opened(container, tenant, "second", actor="connection:b")
    await _failed(container, tenant, "connection:b")
    await _opened(container, other, "theirs", actor="connection:a")

    everything = await audit.access_log(tenant.principal)
    assert [(r.actor, r.outcome) for r in everything.items] == [
        ("connection:b", "failed"),
        ("connection:b", "ok"),
        ("connection:a", "ok"),
    ]
    assert everything.next_cursor is None
    first = await audit.access_log(tenant.principal, limit=2)
    assert len(first.items) == 2 and first.next_cursor == first.items[-1].id
    rest = await audit.access_log(tenant.principal, limit=2, before=first.next_cursor)
    assert [r.actor for r in rest.items] == ["connection:a"] and rest.next_cursor is None
    failed = await audit.access_log(tenant.principal, outcome="failed")
    assert [r.error_code for r in failed.items] == ["vault.decrypt_failed"]
    by_actor = await audit.access_log(tenant.principal, actor="connection:a")
    assert [r.tenant_id for r in by_actor.items] == [tenant.id]
    with pytest.raises(InvalidInput):
        await audit.access_log(tenant.principal, outcome="maybe")
    narrow = await make_tenant(container, "connections:read")
    with pytest.raises(Forbidden):
        await audit.access_log(narrow.principal)
    reader = await make_tenant(container, "secrets:read")
    assert (await audit.access_log(reader.principal)).items == []


async def test_the_page_needs_a_signed_in_user(signed_out: Console) -> None:
    answer = await signed_out.client.get("/console/audit")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login")


async def test_the_page_shows_access_and_filters_by_outcome(console: Console) -> None:
    empty = await console.client.get("/console/audit")
    assert empty.status_code == 200 and "No records" in empty.text
    await _opened(console.container, console.tenant, "audited", actor="connection:con_audit")
    await _failed(console.container, console.tenant, "connection:con_broken")
    page = (await console.client.get("/console/audit")).text
    assert "connection:con_audit" in page and "proxy.request" in page and "secret_version" in page
    assert "connection:con_broken" in page and "vault.decrypt_failed" in page and "req_audit_test" in page
    assert page.index("connection:con_broken") < page.index("connection:con_audit")  # newest first

    failed = (await console.client.get("/console/audit", params={"outcome": "failed"})).text
    assert "connection:con_broken" in failed and "connection:con_audit" not in failed
    assert '<option value="failed" selected>' in failed
    ok = (await console.client.get("/console/audit", params={"outcome": "ok"})).text
    assert "connection:con_audit" in ok and "connection:con_broken" not in ok
    mine = (await console.client.get("/console/audit", params={"actor": "connection:con_audit"})).text
    assert "connection:con_audit" in mine and "connection:con_broken" not in mine
    bogus = await console.client.get("/console/audit", params={"outcome": "maybe"})
    assert bogus.status_code == 422 and "audit.invalid_outcome" in bogus.text


async def test_the_page_links_to_older_records(console: Console) -> None:
    for number in range(audit_pages.PAGE + 1):
        await _failed(console.container, console.tenant, f"connection:c{number:03d}")
    page = (await console.client.get("/console/audit", params={"outcome": "failed"})).text
    assert page.count("data-record=") == audit_pages.PAGE
    assert "connection:c050" in page and "connection:c000" not in page
    start = page.index('href="/console/audit?outcome=failed&amp;before=')
    link = page[start + 6 : page.index('"', start + 6)].replace("&amp;", "&")
    older = (await console.client.get(link)).text
    assert older.count("data-record=") == 1 and "connection:c000" in older and "Older records" not in older
    assert ">Newest</a>" in older


async def test_recorded_text_renders_inert(console: Console) -> None:
    await _failed(console.container, console.tenant, XSS, purpose=XSS_ATTR)
    page = (await console.client.get("/console/audit")).text
    assert XSS not in page and XSS_ATTR not in page
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        and "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    )
    echoed = (await console.client.get("/console/audit", params={"actor": XSS_ATTR})).text
    assert XSS_ATTR not in echoed and 'value="&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"' in echoed
