"""Seed 000's connector workflow with the real CLI against real ``switchyard serve`` processes: package,
upload, list, version, roll back, download, delete, login profiles, download-all and migrate."""

from __future__ import annotations

import hashlib
import json
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from switchyard.settings import Settings
from tests.cli.conftest import Cli, free_port, serving, wait_until_up
from tests.peers.moto import MotoS3, moto_s3  # noqa: F401  (the fixture is found by name)
from tests.seed_packages import seed_000_manifest

NAME = "my-custom-connector"
UPLOAD_TIMEOUT = 60.0


@dataclass
class Site:
    """One running server, its tenant's admin key, and the CLI pointed at it with flags."""

    cli: Cli
    url: str
    key: str

    def flags(self) -> list[str]:
        return ["--api-url", self.url, "--token", self.key]

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.cli.run(*args, *self.flags(), stdin=stdin, timeout=UPLOAD_TIMEOUT)

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def get(self, path: str) -> httpx2.Response:
        return httpx2.get(self.url + path, headers={"Authorization": f"Bearer {self.key}"}, timeout=10.0)

    def listed(self) -> dict[str, dict[str, Any]]:
        answer = self.get("/api/v1/packages")
        assert answer.status_code == 200, answer.text
        return {package["name"]: package for package in answer.json()["packages"]}


def cli_env(tmp_path: Path) -> dict[str, str]:
    return {
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),  # never the real ~/.config
        "SWITCHYARD_SANDBOX_WARM_POOL": "0",
        "SWITCHYARD_LOG_FORMAT": "console",
    }


@contextmanager
def site(tmp_path: Path, label: str, env: dict[str, str] | None = None) -> Iterator[Site]:
    home = tmp_path / label
    home.mkdir()
    cli = Cli(data_dir=home / "data", extra_env={**cli_env(tmp_path), **(env or {})})
    key = cli.json("tenants", "create", "demo")["api_key"]["key"]
    with serving(cli, home) as server:
        wait_until_up(server)
        yield Site(cli, server.base_url, key)
    assert "Traceback" not in server.stderr.read_text()


@pytest.fixture
def here(tmp_path: Path) -> Iterator[Site]:
    with site(tmp_path, "here") as running:
        yield running


def seed_connector(root: Path, version: str, name: str = NAME) -> Path:
    """Seed 000's example manifest (displayName, authentication {type: oauth2, config}) and a hook."""
    root.mkdir(parents=True, exist_ok=True)
    actions = [
        {
            "name": "get_profile",
            "description": "The connected account's profile.",
            "hook": "get_profile",
            "inputSchema": {"type": "object", "properties": {}},
        }
    ]
    manifest = seed_000_manifest(
        version, name=name, proxy={"baseUrl": "https://api.example.com"}, actions=actions
    )
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))
    (root / "connector.py").write_text(
        f'VERSION = "{version}"\n\n\n'
        "async def get_profile(ctx, input):\n"
        '    answer = await ctx.http.request("GET", "/me")\n'
        '    return {"status": answer.status, "version": VERSION}\n'
    )
    return root


