"""The master key file: generated 0600 on first start, loose modes refused, rewritten atomically."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from switchyard.adapters.keyfile import EnvKeySource, KeyFileSource
from switchyard.core.crypto import MasterKey
from switchyard.core.errors import ConfigurationError


def test_generated_on_first_load_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "data" / "master-keys.json"
    keys = KeyFileSource(path).load()
    assert len(keys) == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert KeyFileSource(path).load() == keys  # loaded again, not regenerated


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o666])
def test_loose_modes_are_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "master-keys.json"
    source = KeyFileSource(path)
    source.load()
    path.chmod(mode)
    with pytest.raises(ConfigurationError) as caught:
        source.load()
    assert caught.value.code == "config.key_file_permissions"
    assert f"chmod 600 {path}" in (caught.value.remediation or "")


def test_add_and_remove_keep_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "master-keys.json"
    source = KeyFileSource(path)
    [first] = source.load()
    second = MasterKey.generate("k-second")
    source.add(second)
    assert [k.key_id for k in source.load()] == [first.key_id, "k-second"]
    source.remove(first.key_id)
    assert source.load() == [second]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_damaged_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master-keys.json"
    KeyFileSource(path).load()
    document = json.loads(path.read_text())
    document["keys"][0]["key"] = "%%%"
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigurationError) as caught:
        KeyFileSource(path).load()
    assert caught.value.code in {"config.key_file_invalid", "config.master_key_invalid"}


def test_environment_keys_are_read_only() -> None:
    source = EnvKeySource("k1:" + "A" * 43 + "=")
    assert [k.key_id for k in source.load()] == ["k1"]
    with pytest.raises(ConfigurationError):
        source.add(MasterKey.generate("k2"))
    with pytest.raises(ConfigurationError):
        EnvKeySource(" , ").load()


def test_a_duplicate_key_id_is_refused(tmp_path: Path) -> None:
    source = KeyFileSource(tmp_path / "master-keys.json")
    [first] = source.load()
    with pytest.raises(ConfigurationError):
        source.add(MasterKey.generate(first.key_id))
    assert source.load() == [first]


def test_an_existing_loose_data_dir_is_tightened_and_the_database_is_private(tmp_path: Path) -> None:
    from switchyard.adapters.db.engine import SqlDatabase
    from switchyard.adapters.files import private_dir

    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    private_dir(data)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    SqlDatabase(f"sqlite+aiosqlite:///{data / 'switchyard.db'}")
    assert stat.S_IMODE((data / "switchyard.db").stat().st_mode) == 0o600


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    import multiprocessing

    path = tmp_path / "race" / "master-keys.json"
    with multiprocessing.get_context("fork").Pool(4) as pool:
        fingerprints = pool.map(_first_key_fingerprint, [path] * 8)
    assert len(set(fingerprints)) == 1
    assert fingerprints[0] == KeyFileSource(path).load()[0].fingerprint()


def _first_key_fingerprint(path: Path) -> str:
    return KeyFileSource(path).load()[0].fingerprint()
