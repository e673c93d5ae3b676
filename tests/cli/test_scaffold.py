"""``switchyard connectors create`` and ``connectors package``: a scaffold that tests, packages and validates."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from switchyard.core.manifest.loader import load
from tests.cli.conftest import COMMAND_TIMEOUT, Cli


def run_in(cli: Cli, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli.command(*args),
        cwd=cwd,
        input="",
        capture_output=True,
        text=True,
        env=cli.env(),
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        return sorted(archive.namelist())


def test_create_writes_a_valid_connector_whose_own_test_passes(cli: Cli, tmp_path: Path) -> None:
    made = cli.json("connectors", "create", "acme-crm", "--dir", str(tmp_path / "acme"))
    root = tmp_path / "acme"
    assert made["name"] == "acme-crm"
    assert sorted(Path(f).relative_to(root).as_posix() for f in made["files"]) == [
        "README.md",
        "connector.py",
        "manifest.json",
        "tests/test_connector.py",
    ]
    definition = load((root / "manifest.json").read_text(), "manifest.json")
    assert definition.name == "acme-crm"
    assert definition.auth_types() == ["api_key"]
    assert definition.proxy is not None
    [action] = definition.actions
    assert action.hook == "hello" and action.output_schema is not None

    # The scaffold's own test runs under plain pytest, without a Switchyard server.
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "3 passed" in tested.stdout


def test_the_scaffold_packages_and_validates_cleanly(cli: Cli, tmp_path: Path) -> None:
    cli.ok("connectors", "create", "hello-world", "--dir", str(tmp_path / "hello-world"))
    root = tmp_path / "hello-world"
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "connector.cpython-311.pyc").write_bytes(b"\0")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / ".DS_Store").write_bytes(b"\0")
    (root / ".env").write_text("SECRET=1\n")
    (root / "helpers").mkdir()
    (root / "helpers" / "shapes.py").write_text("SHAPE = 1\n")
    (root / "helpers" / "shapes.pyc").write_bytes(b"\0")

    done = run_in(cli, root, "connectors", "package")  # DIR defaults to ., the zip to ./NAME-vVERSION.zip
    assert done.returncode == 0, done.stderr
    built = root / "hello-world-v0.1.0.zip"
    assert done.stdout.splitlines() == [
        "packaged hello-world 0.1.0: 4 files, " + str(built.stat().st_size) + " bytes",
        f"wrote {built}",
    ]
    assert zip_names(built) == ["README.md", "connector.py", "helpers/shapes.py", "manifest.json"]

    # A rebuild leaves the earlier build out of the new package.
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["version"] = "0.2.0"
    (root / "manifest.json").write_text(json.dumps(manifest))
    again = json.loads(run_in(cli, root, "connectors", "package", "--json").stdout)
    assert again["valid"] is True and again["version"] == "0.2.0"
    assert again["files"] == ["README.md", "connector.py", "helpers/shapes.py", "manifest.json"]
    assert zip_names(Path(again["file"])) == again["files"]


def test_package_writes_to_output_and_leaves_it_out(cli: Cli, tmp_path: Path) -> None:
    cli.ok("connectors", "create", "outy", "--dir", str(tmp_path / "outy"))
    target = tmp_path / "outy" / "dist.zip"
    first = cli.json("connectors", "package", str(tmp_path / "outy"), "--output", str(target))
    second = cli.json("connectors", "package", str(tmp_path / "outy"), "--output", str(target))
    assert first["file"] == second["file"] == str(target)
    assert "dist.zip" not in second["files"]
    assert first["sha256"] == second["sha256"]  # the build is reproducible


def test_create_refuses_a_non_empty_directory_and_a_bad_name(cli: Cli, tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine\n")
    done = cli.run("connectors", "create", "fine-name", "--dir", str(taken))
    assert done.returncode == 1
    assert done.stderr.startswith(f"error [cli.directory_not_empty]: {taken} already exists")
    assert sorted(p.name for p in taken.iterdir()) == ["keep.txt"]

    bad = cli.run("connectors", "create", "Not_Valid", "--dir", str(tmp_path / "bad"))
    assert bad.returncode == 1
    assert bad.stderr.startswith("error [connector.invalid_name]: invalid connector name 'Not_Valid'")
    assert not (tmp_path / "bad").exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    cli.ok("connectors", "create", "into-empty", "--dir", str(empty))
    assert (empty / "manifest.json").is_file()


def test_an_invalid_package_is_listed_and_not_written(cli: Cli, tmp_path: Path) -> None:
    cli.ok("connectors", "create", "broken", "--dir", str(tmp_path / "broken"))
    root = tmp_path / "broken"
    manifest = json.loads((root / "manifest.json").read_text())
    del manifest["displayName"]
    manifest["version"] = "one"
    (root / "manifest.json").write_text(json.dumps(manifest))
    target = tmp_path / "out.zip"

    done = cli.run("connectors", "package", str(root), "--output", str(target))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("error [")
    assert "displayName" in done.stderr and "version" in done.stderr
    assert "Traceback" not in done.stderr
    assert not target.exists()

    as_json = cli.run("connectors", "package", str(root), "--output", str(target), "--json")
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["valid"] is False and report["code"]
    assert "displayName" in json.dumps(report)
    assert not target.exists()


def test_a_directory_without_a_manifest_is_refused(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "connector.py").write_text("x = 1\n")
    done = cli.run("connectors", "package", str(tmp_path / "nothing"), "--output", str(tmp_path / "x.zip"))
    assert done.returncode == 1
    assert done.stderr.startswith("error [")
    assert "manifest.json" in done.stderr
    assert "Traceback" not in done.stderr