def build(cli: Cli, tmp_path: Path, version: str, name: str = NAME) -> Path:
    source = seed_connector(tmp_path / "src" / f"{name}-{version}", version, name)
    target = tmp_path / "built" / f"{name}-v{version}.zip"
    made = cli.json("connectors", "package", str(source), "--output", str(target))
    assert made["name"] == name and made["version"] == version
    return target


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_seed_000_lifecycle(here: Site, tmp_path: Path) -> None:
    v100 = build(here.cli, tmp_path, "1.0.0")
    uploaded = here.ok("connectors", "upload", str(v100))
    assert "name:            my-custom-connector" in uploaded
    assert "current version: 1.0.0" in uploaded
    listed = here.listed()[NAME]
    assert listed["current_version"] == "1.0.0" and listed["display_name"] == "My Custom Connector"
    apps = here.get("/apps")
    assert apps.status_code == 200 and NAME in apps.text  # seed 000's alias

    v101 = build(here.cli, tmp_path, "1.0.1")
    answer = here.json("connectors", "upload", str(v101))
    assert answer["package"]["current_version"] == "1.0.1"
    assert answer["version"]["sha256"] == sha(v101)
    assert here.listed()[NAME]["current_version"] == "1.0.1"

    versions = here.json("connectors", "versions", NAME)["versions"]
    assert [(v["version"], v["current"]) for v in versions] == [("1.0.1", True), ("1.0.0", False)]
    table = here.ok("connectors", "versions", NAME)
    assert table.splitlines()[0].split() == ["VERSION", "CURRENT", "SIZE", "SHA256", "ACTIONS", "UPLOADED"]

    assert here.ok("connectors", "rollback", NAME, "1.0.0").strip() == (
        f"{NAME}: the current version is now 1.0.0"
    )
    assert here.listed()[NAME]["current_version"] == "1.0.0"

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    current = here.json("connectors", "download", NAME, "--output", str(downloads))
    assert current["file"] == str(downloads / f"{NAME}-v1.0.0.zip")
    assert Path(current["file"]).read_bytes() == v100.read_bytes()
    assert current["sha256"] == sha(v100)
    older = here.json("connectors", "download", NAME, "--version", "1.0.1", "-o", str(tmp_path / "x.zip"))
    assert (tmp_path / "x.zip").read_bytes() == v101.read_bytes() and older["sha256"] == sha(v101)

    # The same version again, and an older one, are refused without --force; nothing changes.
    again = here.run("connectors", "upload", str(v101))
    assert again.returncode == 1
    assert again.stderr.startswith(f"error [package.version_exists]: {NAME} 1.0.1 is already uploaded")
    assert "remediation:" in again.stderr and "Traceback" not in again.stderr
    v090 = build(here.cli, tmp_path, "0.9.0")
    older_upload = here.run("connectors", "upload", str(v090))
    assert older_upload.returncode == 1
    assert older_upload.stderr.startswith("error [package.version_not_newer]:")
    assert here.listed()[NAME]["versions"] == 2
    forced = here.json("connectors", "upload", str(v090), "--force")
    assert forced["version"]["version"] == "0.9.0"
    assert here.listed()[NAME]["versions"] == 3

    # No terminal and no --yes: refused, and the package is still there.
    refused = here.run("connectors", "delete", NAME)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error [cli.confirmation_required]: refusing to delete package")
    assert NAME in here.listed()
    assert here.ok("connectors", "delete", NAME, "--yes").strip() == f"deleted package {NAME}"
    assert NAME not in here.listed()
    gone = here.run("connectors", "versions", NAME)
    assert gone.returncode == 1 and gone.stderr.startswith("error [package.not_found]:")


def test_remote_errors_are_one_line(here: Site, tmp_path: Path) -> None:
    bad_key = here.cli.run("connectors", "list", "--api-url", here.url, "--token", "sy_wrong")
    assert bad_key.returncode == 1
    assert bad_key.stderr.startswith("error [auth.")
    assert "Traceback" not in bad_key.stderr and bad_key.stdout == ""

    nobody = f"http://127.0.0.1:{free_port()}"
    down = here.cli.run("connectors", "versions", NAME, "--api-url", nobody, "--token", here.key)
    assert down.returncode == 1
    assert down.stderr.startswith(
        f"error [cli.server_unreachable]: cannot reach a Switchyard server at {nobody}"
    )
    assert "Traceback" not in down.stderr

    no_profile = here.cli.run("connectors", "versions", NAME)
    assert no_profile.returncode == 1
    assert no_profile.stderr.splitlines()[0].startswith("error [cli.not_logged_in]:")
    assert "switchyard login" in no_profile.stderr

    # Without remote options, list is still the local catalog.
    local = here.cli.json("connectors", "list")
    assert "connectors" in local and "packages" not in local


def test_login_saves_a_private_profile_that_later_commands_use(here: Site, tmp_path: Path) -> None:
    wrong = here.cli.run("login", "--api-url", here.url, "--token", "sy_wrong")
    assert wrong.returncode == 1 and wrong.stderr.startswith("error [auth.")
    profiles = tmp_path / "xdg" / "switchyard" / "profiles.json"
    assert not profiles.exists()

    done = here.cli.run("login", "--api-url", here.url + "/", stdin=here.key + "\n")  # key on stdin
    assert done.returncode == 0, done.stderr
    assert here.key not in done.stdout + done.stderr
    assert f"logged in to {here.url} (tenant demo)" in done.stdout
    assert stat.S_IMODE(profiles.stat().st_mode) == 0o600
    assert stat.S_IMODE(profiles.parent.stat().st_mode) == 0o700
    saved = json.loads(profiles.read_text())["profiles"]["default"]
    assert saved == {"api_url": here.url, "token": here.key}

    v100 = build(here.cli, tmp_path, "1.0.0")
    assert "current version: 1.0.0" in here.cli.ok("connectors", "upload", str(v100))
    listed = here.cli.json("connectors", "list", "--profile", "default")
    assert [p["name"] for p in listed["packages"]] == [NAME]
    table = here.cli.ok("connectors", "list", "--profile", "default")
    assert NAME in table and "CURRENT" in table

    # An explicit flag wins over the profile.
    override = here.cli.run("connectors", "versions", NAME, "--token", "sy_wrong")
    assert override.returncode == 1 and override.stderr.startswith("error [auth.")
    missing = here.cli.run("connectors", "versions", NAME, "--profile", "elsewhere")
    assert missing.returncode == 1 and missing.stderr.startswith("error [cli.profile_not_found]:")

    profiles.chmod(0o644)
    loose = here.cli.run("connectors", "versions", NAME)
    assert loose.returncode == 2 and loose.stderr.startswith("error [cli.profiles_permissions]:")


