"""``switchyard connect`` against the Authlib peer; ``switchyard connections list/show/delete/test``.

``connect`` runs in a background subprocess; the test plays the browser (GET the printed URL at the peer,
which approves at once) and Switchyard's callback (no server runs here: the flow's service is called in
this process over the same data dir). The subprocess must notice the new connection and exit.
"""

from __future__ import annotations

import asyncio
from asyncio.subprocess import DEVNULL, PIPE
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from switchyard.cli.runtime import cli_principal
from switchyard.services.connections import NewCredentials
from switchyard.services.integrations import IntegrationSpec
from tests.cli.conftest import Cli, open_container
from tests.peers.oauth_server import OAuthServerPeer, running_oauth_server
from tests.peers.provider_api import running_provider_api

CLIENT_ID, CLIENT_SECRET = "switchyard-cli", "peer-client-secret-cli-123456"
WAIT = 30.0


def _definition(server: OAuthServerPeer) -> str:
    return f"""
name: peer
version: 1.0.0
displayName: Peer provider
authenticationMethods:
  - type: oauth2
    authorizationUrl: {server.authorization_url}
    tokenUrl: {server.token_url}
    revocationUrl: {server.revocation_url}
    defaultScopes: [read]
"""


@pytest.fixture
async def peer(cli: Cli, demo: dict[str, Any]) -> AsyncIterator[OAuthServerPeer]:
    """The Authlib peer, and tenant demo's integration "peer" of a definition pointing at it."""
    async with running_oauth_server() as server:
        async with open_container(cli.data_dir) as container:
            callback = f"{container.settings.public_base_url}/oauth/callback"
            server.register_client(CLIENT_ID, CLIENT_SECRET, redirect_uris=[callback], scopes=["read"])
            principal = cli_principal(demo["tenant"]["id"])
            await container.catalog.put(principal, "peer", _definition(server))
            spec = IntegrationSpec(
                fields=frozenset(),
                key="peer",
                connector_id="peer",
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
            )
            await container.integrations.create(principal, spec)
        yield server


async def _start_connect(cli: Cli, *args: str) -> tuple[asyncio.subprocess.Process, str]:
    """``switchyard connect`` in the background, and the authorization URL it printed first."""
    process = await asyncio.create_subprocess_exec(
        *cli.command("connect", "peer", "-t", "demo", *args),
        stdin=DEVNULL,
        stdout=PIPE,
        stderr=PIPE,
        env=cli.env(),
    )
    assert process.stdout is not None
    try:
        url = (await asyncio.wait_for(process.stdout.readline(), WAIT)).decode().strip()
    except BaseException:
        process.kill()
        await process.wait()
        raise
    return process, url


