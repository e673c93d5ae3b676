"""Issuing, checking and revoking tenant API keys."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from switchyard.core import apikeys
from switchyard.core.clock import utcnow
from switchyard.core.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from switchyard.core.ids import new_id
from switchyard.core.models import ApiKey, Principal
from switchyard.core.scopes import Scope, allows, parse_scopes
from switchyard.ports import Database
from switchyard.services.authz import require

MAX_CACHED_KEYS = 10_000
TOUCH_INTERVAL = timedelta(minutes=1)  # how stale last_used_at may get, to spare a write per request


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    plaintext: str


def _unauthenticated() -> Unauthenticated:
    # One message for unknown, wrong, revoked and expired keys: no oracle for which it was.
    return Unauthenticated(
        "the API key is missing, invalid, expired or revoked",
        code="auth.invalid_api_key",
        remediation="Send 'Authorization: Bearer syk_...' with a current key of your tenant.",
    )


class ApiKeyService:
    """``cache_ttl`` > 0 lets a process trust a key it checked for that many seconds: the proxy's hot path
    then costs no database read per call. A revocation reaches this process at once and other processes
    within ``cache_ttl`` (SWITCHYARD_API_KEY_CACHE_TTL_SECONDS)."""

    def __init__(self, db: Database, *, cache_ttl: float = 0.0) -> None:
        self.db = db
        self.cache_ttl = cache_ttl
        self._checked: dict[bytes, tuple[float, Principal, datetime | None]] = {}

    async def issue(
        self,
        tenant_id: str,
        *,
        name: str,
        scopes: Iterable[str],
        expires_at: datetime | None = None,
        issued_by: Principal | None = None,
    ) -> NewKey:
        """Create a key; when ``issued_by`` is given, it may only grant scopes it holds itself."""
        granted = parse_scopes(scopes)
        if issued_by is not None:
            require(issued_by, Scope.ADMIN)
            beyond = sorted(scope.value for scope in granted if not allows(issued_by.scopes, scope))
            if beyond:
                raise Forbidden(
                    f"a key cannot grant scopes it does not hold: {', '.join(beyond)}",
                    code="api_key.scope_escalation",
                )
        if not name.strip() or len(name) > 128:
            raise InvalidInput("a key name needs 1-128 characters", code="api_key.invalid_name")
        now = utcnow()
        if expires_at is not None and expires_at <= now:
            raise InvalidInput("expires_at must be in the future", code="api_key.invalid_expiry")
        issued = apikeys.issue()
        key = ApiKey(
            id=new_id("key"),
            tenant_id=tenant_id,
            name=name.strip(),
            lookup=issued.lookup,
            digest=issued.digest,
            scopes=frozenset(scope.value for scope in granted),
            created_at=now,
            expires_at=expires_at,
        )
        async with self.db.transaction() as tx:
            if await tx.tenants.get(tenant_id) is None:
                raise NotFound("no such tenant", code="tenant.not_found")
            await tx.api_keys.add(key)
        return NewKey(key=key, plaintext=issued.plaintext)

    async def authenticate(self, presented: str | None) -> Principal:
        """The principal a presented key stands for; the same work whether the key is unknown or wrong."""
        if self.cache_ttl <= 0 or not presented:
            return (await self._authenticate(presented))[0]
        fingerprint = hashlib.sha256(presented.encode("utf-8")).digest()
        cached = self._checked.get(fingerprint)
        now = time.monotonic()
        if cached is not None and cached[0] > now and (cached[2] is None or cached[2] > utcnow()):
            return cached[1]
        principal, expires_at = await self._authenticate(presented)
        if len(self._checked) >= MAX_CACHED_KEYS:
            self._checked.clear()
        self._checked[fingerprint] = (now + self.cache_ttl, principal, expires_at)
        return principal

    def forget(self, key_id: str) -> None:
        """Drop a key from this process's cache (on revocation)."""
        self._checked = {fp: entry for fp, entry in self._checked.items() if entry[1].api_key_id != key_id}

    async def _authenticate(self, presented: str | None) -> tuple[Principal, datetime | None]:
        lookup = apikeys.lookup_of(presented or "")
        async with self.db.transaction(write=False) as tx:
            key = await tx.api_keys.find_by_lookup(lookup or "")
        digest = key.digest if key is not None else apikeys.DUMMY_DIGEST
        matched = apikeys.matches(presented or "", digest)
        now = utcnow()
        if key is None or not matched or key.revoked_at is not None:
            raise _unauthenticated()
        if key.expires_at is not None and key.expires_at <= now:
            raise _unauthenticated()
        if key.last_used_at is None or now - key.last_used_at > TOUCH_INTERVAL:
            async with self.db.transaction() as tx:
                await tx.api_keys.touch(key.tenant_id, key.id, now)
        principal = Principal(
            tenant_id=key.tenant_id, actor=f"api_key:{key.id}", scopes=key.scopes, api_key_id=key.id
        )
        return principal, key.expires_at

    async def list_keys(self, tenant_id: str, principal: Principal | None = None) -> list[ApiKey]:
        if principal is not None:
            require(principal, Scope.ADMIN)
        async with self.db.transaction(write=False) as tx:
            return await tx.api_keys.all(tenant_id)

    async def revoke(self, tenant_id: str, key_id: str, principal: Principal | None = None) -> None:
        if principal is not None:
            require(principal, Scope.ADMIN)
        self.forget(key_id)
        async with self.db.transaction() as tx:
            if not await tx.api_keys.revoke(tenant_id, key_id, utcnow()):
                existing = await tx.api_keys.get(tenant_id, key_id)
                if existing is None:
                    raise NotFound(f"no API key {key_id!r}", code="api_key.not_found")
