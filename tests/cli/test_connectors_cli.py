"""``switchyard connectors``: the built-in catalog and its filters, show, schema, offline validation, and a
tenant's own definitions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import Cli

PEER = """\
name: peer
version: 1.0.0
displayName: Peer provider
categories: [development]
authenticationMethods:
  - type: oauth2
    authorizationUrl: https://peer.example/authorize
    tokenUrl: https://peer.example/token
    defaultScopes: [read]
"""


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def test_list_the_builtin_catalog_and_filter_it(cli: Cli) -> None:
    table = cli.ok("connectors", "list")
    github = next(line for line in table.splitlines() if line.startswith("github "))
    assert github.split() == ["github", "GitHub", "development", "api_key,", "oauth2", "1.0.0", "builtin"]

    development = cli.json("connectors", "list", "--category", "development")["connectors"]
    assert "github" in {c["connector_id"] for c in development}
    assert all("development" in c["categories"] for c in development)
    oauth1 = cli.json("connectors", "list", "--auth", "oauth1")["connectors"]
    assert oauth1 and all("oauth1" in c["authentication_methods"] for c in oauth1)
    assert "github" not in {c["connector_id"] for c in oauth1}
    found = cli.json("connectors", "list", "--q", "Calendar", "--auth", "oauth2")["connectors"]
    assert "google-calendar" in {c["connector_id"] for c in found} and "github" not in str(found)


def test_show_github(cli: Cli) -> None:
    shown = cli.ok("connectors", "show", "github")
    assert "name:              GitHub" in shown
    assert "auth method oauth2:" in shown and "auth method api_key:" in shown
    assert "authorization url: https://github.com/login/oauth/authorize" in shown
    assert "proxy base url:    https://api.github.com" in shown

    definition = cli.json("connectors", "show", "github")
    assert definition["name"] == "github" and definition["displayName"] == "GitHub"
    oauth2 = definition["authenticationMethods"][0]
    assert oauth2["tokenUrl"] == "https://github.com/login/oauth/access_token"
    assert "revocationUrl" not in oauth2  # by alias, None left out

    missing = cli.run("connectors", "show", "no-such-thing")
    assert missing.returncode == 1 and missing.stderr.startswith("error [connector.not_found]")


def test_schema_is_a_json_schema(cli: Cli) -> None:
    schema = json.loads(cli.ok("connectors", "schema"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "authenticationMethods" in schema["properties"]


def test_validate_names_the_file_line_and_field(cli: Cli, tmp_path: Path) -> None:
    good = _write(tmp_path, "good.yaml", PEER)
    broken_text = PEER.replace("    tokenUrl: https://peer.example/token\n", "")
    broken = _write(tmp_path, "broken.yaml", broken_text)
    line = broken_text.splitlines().index("  - type: oauth2") + 1
    env = {"SWITCHYARD_DATA_DIR": str(tmp_path / "never-created")}

    ok = cli.run("connectors", "validate", str(good), env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == f"ok peer 1.0.0 ({good})\n"

    both = cli.run("connectors", "validate", str(good), str(broken), env=env)
    assert both.returncode == 1
    assert both.stdout.splitlines() == [
        f"ok peer 1.0.0 ({good})",
        f"{broken}:{line}: authenticationMethods.0.tokenUrl: Field required",
    ]
    as_json = json.loads(cli.run("connectors", "validate", str(good), str(broken), "--json", env=env).stdout)
    assert as_json == [
        {"file": str(good), "valid": True, "problems": []},
        {
            "file": str(broken),
            "valid": False,
            "problems": [
                {"path": "authenticationMethods.0.tokenUrl", "line": line, "message": "Field required"}
            ],
        },
    ]
    assert not (tmp_path / "never-created").exists()  # no container, no database


def test_put_and_remove_tenant_definitions(cli: Cli, demo: dict[str, Any], tmp_path: Path) -> None:
    peer = _write(tmp_path, "peer.yaml", PEER)
    assert cli.ok("connectors", "put", "-t", "demo", str(peer)).strip() == "saved peer 1.0.0"
    listed = {c["connector_id"]: c for c in cli.json("connectors", "list", "-t", "demo")["connectors"]}
    assert listed["peer"]["source"] == "tenant" and listed["github"]["source"] == "builtin"
    assert "peer" not in {c["connector_id"] for c in cli.json("connectors", "list")["connectors"]}

    github = cli.json("connectors", "show", "github")
    github["version"] = "2.0.0"
    override = _write(tmp_path, "github.json", json.dumps(github))
    saved = cli.ok("connectors", "put", "-t", "demo", str(override))
    assert saved.strip() == "saved github 2.0.0 (overrides the built-in definition)"
    assert cli.json("connectors", "show", "-t", "demo", "github")["version"] == "2.0.0"

    removed = cli.ok("connectors", "remove", "-t", "demo", "github")
    assert removed.strip() == "removed the tenant definition of github; the built-in one applies"
    assert cli.json("connectors", "show", "-t", "demo", "github")["version"] == "1.0.0"
    cli.ok("connectors", "remove", "-t", "demo", "peer")
    gone = cli.run("connectors", "show", "-t", "demo", "peer")
    assert gone.returncode == 1 and gone.stderr.startswith("error [connector.not_found]")

    bad = _write(tmp_path, "bad.yaml", PEER.replace("version: 1.0.0", "version: one"))
    refused = cli.run("connectors", "put", "-t", "demo", str(bad))
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"error [connector.invalid_definition]: {bad} is not a valid connector")
    assert "version (line 2)" in refused.stderr
