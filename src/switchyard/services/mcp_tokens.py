"""Short-lived MCP tokens: a bearer credential bound to one tenant and one of its end users.

``mint`` returns the plaintext once; only its SHA-256 digest is stored, in the ``mcp_tokens`` table, with
the tenant, end user (external id), optional integration filter, the minting API key and the expiry. The
database is the source of truth: a restart keeps every token, and every replica on the same database
accepts a token any of them minted. An expired token is refused even before upkeep deletes its row.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from switchyard.core.clock import utcnow
from switchyard.core.errors import InvalidInput, Unauthenticated
from switchyard.core.ids import new_id
from switchyard.core.models import McpToken, Principal
from switchyard.core.scopes import Scope
from switchyard.ports import Database
from switchyard.services.authz import require

PREFIX = "sym_"
MAX_TTL_SECONDS = 3600
MAX_LIVE_PER_TENANT = 10_000
_MAX_END_USER = 255
_MAX_INTEGRATION = 63


@dataclass(frozen=True)
class McpGrant:
    tenant_id: str
    end_user_id: str
    integration: str | None
    expires_at: float
    key_id: str | None

    def principal(self) -> Principal:
        return Principal(
            tenant_id=self.tenant_id,
            actor="mcp-token",
            scopes=frozenset({Scope.MCP.value}),
            api_key_id=self.key_id,
        )


@dataclass(frozen=True)
class MintedToken:
    token: str
    expires_at: float
    grant: McpGrant


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def invalid_token() -> Unauthenticated:
    return Unauthenticated(
        "the MCP token is missing, invalid or expired",
        code="auth.invalid_mcp_token",
        remediation="Mint a new one with POST /api/v1/mcp-tokens, or send a tenant API key and End-User-Id.",
    )


def _grant(row: McpToken) -> McpGrant:
    return McpGrant(
        row.tenant_id, row.end_user_id, row.integration, row.expires_at.timestamp(), row.api_key_id
    )


class McpTokens:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def mint(
        self, principal: Principal, end_user_id: str, *, integration: str | None, ttl_seconds: int
    ) -> MintedToken:
        require(principal, Scope.MCP)
        if not 1 <= ttl_seconds <= MAX_TTL_SECONDS:
            raise InvalidInput(
                f"ttl_seconds must be between 1 and {MAX_TTL_SECONDS}", code="mcp_token.invalid_ttl"
            )
        if not end_user_id.strip() or len(end_user_id) > _MAX_END_USER:
            raise InvalidInput(
                f"end_user_id is required (at most {_MAX_END_USER} characters)",
                code="mcp_token.invalid_end_user",
            )
        if integration is not None and not 1 <= len(integration) <= _MAX_INTEGRATION:
            raise InvalidInput(
                f"integration must be an integration key (1 to {_MAX_INTEGRATION} characters)",
                code="mcp_token.invalid_integration",
            )
        token = PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        row = McpToken(
            id=new_id("mcpt"),
            tenant_id=principal.tenant_id,
            end_user_id=end_user_id,
            integration=integration,
            api_key_id=principal.api_key_id,
            digest=digest(token),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
        async with self.db.transaction() as tx:
            if await tx.mcp_tokens.count_live(principal.tenant_id, now) >= MAX_LIVE_PER_TENANT:
                raise InvalidInput(
                    "too many live MCP tokens for this tenant; try again when some expire",
                    code="mcp_token.too_many",
                )
            await tx.mcp_tokens.add(row)
        grant = _grant(row)
        return MintedToken(token, grant.expires_at, grant)

    async def check(self, presented: str | None) -> McpGrant:
        if not presented or not presented.startswith(PREFIX) or len(presented) > 200:
            raise invalid_token()
        async with self.db.transaction(write=False) as tx:
            row = await tx.mcp_tokens.find(digest(presented))
        if row is None or row.expires_at <= utcnow():
            raise invalid_token()
        return _grant(row)
