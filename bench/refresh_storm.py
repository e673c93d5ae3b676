"""2,000 connections expiring together, refreshed by two processes sharing PostgreSQL.

    python bench/refresh_storm.py [--connections 2000] [--postgres-url postgresql://postgres@127.0.0.1:5432/test]

Runs the Authlib peer authorization server in this process, creates a throw-away database, seals 2,000
OAuth connections whose tokens are all due, then lets this process and a second one sweep them at the same
time. Prints the token requests that reached the peer per connection (single flight means 1.00), refreshes
per second, and that rate as a ratio to bare refresh requests sent straight to the same token endpoint in
the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.peers.oauth_server import DEFAULT_USER, OAuthServerPeer, running_oauth_server
from tests.peers.oauth_storage import IssuedToken

from switchyard.core.clock import utcnow
from switchyard.core.models import Principal
from switchyard.core.scopes import Scope
from switchyard.services.connections import NewCredentials
from switchyard.services.container import Container, build
from switchyard.services.integrations import IntegrationSpec
from switchyard.settings import Settings

MASTER_KEY = "bench:" + base64.b64encode(b"\x02" * 32).decode()
CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-client-secret"


def mint(server: OAuthServerPeer) -> IssuedToken:
    token = IssuedToken(
        access_token=secrets.token_urlsafe(24), client_id=CLIENT_ID, grant_type="authorization_code",
        scope="read", user=DEFAULT_USER, refresh_token=secrets.token_urlsafe(24), access_ttl=3600,
    )  # fmt: skip
    server.store.add_token(token)
    return token


async def bare_refresh_rate(server: OAuthServerPeer, count: int) -> float:
    tokens = [mint(server) for _ in range(count)]
    async with httpx2.AsyncClient() as client:
        started = time.perf_counter()
        for token in tokens:
            answer = await client.post(
                server.token_url,
                data={"grant_type": "refresh_token", "refresh_token": token.refresh_token or ""},
                auth=(CLIENT_ID, CLIENT_SECRET),
            )
            answer.raise_for_status()
        return count / (time.perf_counter() - started)


async def seed(container: Container, server: OAuthServerPeer, count: int) -> None:
    tenant = await container.tenancy.create_tenant("bench")
    principal = Principal(tenant.id, "bench", frozenset(s.value for s in Scope))
    definition = f"""
name: peer
version: 1.0.0
displayName: Peer
authenticationMethods:
  - type: oauth2
    authorizationUrl: {server.authorization_url}
    tokenUrl: {server.token_url}
    expiryBufferSeconds: 60
proxy: {{baseUrl: "{server.url}"}}
"""
    await container.catalog.put(principal, "peer", definition)
    integration = await container.integrations.create(
        principal,
        IntegrationSpec(
            frozenset(), key="peer", connector_id="peer", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
        ),
    )
    user = await container.tenancy.create_end_user(principal, external_id="storm")
    due = utcnow()
    for _ in range(count):
        token = mint(server)
        values = {
            "access_token": token.access_token,
            "refresh_token": token.refresh_token,
            "token_type": "Bearer",
        }
        await container.connections.create(integration, user.id, NewCredentials(values, due, ("read",)))


async def sweep_until_done(container: Container) -> None:
    while await container.refresher.sweep(horizon=timedelta(0), limit=500):
        pass


WORKER = """
import asyncio, json, sys, time
from datetime import timedelta
from switchyard.services.container import build
from switchyard.settings import Settings

async def main(spec):
    container = build(Settings(**spec["settings"]))
    await container.start(upgrade=False)
    await asyncio.sleep(max(0.0, spec["start_at"] - time.time()))
    while await container.refresher.sweep(horizon=timedelta(0), limit=500):
        pass
    await container.close()

asyncio.run(main(json.loads(sys.argv[1])))
"""


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    name = f"switchyard_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(args.postgres_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = (
        args.postgres_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with running_oauth_server(access_token_ttl=3600) as server:
                server.register_client(
                    CLIENT_ID, CLIENT_SECRET, redirect_uris=["https://example.invalid/cb"], scopes=["read"],
                    grant_types=["authorization_code", "refresh_token"],
                )  # fmt: skip
                bare = await bare_refresh_rate(server, 300)
                spec = {"database_url": url, "master_key": MASTER_KEY, "data_dir": tmp, "log_level": "ERROR"}
                container = build(Settings(**spec))  # type: ignore[arg-type]
                await container.start(upgrade=True)
                try:
                    await seed(container, server, args.connections)
                    before = server.token_requests["refresh_token"]
                    start_at = time.time() + 2.0
                    worker = await asyncio.create_subprocess_exec(
                        sys.executable, "-c", WORKER, json.dumps({"settings": spec | {"data_dir": tmp + "/w"}, "start_at": start_at}),
                        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
                    )  # fmt: skip
                    await asyncio.sleep(max(0.0, start_at - time.time()))
                    started = time.perf_counter()
                    await sweep_until_done(container)
                    await worker.wait()
                    elapsed = time.perf_counter() - started
                    requests = server.token_requests["refresh_token"] - before
                finally:
                    await container.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    rate = args.connections / elapsed
    print(f"connections: {args.connections}, processes: 2, elapsed: {elapsed:.2f} s")
    print(f"token requests at the peer: {requests}")
    print(f"token requests per connection: {requests / args.connections:.2f}")
    print(f"bare refresh requests to the peer: {bare:,.0f} /s")
    print(f"refreshes through Switchyard: {rate:,.0f} /s")
    print(f"ratio: switchyard_refreshes_per_s/bare_refresh_requests_per_s={rate / bare:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
