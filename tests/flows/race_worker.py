"""A second process for the refresh race: ``python -m tests.flows.race_worker SETTINGS_JSON``.

It opens the same database with the same master key, waits for the agreed start time, then uses one
connection's credentials ``uses`` times at once and prints the access tokens it got, as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from switchyard.services.container import build
from switchyard.services.vault import Accessor
from switchyard.settings import Settings


async def main(spec: dict[str, object]) -> None:
    settings = Settings(**spec["settings"])  # type: ignore[arg-type]
    container = build(settings)
    await container.start(upgrade=False)
    try:
        async with container.db.transaction(write=False) as tx:
            connection = await tx.connections.get(str(spec["tenant_id"]), str(spec["connection_id"]))
        assert connection is not None
        await asyncio.sleep(max(0.0, float(spec["start_at"]) - time.time()))  # type: ignore[arg-type]
        uses = int(spec["uses"])  # type: ignore[call-overload]
        accessor = Accessor("race:worker", "race")
        results = await asyncio.gather(
            *(container.refresher.credentials(connection, accessor) for _ in range(uses))
        )
        print(json.dumps(sorted({values["access_token"] for _, values in results})))
    finally:
        await container.close()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