def test_profiles_file_follows_xdg_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWITCHYARD_PROFILES_FILE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SWITCHYARD_XDG_CONFIG_HOME", "/not/read")  # the alias is read without the prefix
    for value in ("", "relative/dir"):  # ignored, as the XDG Base Directory spec asks
        monkeypatch.setenv("XDG_CONFIG_HOME", value)
        assert Settings().resolved_profiles_file == tmp_path / "home/.config/switchyard/profiles.json"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert Settings().resolved_profiles_file == tmp_path / "xdg/switchyard/profiles.json"
    monkeypatch.setenv("SWITCHYARD_PROFILES_FILE", str(tmp_path / "mine.json"))
    assert Settings().resolved_profiles_file == tmp_path / "mine.json"


def test_download_all(here: Site, tmp_path: Path) -> None:
    for version in ("1.0.0", "1.0.1"):
        here.ok("connectors", "upload", str(build(here.cli, tmp_path, version)))
    here.ok("connectors", "upload", str(build(here.cli, tmp_path, "2.0.0", name="other-connector")))
    out = tmp_path / "all"

    current = here.json("connectors", "download-all", "--output", str(out))
    assert sorted(Path(s["file"]).name for s in current["saved"]) == [
        f"{NAME}-v1.0.1.zip",
        "other-connector-v2.0.0.zip",
    ]
    assert (out / f"{NAME}-v1.0.1.zip").read_bytes() == (
        tmp_path / "built" / f"{NAME}-v1.0.1.zip"
    ).read_bytes()

    every = here.ok("connectors", "download-all", "--output", str(out), "--all-versions")
    assert f"saved {out / f'{NAME}-v1.0.0.zip'}" in every
    assert "2 file(s) already up to date" in every
    assert sorted(p.name for p in out.iterdir()) == [
        f"{NAME}-v1.0.0.zip",
        f"{NAME}-v1.0.1.zip",
        "other-connector-v2.0.0.zip",
    ]
    rerun = here.json("connectors", "download-all", "--output", str(out), "--all-versions")
    assert rerun["saved"] == [] and len(rerun["unchanged"]) == 3


def test_migrate_copies_every_version_once(tmp_path: Path) -> None:
    with site(tmp_path, "cloud") as cloud, site(tmp_path, "selfhosted") as selfhosted:
        for version in ("1.0.0", "1.0.1", "1.1.0"):
            cloud.ok("connectors", "upload", str(build(cloud.cli, tmp_path, version)))
        cloud.ok("connectors", "upload", str(build(cloud.cli, tmp_path, "0.3.0", name="other-connector")))
        cloud.ok("connectors", "rollback", NAME, "1.0.1")
        cloud.cli.ok("login", "--profile", "cloud", *cloud.flags())
        cloud.cli.ok("login", "--profile", "selfhosted", *selfhosted.flags())
        # Already at the destination, with the same bytes: skipped.
        selfhosted.ok("connectors", "upload", str(tmp_path / "built" / f"{NAME}-v1.0.0.zip"))

        dry = cloud.cli.ok("connectors", "migrate", "--from", "cloud", "--to", "selfhosted", "--dry-run")
        assert f"would copy {NAME} 1.0.1" in dry
        assert set(selfhosted.listed()) == {NAME}

        done = cloud.cli.run("connectors", "migrate", "--from", "cloud", "--to", "selfhosted")
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert lines[:3] == [
            f"copied {NAME} 1.0.1",
            f"copied {NAME} 1.1.0",
            f"made {NAME} 1.0.1 current (was 1.1.0)",
        ]
        assert "copied other-connector 0.3.0" in lines
        assert lines[-1] == "copied 3 version(s) to selfhosted, skipped 1 already there, failed 0"

        there = selfhosted.listed()
        assert there[NAME]["current_version"] == "1.0.1" and there[NAME]["versions"] == 3
        assert there["other-connector"]["current_version"] == "0.3.0"
        for version in ("1.0.0", "1.0.1", "1.1.0"):
            answer = selfhosted.get(f"/api/v1/packages/{NAME}/download?version={version}")
            assert answer.content == (tmp_path / "built" / f"{NAME}-v{version}.zip").read_bytes()

        again = cloud.cli.json("connectors", "migrate", "--from", "cloud", "--to", "selfhosted")
        assert again["copied"] == [] and again["failed"] == [] and again["current"] == []
        assert len(again["skipped"]) == 4
        quiet = cloud.cli.ok("connectors", "migrate", "--from", "cloud", "--to", "selfhosted")
        assert quiet.strip() == "nothing to copy: all 4 version(s) are already at selfhosted"


