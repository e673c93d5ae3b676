"""The code of uploaded packages, run in the sandbox: checked on upload, called by hook actions.

A hook action of a package runs the code of the same version as the definition the call resolved, so a
call that started before an upload or a rollback finishes on the version it started with. Sandboxes are
keyed by tenant, package, version and archive digest; the runner never hands one to another tenant.

The hook's only way out is ``ctx.http.request``: the sandbox asks the host, and the host sends the request
through the proxy with the connection's credentials (``HookHttp``), so the code never holds a token.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections import OrderedDict
from typing import Any

from switchyard.adapters.sandbox.runner import CodeBundle, SandboxRunner
from switchyard.core.errors import FatalError, InvalidInput, NotFound, SandboxError
from switchyard.core.models import PackageVersion
from switchyard.core.packages import InspectedPackage
from switchyard.io_ports import PackageStore
from switchyard.ports import Database
from switchyard.services.hooks import HookHttp

MAX_CACHED_ARCHIVES = 32


async def read_archive(store: PackageStore, version: PackageVersion) -> bytes:
    """A version's archive from the store, checked against the digest taken on upload."""
    data = await store.get(version.object_key)
    if hashlib.sha256(data).hexdigest() != version.sha256:
        raise FatalError(
            f"the stored archive of {version.object_key} does not match its upload",
            code="package.corrupted",
            remediation="Upload that version again with --force.",
        )
    return data


def bundle_key(tenant_id: str, name: str, version: str, sha256: str) -> str:
    return f"{tenant_id}:{name}:{version}:{sha256}"


class PackageCode:
    def __init__(self, db: Database, store: PackageStore, runner: SandboxRunner) -> None:
        self.db = db
        self.store = store
        self.runner = runner
        self._archives: OrderedDict[str, bytes] = OrderedDict()  # by sha256
        self._retiring: set[asyncio.Task[None]] = set()

    async def check(self, tenant_id: str, inspected: InspectedPackage, data: bytes) -> None:
        """The code imports in a sandbox and defines every hook the definition's actions declare."""
        definition = inspected.definition
        key = bundle_key(tenant_id, definition.name, definition.version, inspected.sha256)
        try:
            found = set(await self.runner.inspect(CodeBundle(key, tenant_id, data, inspected.module)))
        except SandboxError as exc:  # the uploader's code failed: a bad package, not a broken server
            code = "package.import_failed" if exc.code == "sandbox.import_failed" else "package.code_rejected"
            raise InvalidInput(
                exc.detail, code=code, remediation=exc.remediation, extra={"sandbox_code": exc.code}
            ) from None
        missing = sorted(set(inspected.hooks) - found)
        if missing:
            raise InvalidInput(
                f"the package's code defines no function for the hooks {', '.join(missing)}",
                code="package.hook_missing",
                remediation="Define them at the top level of connector.py, as async def NAME(ctx, input).",
                extra={"missing": missing},
            )

    async def run(
        self,
        tenant_id: str,
        connector_id: str,
        version: str,
        hook: str,
        payload: dict[str, Any],
        *,
        config: dict[str, Any],
        connection_id: str,
        http: HookHttp,
    ) -> Any:
        stored = await self._version(tenant_id, connector_id, version)
        archive = await self._archive(stored)
        key = bundle_key(tenant_id, connector_id, stored.version, stored.sha256)
        bundle = CodeBundle(key, tenant_id, archive)

        async def host(method: str, params: dict[str, Any]) -> Any:
            if method != "http.request":
                raise InvalidInput(f"the sandbox asked for {method!r}", code="sandbox.unknown_call")
            answer = await http.request(
                str(params.get("method", "GET")),
                str(params.get("path", "/")),
                query=params.get("query"),
                json_body=params.get("json_body"),
                headers=params.get("headers"),
            )
            return {
                "status": answer.status,
                "headers": [[name, value] for name, value in answer.headers],
                "body_base64": base64.b64encode(answer.body).decode("ascii"),
            }

        return await self.runner.run(
            bundle, hook, payload, config=config, connection_id=connection_id, host=host
        )

    def forget(self, tenant_id: str, name: str) -> None:
        """Retire the idle sandboxes of a package whose current version changed or which was deleted."""
        task = asyncio.get_running_loop().create_task(self.runner.retire(f"{tenant_id}:{name}:"))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _version(self, tenant_id: str, connector_id: str, version: str) -> PackageVersion:
        async with self.db.transaction(write=False) as tx:
            package = await tx.packages.get(tenant_id, connector_id)
            stored = await tx.packages.version(tenant_id, package.id, version) if package else None
        if stored is None:
            raise NotFound(
                f"the package {connector_id} {version} is no longer stored",
                code="package.version_not_found",
            )
        return stored

    async def _archive(self, version: PackageVersion) -> bytes:
        cached = self._archives.get(version.sha256)
        if cached is not None:
            self._archives.move_to_end(version.sha256)
            return cached
        data = await read_archive(self.store, version)
        self._archives[version.sha256] = data
        while len(self._archives) > MAX_CACHED_ARCHIVES:
            self._archives.popitem(last=False)
        return data
