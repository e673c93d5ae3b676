"""Resolving a configuration with three secret references, cached and uncached, against bare AES-GCM.

    python bench/vault.py [--seconds 3] [--database-url URL]

Prints ops/s for a bare AES-256-GCM decrypt of one value (the baseline), for ``SecretsService.resolve``
with its caches off (three secret lookups, three key unwraps, three decrypts and the access-audit write)
and with them on (decrypts and the audit write only), and each as a ratio to the baseline. Every figure
comes from the same run on the same machine. Default database: a fresh SQLite file in a temp dir.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from switchyard.core.models import Principal
from switchyard.core.scopes import Scope
from switchyard.services.container import Container, build
from switchyard.services.vault import Accessor
from switchyard.settings import Settings

CONFIG = {
    "model": "gpt-4o-mini",
    "api_key": {"secret_name": "openai_api_key"},
    "organization": {"secret_name": "openai_org"},
    "webhook_secret": {"secret_name": "webhook_signing"},
}
ACCESSOR = Accessor("bench:resolve", "bench")


def bare_decrypt_rate(seconds: float) -> float:
    key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    ciphertext = AESGCM(key).encrypt(nonce, b"sk-" + b"x" * 48, b"aad")
    count, deadline = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        for _ in range(1000):
            AESGCM(key).decrypt(nonce, ciphertext, b"aad")
        count += 1000
    return count / (time.perf_counter() - started)


async def rate(call: Callable[[], Awaitable[object]], seconds: float) -> float:
    for _ in range(20):  # warm up connections and caches
        await call()
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        await call()
        count += 1
    return count / (time.perf_counter() - started)


async def prepared(data_dir: Path, database_url: str | None, cache_ttl: float) -> tuple[Container, str]:
    settings = Settings(
        data_dir=data_dir, database_url=database_url, vault_cache_ttl_seconds=cache_ttl, log_level="WARNING"
    )
    container = build(settings)
    await container.start(upgrade=True)
    tenant = await container.tenancy.find_tenant("bench") if await _exists(container) else None
    if tenant is None:
        tenant = await container.tenancy.create_tenant("bench")
        principal = Principal(tenant.id, "bench", frozenset(s.value for s in Scope))
        for name in ("openai_api_key", "openai_org", "webhook_signing"):
            await container.secrets.create(principal, name=name, value=f"{name}-" + "v" * 40)
    return container, tenant.id


async def _exists(container: Container) -> bool:
    return any(t.name == "bench" for t in await container.tenancy.list_tenants())


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per figure")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        baseline = bare_decrypt_rate(args.seconds)
        figures: dict[str, float] = {}
        for label, ttl in (("uncached", 0.0), ("cached", 300.0)):
            container, tenant_id = await prepared(data_dir, args.database_url, ttl)
            try:
                figures[label] = await rate(
                    lambda c=container, t=tenant_id: c.secrets.resolve(t, CONFIG, accessor=ACCESSOR),
                    args.seconds,
                )
            finally:
                await container.close()

    engine = (args.database_url or "sqlite").split(":", 1)[0]
    print(f"database: {engine}; python {sys.version.split()[0]}; {os.cpu_count()} cpus")
    print(f"bare AES-256-GCM decrypt:          {baseline:12,.0f} ops/s")
    for label, value in figures.items():
        print(
            f"resolve 3 references, {label:8}:   {value:12,.0f} ops/s   ratio to bare decrypt {value / baseline:.5f}"
        )
    print(f"cached/uncached speed-up: {figures['cached'] / figures['uncached']:.2f}x")
    print(
        f"ratio: resolve_cached/bare_decrypt={figures['cached'] / baseline:.5f} "
        f"resolve_uncached/bare_decrypt={figures['uncached'] / baseline:.5f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