def test_migrate_leaves_a_different_version_alone_unless_asked(tmp_path: Path) -> None:
    with site(tmp_path, "cloud") as cloud, site(tmp_path, "selfhosted") as selfhosted:
        ours = build(cloud.cli, tmp_path, "1.0.0")
        cloud.ok("connectors", "upload", str(ours))
        cloud.ok("connectors", "upload", str(build(cloud.cli, tmp_path, "1.1.0")))
        # The same version number at the destination, built from other files.
        changed = seed_connector(tmp_path / "other" / NAME, "1.0.0")
        with (changed / "connector.py").open("a") as handle:
            handle.write("# edited at the destination\n")
        theirs = tmp_path / "other" / f"{NAME}-v1.0.0.zip"
        selfhosted.cli.ok("connectors", "package", str(changed), "--output", str(theirs))
        assert sha(theirs) != sha(ours)
        selfhosted.ok("connectors", "upload", str(theirs))
        cloud.cli.ok("login", "--profile", "cloud", *cloud.flags())
        cloud.cli.ok("login", "--profile", "selfhosted", *selfhosted.flags())
        migrate = ("connectors", "migrate", "--from", "cloud", "--to", "selfhosted")
        differs = (
            f"failed {NAME} 1.0.0: differs: source sha256 {sha(ours)[:12]}, "
            f"destination sha256 {sha(theirs)[:12]} (--replace-different replaces it)"
        )

        dry = cloud.cli.run(*migrate, "--dry-run")
        assert dry.returncode == 1 and differs in dry.stdout.splitlines()

        refused = cloud.cli.run(*migrate, "--json")
        assert refused.returncode == 1, refused.stderr
        summary = json.loads(refused.stdout)
        assert [(c["version"], c["replaces"]) for c in summary["copied"]] == [("1.1.0", False)]
        [failed] = summary["failed"]
        assert failed["reason"] == "differs" and failed["version"] == "1.0.0"
        assert failed["sha256"] == sha(ours) and failed["destination_sha256"] == sha(theirs)
        answer = selfhosted.get(f"/api/v1/packages/{NAME}/download?version=1.0.0")
        assert answer.content == theirs.read_bytes()  # not replaced

        again = cloud.cli.run(*migrate)
        assert again.returncode == 1
        assert again.stdout.splitlines() == [
            differs,
            "copied 0 version(s) to selfhosted, skipped 1 already there, failed 1",
        ]

        replaced = cloud.cli.run(*migrate, "--replace-different")
        assert replaced.returncode == 0, replaced.stderr
        assert f"copied {NAME} 1.0.0 (replaced a different upload)" in replaced.stdout.splitlines()
        answer = selfhosted.get(f"/api/v1/packages/{NAME}/download?version=1.0.0")
        assert answer.content == ours.read_bytes()
        assert selfhosted.listed()[NAME]["current_version"] == "1.1.0"
        assert cloud.cli.ok(*migrate).strip() == "nothing to copy: all 2 version(s) are already at selfhosted"


def test_seed_000_flow_with_packages_in_s3(moto_s3: MotoS3, tmp_path: Path) -> None:  # noqa: F811
    with site(tmp_path, "s3", env=moto_s3.env()) as s3:
        v100, v101 = build(s3.cli, tmp_path, "1.0.0"), build(s3.cli, tmp_path, "1.0.1")
        s3.ok("connectors", "upload", str(v100))
        s3.ok("connectors", "upload", str(v101))
        keys = moto_s3.keys()
        assert [key.rsplit("/", 1)[-1] for key in keys] == [f"{NAME}-v1.0.0.zip", f"{NAME}-v1.0.1.zip"]
        assert all(key.startswith(f"{moto_s3.prefix}/") for key in keys)
        assert moto_s3.read(keys[0]) == v100.read_bytes()

        s3.ok("connectors", "rollback", NAME, "1.0.0")
        assert s3.listed()[NAME]["current_version"] == "1.0.0"
        got = s3.json("connectors", "download", NAME, "--output", str(tmp_path / "back.zip"))
        assert (tmp_path / "back.zip").read_bytes() == v100.read_bytes() and got["sha256"] == sha(v100)

        s3.ok("connectors", "delete", NAME, "--yes")
        assert NAME not in s3.listed()
        assert moto_s3.keys() == []
