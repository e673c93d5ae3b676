"""What an attacker with the database files alone sees: no secret value, no master key."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import httpx2
import pytest

from switchyard.api.app import create_app
from switchyard.services.container import build
from tests.conftest import DatabaseFactory, make_settings, make_tenant

VALUE = "sk-at-rest-DO-NOT-LEAK-0123456789"


async def test_sqlite_files_hold_no_plaintext_and_no_master_key(
    new_database: DatabaseFactory, tmp_path: Path
) -> None:
    url = await new_database("sqlite")
    container = build(make_settings(tmp_path / "data", url, master_key=None))
    await container.start(upgrade=True)
    try:
        owner = await make_tenant(container, "admin", "secrets:reveal")
        transport = httpx2.ASGITransport(app=create_app(container=container))
        async with httpx2.AsyncClient(transport=transport, base_url="http://t") as api:
            created = await api.post(
                "/api/v1/secrets", json={"name": "leaky", "value": VALUE}, headers=owner.headers
            )
            assert created.status_code == 201
            revealed = await api.get("/api/v1/secrets/leaky?reveal=true", headers=owner.headers)
            assert revealed.json()["value"] == VALUE
        master = (await container.keyring.active_key()).material
    finally:
        await container.close()

    database_files = sorted(Path(url.split(":///", 1)[1]).parent.glob("switchyard.db*"))
    assert database_files
    for path in database_files:
        raw = path.read_bytes()
        assert VALUE.encode() not in raw, path
        assert master not in raw and base64.b64encode(master) not in raw, path
        assert owner.key.encode() not in raw, path  # API keys are stored as digests only
    if shutil.which("strings") is None:
        pytest.skip("binutils 'strings' is not installed; the byte search above already ran")
    for path in database_files:
        printable = subprocess.run(
            ["strings", "-n", "6", str(path)], capture_output=True, text=True, check=True
        )
        assert VALUE not in printable.stdout
        assert VALUE[-12:] not in printable.stdout
