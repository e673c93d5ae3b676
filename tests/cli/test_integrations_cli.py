"""``switchyard integrations``: create (secret from stdin or as a reference), list, show masked, delete."""

from __future__ import annotations

from typing import Any

from switchyard.cli.runtime import cli_principal
from switchyard.core.masking import mask
from tests.cli.conftest import Cli, open_container

CLIENT_SECRET = "gh-oauth-client-secret-0123456789"
MASKED = mask(CLIENT_SECRET, "oauth_client_secret")


async def test_client_secret_from_stdin_is_sealed_and_only_shown_masked(
    cli: Cli, demo: dict[str, Any]
) -> None:
    created = cli.run(
        "integrations", "create", "-t", "demo", "github-prod", "--connector", "github",
        "--client-id", "Iv1.abc", "--client-secret-stdin", "--scope", "repo", "--scope", "read:user",
        stdin=CLIENT_SECRET + "\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert CLIENT_SECRET not in created.stdout + created.stderr
    assert "created integration github-prod" in created.stdout

    shown = cli.ok("integrations", "show", "-t", "demo", "github-prod")
    assert f"client secret: {MASKED} (masked)" in shown and CLIENT_SECRET not in shown
    assert "scopes:        repo read:user" in shown
    as_json = cli.json("integrations", "show", "-t", "demo", "github-prod")
    assert as_json["client_secret"] == MASKED and as_json["client_secret_ref"] is None
    assert as_json["auth_provider"] == "builtin" and as_json["auth_type"] == "oauth2"

    async with open_container(cli.data_dir) as container:
        integration = await container.integrations.get(cli_principal(demo["tenant"]["id"]), "github-prod")
        assert await container.integrations.client_secret(integration, "test") == CLIENT_SECRET


def test_secret_reference_list_and_filters(cli: Cli, demo: dict[str, Any]) -> None:
    cli.ok("secrets", "set", "-t", "demo", "gitlab_client_secret", stdin=CLIENT_SECRET)
    created = cli.json(
        "integrations", "create", "-t", "demo", "gitlab", "--connector", "gitlab",
        "--client-id", "app-1", "--client-secret-ref", "gitlab_client_secret",
    )  # fmt: skip
    assert created["client_secret_ref"] == {"secret_name": "gitlab_client_secret"}
    assert created["client_secret"] is None and created["scopes"]  # the connector's default scopes
    cli.ok("integrations", "create", "-t", "demo", "gh-pat", "--connector", "github",
           "--auth-provider", "direct", "--auth-type", "api_key")  # fmt: skip

    listed = cli.json("integrations", "list", "-t", "demo")["integrations"]
    assert sorted(i["key"] for i in listed) == ["gh-pat", "gitlab"]
    only_github = cli.json("integrations", "list", "-t", "demo", "--connector", "github")["integrations"]
    assert [i["key"] for i in only_github] == ["gh-pat"]
    table = cli.ok("integrations", "list", "-t", "demo")
    assert "secret gitlab_client_secret" in table and CLIENT_SECRET not in table


def test_create_refuses_bad_combinations(cli: Cli, demo: dict[str, Any]) -> None:
    both = cli.run(
        "integrations", "create", "-t", "demo", "x", "--connector", "github", "--client-id", "a",
        "--client-secret-stdin", "--client-secret-ref", "s", stdin=CLIENT_SECRET,
    )  # fmt: skip
    assert both.returncode == 2 and "either --client-secret-stdin or --client-secret-ref" in both.stderr
    no_secret = cli.run(
        "integrations", "create", "-t", "demo", "x", "--connector", "github", "--client-id", "a"
    )
    assert no_secret.returncode == 1 and no_secret.stderr.startswith("error [integration.missing_client]")
    assert cli.json("integrations", "list", "-t", "demo") == {"integrations": []}


def test_delete_needs_yes_without_a_terminal(cli: Cli, demo: dict[str, Any]) -> None:
    cli.ok("integrations", "create", "-t", "demo", "gh", "--connector", "github",
           "--client-id", "a", "--client-secret-stdin", stdin=CLIENT_SECRET)  # fmt: skip
    refused = cli.run("integrations", "delete", "-t", "demo", "gh")
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        "error [cli.confirmation_required]: refusing to delete integration 'gh' without confirmation",
        "remediation: Pass --yes to delete without a prompt.",
    ]
    assert cli.json("integrations", "show", "-t", "demo", "gh")["key"] == "gh"

    assert cli.ok("integrations", "delete", "-t", "demo", "gh", "--yes").strip() == "deleted integration gh"
    gone = cli.run("integrations", "show", "-t", "demo", "gh")
    assert gone.returncode == 1 and gone.stderr.startswith("error [integration.not_found]")
