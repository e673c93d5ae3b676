"""Master key material: a key file in the data dir (single node) or the environment (any node).

The key file is JSON, created on first start with mode 0600 inside a 0700 directory, and rewritten
atomically when ``switchyard keys rotate-master`` adds or retires a key. A key file that group or others
can read is refused: the process will not start until its mode is fixed.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from switchyard.adapters.files import private_dir
from switchyard.core.crypto import MasterKey, new_key_id, parse_master_keys
from switchyard.core.errors import ConfigurationError

_FORMAT = 1


class KeyFileSource:
    writable = True

    def __init__(self, path: Path) -> None:
        self.path = path

    def describe(self) -> str:
        return f"key file {self.path}"

    def load(self) -> list[MasterKey]:
        if not self.path.exists():
            self._create([MasterKey.generate(new_key_id())])
        self._check_mode()
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            entries = document["keys"]
            return [MasterKey(entry["id"], _decode(entry["key"], entry["id"])) for entry in entries]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"the master key file {self.path} is not valid: {type(exc).__name__}",
                code="config.key_file_invalid",
                remediation="Restore the key file from a backup; without it stored secrets cannot be read.",
            ) from None

    def add(self, key: MasterKey) -> None:
        with self._locked():
            keys = self.load()
            if any(existing.key_id == key.key_id for existing in keys):
                raise ConfigurationError(
                    f"the key file already holds a key with id {key.key_id!r}",
                    code="config.master_key_invalid",
                )
            self._replace([*keys, key])

    def remove(self, key_id: str) -> None:
        with self._locked():
            self._replace([key for key in self.load() if key.key_id != key_id])

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise read-modify-write of the key file between processes."""
        private_dir(self.path.parent)
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        fd = os.open(lock_path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _check_mode(self) -> None:
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            raise ConfigurationError(
                f"the master key file {self.path} has mode {mode:04o}; group and others must have no access",
                code="config.key_file_permissions",
                remediation=f"Run: chmod 600 {self.path}",
            )

    def _document(self, keys: list[MasterKey]) -> str:
        return json.dumps(
            {
                "format": _FORMAT,
                "warning": "Switchyard master keys. Losing this file loses every stored secret; back it up.",
                "keys": [{"id": key.key_id, "key": key.encoded()} for key in keys],
            },
            indent=2,
        )

    def _temporary(self, keys: list[MasterKey]) -> Path:
        private_dir(self.path.parent)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(self._document(keys))
            handle.flush()
            os.fsync(handle.fileno())
        return temporary

    def _create(self, keys: list[MasterKey]) -> None:
        """First start: publish the file only if nobody else did (two processes starting together agree)."""
        temporary = self._temporary(keys)
        try:
            os.link(temporary, self.path)
        except FileExistsError:
            pass  # another process won; everyone reads its file
        finally:
            temporary.unlink()

    def _replace(self, keys: list[MasterKey]) -> None:
        os.replace(self._temporary(keys), self.path)


class EnvKeySource:
    """Keys given in ``SWITCHYARD_MASTER_KEY``; adding or removing one is the operator's job."""

    writable = False

    def __init__(self, spec: str) -> None:
        self.spec = spec

    def describe(self) -> str:
        return "SWITCHYARD_MASTER_KEY"

    def load(self) -> list[MasterKey]:
        keys = parse_master_keys(self.spec)
        if not keys:
            raise ConfigurationError(
                "SWITCHYARD_MASTER_KEY is set but empty", code="config.master_key_invalid"
            )
        return keys

    def add(self, key: MasterKey) -> None:
        raise ConfigurationError(
            "keys from SWITCHYARD_MASTER_KEY cannot be added by Switchyard",
            code="config.master_key_read_only",
            remediation=f"Add '{key.key_id}:<base64>' to SWITCHYARD_MASTER_KEY on every node, then rotate.",
        )

    def remove(self, key_id: str) -> None:
        raise ConfigurationError(
            "keys from SWITCHYARD_MASTER_KEY cannot be removed by Switchyard",
            code="config.master_key_read_only",
            remediation=f"Remove key {key_id!r} from SWITCHYARD_MASTER_KEY on every node.",
        )


def _decode(encoded: str, key_id: str) -> bytes:
    return parse_master_keys(f"{key_id}:{encoded}")[0].material
