"""Where sealed blobs live (seed 000: "database or external API").

``database`` keeps the blob in the vault row. ``external`` hands it to an operator's HTTP service; the row
then keeps only the reference. Blobs are sealed before they leave, so the external service never holds a
readable secret. The protocol (documented in docs/security.md):

    PUT    {base}/items/{tenant_id}/{item_id}   {"ciphertext": "<base64>"}   -> 2xx
    GET    {base}/items/{tenant_id}/{item_id}                               -> 200 {"ciphertext": ...} | 404
    DELETE {base}/items/{tenant_id}/{item_id}                               -> 2xx | 404

with ``Authorization: Bearer <SWITCHYARD_CREDENTIAL_STORE_TOKEN>`` when a token is configured.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlsplit

import httpx2

from switchyard.core.errors import ConfigurationError, DecryptFailed, FatalError, Unavailable
from switchyard.core.models import VaultItem


class DatabaseStore:
    name = "database"

    async def put(self, tenant_id: str, item_id: str, blob: bytes) -> bytes | None:
        return blob

    async def get(self, item: VaultItem) -> bytes:
        if item.ciphertext is None:
            raise DecryptFailed(f"vault item {item.id} has no ciphertext")
        return item.ciphertext

    async def delete(self, tenant_id: str, item_id: str) -> None:
        return None


class ExternalStore:
    name = "external"

    def __init__(self, base_url: str, token: str | None, *, timeout: float = 10.0) -> None:
        parts = urlsplit(base_url)
        loopback = parts.hostname in {"localhost", "127.0.0.1", "::1"}
        if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
            raise ConfigurationError(
                "SWITCHYARD_CREDENTIAL_STORE_URL must be an https URL (http only on loopback)",
                code="config.credential_store_url_invalid",
                remediation="The store's bearer token must not travel in clear.",
            )
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx2.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    async def put(self, tenant_id: str, item_id: str, blob: bytes) -> bytes | None:
        body = {"ciphertext": base64.b64encode(blob).decode("ascii")}
        await self._call("PUT", tenant_id, item_id, json=body)
        return None

    async def get(self, item: VaultItem) -> bytes:
        response = await self._call("GET", item.tenant_id, item.id, missing_ok=True)
        if response.status_code == 404:
            raise DecryptFailed(
                f"the external credential store has no ciphertext for vault item {item.id}",
                remediation="Check the external store's data; set the credential again if it is lost.",
            )
        try:
            return base64.b64decode(response.json()["ciphertext"], validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise DecryptFailed("the external credential store answered with a malformed body") from None

    async def delete(self, tenant_id: str, item_id: str) -> None:
        await self._call("DELETE", tenant_id, item_id, missing_ok=True)

    async def close(self) -> None:
        await self.client.aclose()

    async def _call(
        self, method: str, tenant_id: str, item_id: str, *, missing_ok: bool = False, **kwargs: Any
    ) -> httpx2.Response:
        try:
            response = await self.client.request(method, f"/items/{tenant_id}/{item_id}", **kwargs)
        except httpx2.HTTPError as exc:
            raise Unavailable(
                f"the external credential store is unreachable ({type(exc).__name__})",
                code="credential_store.unavailable",
                remediation="Check SWITCHYARD_CREDENTIAL_STORE_URL and that the store is running.",
            ) from None
        if response.status_code >= 500:
            raise Unavailable(
                f"the external credential store failed with status {response.status_code}",
                code="credential_store.unavailable",
            )
        if response.status_code == 404 and missing_ok:
            return response
        if not 200 <= response.status_code < 300:  # a redirect is no success: the blob went nowhere
            raise FatalError(
                f"the external credential store refused {method} with status {response.status_code}",
                code="credential_store.rejected",
                remediation="Check SWITCHYARD_CREDENTIAL_STORE_TOKEN and the store's access rules.",
            )
        return response