async def _finish(process: asyncio.subprocess.Process) -> tuple[int, str, str]:
    try:
        out, err = await asyncio.wait_for(process.communicate(), WAIT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _approve(url: str) -> dict[str, str]:
    """The end user's browser at the provider: redirected back with code and state (or an error)."""
    async with httpx2.AsyncClient(follow_redirects=False) as browser:
        answer = await browser.get(url)
    assert answer.status_code == 302, answer.text
    return {key: values[0] for key, values in parse_qs(urlsplit(answer.headers["location"]).query).items()}


def test_list_on_an_empty_tenant(cli: Cli, demo: dict[str, Any]) -> None:
    assert cli.ok("connections", "list", "-t", "demo").strip() == "no connections"
    assert cli.json("connections", "list", "-t", "demo") == {"connections": [], "next_cursor": None}
    unknown = cli.run("connections", "list", "-t", "demo", "--end-user", "nobody")
    assert unknown.returncode == 1 and unknown.stderr.startswith("error [end_user.not_found]")


async def test_connect_waits_for_the_connection(
    cli: Cli, demo: dict[str, Any], peer: OAuthServerPeer
) -> None:
    process, url = await _start_connect(cli, "--end-user", "u42", "--timeout", str(int(WAIT)))
    try:
        assert url.startswith(peer.authorization_url + "?"), url
        back = await _approve(url)
        async with open_container(cli.data_dir) as container:
            outcome = await container.oauth.callback(back)
    finally:
        code, out, err = await _finish(process)
    assert outcome.connection is not None, outcome.error
    connection_id = outcome.connection.id
    assert code == 0, err
    assert out.splitlines() == [f"connection: {connection_id}", "status:     active"]  # after the URL
    assert "Traceback" not in err

    listed = cli.json("connections", "list", "-t", "demo", "--end-user", "u42", "--integration", "peer")
    assert [c["id"] for c in listed["connections"]] == [connection_id]
    assert listed["connections"][0]["status"] == "active"
    shown = cli.ok("connections", "show", "-t", "demo", connection_id)
    assert "integration:    peer" in shown and "access_token=***" in shown and "(masked)" in shown
    async with open_container(cli.data_dir) as container:
        end_user = await container.tenancy.get_end_user(cli_principal(demo["tenant"]["id"]), "u42")
    assert listed["connections"][0]["end_user_id"] == end_user.id  # created by connect

    refused = cli.run("connections", "delete", "-t", "demo", connection_id)
    assert refused.returncode == 1 and refused.stderr.startswith("error [cli.confirmation_required]")
    # The peer answers from this event loop: the CLI runs in a thread meanwhile.
    deleted = await asyncio.to_thread(cli.ok, "connections", "delete", "-t", "demo", connection_id, "--yes")
    assert deleted.strip() == f"deleted connection {connection_id} (revocation at the provider: confirmed)"
    assert [r.token_type_hint for r in peer.revocation_log] == ["refresh_token", "access_token"]
    assert cli.json("connections", "list", "-t", "demo")["connections"] == []


async def test_connect_gives_up_after_the_timeout(
    cli: Cli, demo: dict[str, Any], peer: OAuthServerPeer
) -> None:
    process, url = await _start_connect(cli, "--end-user", "u7", "--timeout", "1")
    code, out, err = await _finish(process)
    assert url.startswith(peer.authorization_url)
    assert code == 1 and out == ""  # the URL line was read already
    assert "error [connect.timeout]: no connection after 1s: the authorization was not completed" in err
    assert "Traceback" not in err


async def test_connect_reports_a_denied_authorization(
    cli: Cli, demo: dict[str, Any], peer: OAuthServerPeer
) -> None:
    peer.deny_next = True
    process, url = await _start_connect(cli, "--end-user", "u8", "--timeout", "3")
    try:
        back = await _approve(url)
        assert back["error"] == "access_denied"
        async with open_container(cli.data_dir) as container:
            outcome = await container.oauth.callback(back)
    finally:
        code, _, err = await _finish(process)
    assert outcome.connection is None and outcome.error is not None
    assert code == 1
    assert "error [connect.failed]: the provider sent the browser back but no connection was made" in err


async def test_connections_test_checks_the_credentials(cli: Cli, demo: dict[str, Any]) -> None:
    principal = cli_principal(demo["tenant"]["id"])
    async with running_provider_api(api_key="k-123") as api:
        definition = f"""
name: keyed
version: 1.0.0
displayName: Keyed API
authenticationMethods:
  - type: api_key
    inject: {{in: header, name: X-Api-Key, format: "{{{{api_key}}}}"}}
proxy: {{baseUrl: "{api.url}"}}
verification: {{path: /user}}
"""
        async with open_container(cli.data_dir) as container:
            await container.catalog.put(principal, "keyed", definition)
            spec = IntegrationSpec(
                fields=frozenset(), key="keyed", connector_id="keyed", auth_provider="direct"
            )
            integration = await container.integrations.create(principal, spec)
            user = await container.tenancy.create_end_user(principal, external_id="u1")
            good = await container.connections.create(
                integration, user.id, NewCredentials({"api_key": "k-123"})
            )
            bad = await container.connections.create(
                integration, user.id, NewCredentials({"api_key": "nope"})
            )
        # The provider API answers from this event loop: the CLI runs in a thread meanwhile.
        worked = await asyncio.to_thread(cli.json, "connections", "test", "-t", "demo", good.id)
        assert worked["success"] is True and worked["error"] is None and worked["status"] == 200
        failed = await asyncio.to_thread(cli.run, "connections", "test", "-t", "demo", bad.id)
        assert failed.returncode == 1 and f"connection {bad.id} failed" in failed.stdout
