"""The signed operate API end to end: caller keys, the JWKS, a real action on a loopback provider, and every
refused request (bad signature, replay, stale time, path mismatch, another tenant's connection)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from joserfc import jwe
from joserfc.jwk import OKPKey

from switchyard.core import signing
from switchyard.core.crypto import parse_master_keys
from switchyard.services.container import Container
from switchyard.services.operate import OperateService
from tests.api.test_problem_json import assert_problem
from tests.conftest import KEYED_API_KEY, TEST_MASTER_KEY, TenantFixture, make_tenant
from tests.flows.test_proxy import connect_keyed
from tests.peers.provider_api import ProviderApiPeer, running_provider_api

API_KEY = KEYED_API_KEY
SEAL_ALGORITHMS = ["ECDH-ES+A256KW", "A256GCM"]


ACTIONS = """
actions:
  - name: whoami
    description: The account the key belongs to.
    request: {path: /user}
  - name: send
    description: Echo a message.
    inputSchema:
      type: object
      required: [text]
      properties: {text: {type: string, description: The text}}
      additionalProperties: false
    request: {method: POST, path: /echo, body: {text: "{{text}}"}}
    response: {select: body.json}
"""


@dataclass
class Caller:
    """What a caller holds: an Ed25519 key to sign requests and an X25519 key to open sealed results."""

    kid: str = "caller-sig-1"
    signer: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    box: X25519PrivateKey = field(default_factory=X25519PrivateKey.generate)

    def sig_jwk(self) -> dict[str, str]:
        public = OKPKey.import_key(self.signer.public_key()).as_dict(private=False)
        return {**public, "kid": self.kid}

    def enc_jwk(self) -> dict[str, str]:
        return {**OKPKey.import_key(self.box.public_key()).as_dict(private=False), "kid": "caller-enc-1"}

    def request(
        self,
        connection_id: str,
        operation: str = "whoami",
        parameters: dict[str, Any] | None = None,
        *,
        connector_id: str = "keyed",
        at: datetime | None = None,
    ) -> dict[str, Any]:
        moment = at or datetime.now(UTC)
        return {
            "request_id": str(uuid.uuid4()),
            "connector_id": connector_id,
            "credential_reference": connection_id,
            "operation": operation,
            "parameters": parameters or {},
            "request_time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "sat_reference": None,
        }

    def envelope(self, request: dict[str, Any]) -> dict[str, Any]:
        text = signing.canonical_bytes(request)
        return {
            "connector_request": text.decode(),
            "signature": signing.sign(self.signer, text),
            "kid": self.kid,
        }


@pytest.fixture
async def provider() -> AsyncIterator[ProviderApiPeer]:
    async with running_provider_api(api_key=API_KEY) as peer:
        yield peer


async def _connect(api: httpx2.AsyncClient, tenant: TenantFixture, url: str, extra: str = "") -> str:
    return await connect_keyed(api, tenant, url, extra=ACTIONS + extra)


async def _register(api: httpx2.AsyncClient, tenant: TenantFixture, jwk: dict[str, str]) -> httpx2.Response:
    return await api.post("/api/v1/caller-keys", json={"jwk": jwk}, headers=tenant.headers)


async def _operate(
    api: httpx2.AsyncClient, tenant: TenantFixture, envelope: dict[str, Any], connector_id: str = "keyed"
) -> httpx2.Response:
    return await api.post(f"/api/v1/connectors/{connector_id}/operate", json=envelope, headers=tenant.headers)


async def _verified(api: httpx2.AsyncClient, answer: httpx2.Response) -> dict[str, Any]:
    """Check the response the way a caller does: the JWKS key named by kid, over the bytes as received."""
    assert answer.status_code == 200, answer.text
    body = answer.json()
    published = (await api.get("/.well-known/jwks.json")).json()["keys"]
    jwk = next(key for key in published if key["kid"] == body["kid"])
    public = signing.import_public_jwk(jwk)
    assert signing.verify(public.verifier(), body["connector_response"].encode(), body["signature"])
    response: dict[str, Any] = json.loads(body["connector_response"])
    assert signing.canonical_bytes(response) == body["connector_response"].encode()
    return response


# -- caller keys and the JWKS --


async def test_caller_keys_are_registered_listed_and_revoked(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture
) -> None:
    caller = Caller()
    made = await _register(api, tenant, caller.sig_jwk())
    assert made.status_code == 201, made.text
    assert made.json()["kid"] == caller.kid and made.json()["use"] == "sig"
    assert made.json()["jwk"]["crv"] == "Ed25519" and made.json()["status"] == "active"
    assert (await _register(api, tenant, caller.enc_jwk())).json()["use"] == "enc"

    again = await _register(api, tenant, caller.sig_jwk())
    assert_problem(again, 409, "caller_key.exists")
    private = OKPKey.import_key(Ed25519PrivateKey.generate()).as_dict(private=True)
    leaked = await _register(api, tenant, {**private, "kid": "oops"})
    assert_problem(leaked, 422, "caller_key.invalid_jwk")
    assert private["d"] not in leaked.text

    listed = (await api.get("/api/v1/caller-keys", headers=tenant.headers)).json()["caller_keys"]
    assert [key["kid"] for key in listed] == [caller.kid, "caller-enc-1"]  # the refused key was not stored

    revoked = await api.delete(f"/api/v1/caller-keys/{caller.kid}", headers=tenant.headers)
    assert revoked.status_code == 204
    assert (await api.delete(f"/api/v1/caller-keys/{caller.kid}", headers=tenant.headers)).status_code == 204
    assert_problem(
        await api.delete("/api/v1/caller-keys/nope", headers=tenant.headers), 404, "caller_key.not_found"
    )
    listed = (await api.get("/api/v1/caller-keys", headers=tenant.headers)).json()["caller_keys"]
    assert listed[0]["status"] == "revoked" and listed[0]["revoked_at"] is not None

    other = await make_tenant(container, "admin")
    assert (await api.get("/api/v1/caller-keys", headers=other.headers)).json()["caller_keys"] == []
    narrow = await make_tenant(container, "actions")
    assert_problem(await _register(api, narrow, Caller().sig_jwk()), 403, "auth.missing_scope")


async def test_the_jwks_is_public_and_holds_the_key_of_every_master_key(api: httpx2.AsyncClient) -> None:
    answer = await api.get("/.well-known/jwks.json")
    assert answer.status_code == 200
    assert "max-age" in answer.headers["cache-control"]
    (master,) = parse_master_keys(TEST_MASTER_KEY)
    assert answer.json() == {"keys": [signing.derive_platform_key(master).public_jwk()]}
    assert all("d" not in key for key in answer.json()["keys"])


# -- refused requests (no action runs) --


async def test_bad_envelopes_and_signatures_are_refused_and_nothing_is_recorded(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture, provider: ProviderApiPeer
) -> None:
    connection_id = await _connect(api, tenant, provider.url)
    calls = provider.calls["/user"]
    caller = Caller()
    request = caller.request(connection_id)
    good = caller.envelope(request)

    unregistered = await _operate(api, tenant, good)
    assert_problem(unregistered, 401, "signature.invalid")
    assert (await _register(api, tenant, caller.sig_jwk())).status_code == 201

    tampered = {**good, "connector_request": good["connector_request"].replace("whoami", "send")}
    assert_problem(await _operate(api, tenant, tampered), 401, "signature.invalid")
    changed = caller.envelope({**request, "parameters": {"text": "hi"}})
    swapped = {**good, "connector_request": changed["connector_request"]}  # new parameters, old signature
    assert_problem(await _operate(api, tenant, swapped), 401, "signature.invalid")
    stranger = Caller().envelope(request)
    assert_problem(await _operate(api, tenant, {**stranger, "kid": None}), 401, "signature.invalid")
    unsigned = {"connector_request": good["connector_request"]}
    assert_problem(await _operate(api, tenant, unsigned), 401, "signature.invalid")
    garbage = {**good, "signature": "%%%"}
    assert_problem(await _operate(api, tenant, garbage), 401, "signature.invalid")

    stale = caller.envelope({**request, "request_time": "2020-01-01T00:00:00Z"})
    assert_problem(await _operate(api, tenant, stale), 401, "signature.expired")
    future = datetime.now(UTC) + timedelta(hours=1)
    early = caller.envelope(caller.request(connection_id, at=future))
    assert_problem(await _operate(api, tenant, early), 401, "signature.expired")

    elsewhere = await _operate(api, tenant, good, connector_id="github")
    assert_problem(elsewhere, 422, "operate.connector_mismatch")
    assert_problem(await _operate(api, tenant, {**good, "sat_token": "t"}), 422, "operate.sat_unsupported")
    for broken in ("not json", "[]", '{"request_id": "x"}', '{"a": 1, "a": 2}'):
        answer = await _operate(api, tenant, {**good, "connector_request": broken})
        assert answer.status_code == 422, answer.text
    with_extra = caller.envelope({**request, "priority": "high"})
    assert_problem(await _operate(api, tenant, with_extra), 422, "operate.invalid_request")
    assert provider.calls["/user"] == calls  # nothing ran

    # The signed request's id was not used up by any refusal: it still runs, once.
    assert (await _verified(api, await _operate(api, tenant, good)))["status"] == "success"
    assert_problem(await _operate(api, tenant, good), 401, "signature.replayed")
    assert provider.calls["/user"] == calls + 1


async def test_another_tenants_connection_is_not_found(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture, provider: ProviderApiPeer
) -> None:
    connection_id = await _connect(api, tenant, provider.url)
    calls = provider.calls["/user"]
    other = await make_tenant(container, "admin")
    caller = Caller()
    assert (await _register(api, other, caller.sig_jwk())).status_code == 201
    theirs = await _operate(api, other, caller.envelope(caller.request(connection_id)))
    assert_problem(theirs, 404, "connection.not_found")
    unknown = await _operate(api, other, caller.envelope(caller.request("con_unknown")))
    assert_problem(unknown, 404, "connection.not_found")
    assert provider.calls["/user"] == calls


async def test_the_scope_actions_is_needed(api: httpx2.AsyncClient, container: Container) -> None:
    reader = await make_tenant(container, "connections:read")
    envelope = Caller().envelope(Caller().request("con_x"))
    assert_problem(await _operate(api, reader, envelope), 403, "auth.missing_scope")
    anonymous = await api.post("/api/v1/connectors/keyed/operate", json=envelope)
    assert anonymous.status_code == 401  # the API key still authenticates the tenant


# -- real operations --


async def test_a_signed_operation_runs_and_its_response_verifies(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture, provider: ProviderApiPeer
) -> None:
    connection_id = await _connect(api, tenant, provider.url)
    caller = Caller()
    assert (await _register(api, tenant, caller.sig_jwk())).status_code == 201

    request = caller.request(connection_id, "send", {"text": "héllo"})
    response = await _verified(api, await _operate(api, tenant, caller.envelope(request)))
    assert response["request_id"] == request["request_id"]
    assert response["status"] == "success"
    assert response["result_data"] == {"text": "héllo"}  # no enc key yet: in the clear
    metadata = response["service_metadata"]
    assert metadata["action"] == "send" and metadata["connection_id"] == connection_id
    assert metadata["attempts"] >= 1 and metadata["duration_ms"] >= 0 and metadata["provider"]
    assert "result_encryption" not in metadata
    assert datetime.fromisoformat(response["timestamp"]) <= datetime.now(UTC)

    # The seed's shape: the signature inside the request as request_signature, none in the envelope.
    envelope = caller.envelope(caller.request(connection_id))
    inside = json.loads(envelope["connector_request"]) | {"request_signature": envelope["signature"]}
    seed_shaped = {"connector_request": json.dumps(inside, indent=2), "sat_token": None, "signature": None}
    assert (await _verified(api, await _operate(api, tenant, seed_shaped)))["status"] == "success"


async def test_results_are_sealed_to_the_callers_encryption_key(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture, provider: ProviderApiPeer
) -> None:
    connection_id = await _connect(api, tenant, provider.url)
    caller = Caller()
    for jwk in (caller.sig_jwk(), caller.enc_jwk()):
        assert (await _register(api, tenant, jwk)).status_code == 201

    response = await _verified(
        api, await _operate(api, tenant, caller.envelope(caller.request(connection_id)))
    )
    assert response["status"] == "success"
    sealed = response["result_data"]
    assert isinstance(sealed, str) and "octocat" not in sealed
    assert response["service_metadata"]["result_encryption"]["kid"] == "caller-enc-1"
    opened = jwe.decrypt_compact(sealed, OKPKey.import_key(caller.box), algorithms=SEAL_ALGORITHMS)
    assert json.loads(opened.plaintext)["login"] == "octocat"

    # An error is a signed response too, its details sealed the same way.
    failed = await _operate(api, tenant, caller.envelope(caller.request(connection_id, "no_such_action")))
    response = await _verified(api, failed)
    assert response["status"] == "error"
    opened = jwe.decrypt_compact(
        response["result_data"], OKPKey.import_key(caller.box), algorithms=SEAL_ALGORITHMS
    )
    assert json.loads(opened.plaintext)["code"] == "action.not_found"

    # After the caller revokes its encryption key, results travel in the clear again.
    assert (await api.delete("/api/v1/caller-keys/caller-enc-1", headers=tenant.headers)).status_code == 204
    clear = await _verified(api, await _operate(api, tenant, caller.envelope(caller.request(connection_id))))
    assert clear["result_data"]["login"] == "octocat"


async def test_a_rate_limited_operation_says_so(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture, provider: ProviderApiPeer
) -> None:
    connection_id = await _connect(api, tenant, provider.url, "rateLimits: {requestsPerMinute: 1}")
    caller = Caller()
    assert (await _register(api, tenant, caller.sig_jwk())).status_code == 201
    statuses = []
    for _ in range(2):
        answer = await _operate(api, tenant, caller.envelope(caller.request(connection_id)))
        statuses.append(await _verified(api, answer))
    assert [response["status"] for response in statuses] == ["success", "rate_limited"]
    data = statuses[1]["result_data"]
    assert data["retry_after"] > 0 and data["code"].startswith("rate_limit")


async def test_two_copies_sent_at_once_run_once(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture, provider: ProviderApiPeer
) -> None:
    connection_id = await _connect(api, tenant, provider.url)
    calls = provider.calls["/user"]
    caller = Caller()
    assert (await _register(api, tenant, caller.sig_jwk())).status_code == 201
    envelope = caller.envelope(caller.request(connection_id))
    answers = await asyncio.gather(*(_operate(api, tenant, envelope) for _ in range(4)))
    assert sorted(answer.status_code for answer in answers) == [200, 401, 401, 401]
    for answer in answers:
        if answer.status_code == 401:
            assert_problem(answer, 401, "signature.replayed")
    assert provider.calls["/user"] == calls + 1


# -- replay records --


async def test_request_ids_are_recorded_once_per_tenant_and_pruned(
    container: Container, tenant: TenantFixture
) -> None:
    other = await make_tenant(container, "admin")
    request_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    async with container.db.transaction() as tx:
        assert await tx.operate_requests.record(tenant.id, request_id, now - timedelta(hours=1))
        assert not await tx.operate_requests.record(tenant.id, request_id, now)
        assert await tx.operate_requests.record(other.id, request_id, now)  # ids are per tenant
    window = container.settings.operate_window_seconds
    service = OperateService(container.db, container.keyring, None, window_seconds=window)  # type: ignore[arg-type]
    assert await service.prune_request_ids() >= 1  # the hour-old one: beyond twice the window
    async with container.db.transaction() as tx:
        assert await tx.operate_requests.record(tenant.id, request_id, now)  # forgotten, so new again
        assert not await tx.operate_requests.record(other.id, request_id, now)  # too recent to prune
