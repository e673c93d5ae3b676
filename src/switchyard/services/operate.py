"""The signed operate API (seed 002): a signed ConnectorRequest in, a signed ConnectorResponse out.

A request is checked in this order, and refused at the first failure; nothing is stored for a refused
request::

    scope ``actions``  ->  well-formed request (422, see ``core.operate_request``)
    ->  path connector = request connector (422)
    ->  signature by one of the tenant's active ``sig`` keys (401 signature.invalid)
    ->  request_time within the window (401 signature.expired)
    ->  the connection exists in this tenant (404) and is of that connector (422)
    ->  request_id not used before (401 signature.replayed; the id is recorded here, once)

Then the action runs. Its outcome, success or not, is a ConnectorResponse signed by the platform's key
(derived from the active master key); ``result_data`` is sealed to the tenant's newest ``enc`` key when it
has one. Request ids are remembered for twice the window, the longest a copy could still be accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from switchyard import context
from switchyard.core.clock import utcnow
from switchyard.core.crypto import MasterKey
from switchyard.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    RateLimited,
    SwitchyardError,
    Unauthenticated,
)
from switchyard.core.ids import new_id
from switchyard.core.models import CallerKey, Principal
from switchyard.core.operate_request import ConnectorRequest, invalid_request, parse_request
from switchyard.core.redaction import redact_text
from switchyard.core.scopes import Scope
from switchyard.core.signing import (
    SEAL_ALG,
    SEAL_ENC,
    PlatformKey,
    PublicJwk,
    canonical_bytes,
    derive_platform_key,
    import_public_jwk,
    jwks,
    seal_json,
    signed_bytes,
    verify,
)
from switchyard.logs import get_logger
from switchyard.ports import Database
from switchyard.services.authz import require
from switchyard.services.connections import not_found

log = get_logger("switchyard.operate")
MAX_ACTIVE_KEYS = 20  # per use and tenant: an unsigned kid makes the check try each one


class SigningKeys(Protocol):
    """The master keys this process holds (the ``Keyring``)."""

    @property
    def keys(self) -> dict[str, MasterKey]: ...
    async def active_key(self) -> MasterKey: ...


class ActionOutcome(Protocol):
    @property
    def output(self) -> Any: ...
    @property
    def connection_id(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def attempts(self) -> int: ...
    @property
    def duration_ms(self) -> float: ...


class ActionRunner(Protocol):
    async def run(
        self, principal: Principal, connection_id: str, action_name: str, payload: dict[str, Any]
    ) -> ActionOutcome: ...


@dataclass(frozen=True)
class OperateEnvelope:
    """Seed 002's request body. ``kid`` (optional) names the caller key that signed it."""

    connector_request: str
    signature: str | None = None
    sat_token: str | None = None
    kid: str | None = None


@dataclass(frozen=True)
class OperateReply:
    """Seed 002's response body: ``connector_response`` is exactly the bytes ``signature`` covers."""

    connector_response: str
    signature: str
    kid: str


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _signature_invalid(detail: str, remediation: str | None = None) -> Unauthenticated:
    return Unauthenticated(detail, code="signature.invalid", remediation=remediation)


class OperateService:
    def __init__(
        self,
        db: Database,
        keys: SigningKeys,
        actions: ActionRunner,
        *,
        window_seconds: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.keys = keys
        self.actions = actions
        self.window = timedelta(seconds=window_seconds)
        self.clock = clock
        self._derived: dict[MasterKey, PlatformKey] = {}

    # -- the platform's keys --

    def _platform_key(self, master: MasterKey) -> PlatformKey:
        derived = self._derived.get(master)
        if derived is None:
            derived = self._derived[master] = derive_platform_key(master)
        return derived

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public keys of every master key this process holds: responses verify across rotations."""
        return jwks([self._platform_key(key) for key in self.keys.keys.values()])

    # -- callers' keys (scope admin) --

    async def register_key(
        self, principal: Principal, jwk: Mapping[str, Any], *, kid: str | None = None, use: str | None = None
    ) -> CallerKey:
        require(principal, Scope.ADMIN)
        public = import_public_jwk(jwk, kid=kid, use=use)
        key = CallerKey(
            id=new_id("ckey"),
            tenant_id=principal.tenant_id,
            kid=public.kid,
            use=public.use,
            public_jwk=public.as_dict(),
            created_at=self.clock(),
        )
        exists = Conflict(
            f"a caller key with kid {public.kid!r} exists (revoked kids stay taken)",
            code="caller_key.exists",
            remediation="Choose another kid.",
        )
        try:
            async with self.db.transaction() as tx:
                if await tx.caller_keys.get(principal.tenant_id, public.kid) is not None:
                    raise exists
                if len(await tx.caller_keys.active(principal.tenant_id, public.use)) >= MAX_ACTIVE_KEYS:
                    raise Conflict(
                        f"this tenant has {MAX_ACTIVE_KEYS} active {public.use!r} keys already",
                        code="caller_key.limit_reached",
                        remediation="Revoke a key you no longer use first.",
                    )
                await tx.caller_keys.add(key)
        except Conflict as exc:
            raise exists if exc.code == "resource.conflict" else exc from None
        log.info("caller_key.registered", kid=key.kid, use=key.use)
        return key

    async def list_keys(self, principal: Principal) -> list[CallerKey]:
        require(principal, Scope.ADMIN)
        async with self.db.transaction(write=False) as tx:
            return await tx.caller_keys.all(principal.tenant_id)

    async def revoke_key(self, principal: Principal, kid: str) -> None:
        """Revoke at once; revoking a revoked key changes nothing."""
        require(principal, Scope.ADMIN)
        async with self.db.transaction() as tx:
            if await tx.caller_keys.get(principal.tenant_id, kid) is None:
                raise NotFound(f"no caller key {kid!r}", code="caller_key.not_found")
            await tx.caller_keys.revoke(principal.tenant_id, kid, self.clock())
        log.info("caller_key.revoked", kid=kid)

    # -- operate --

    async def operate(
        self, principal: Principal, connector_id: str, envelope: OperateEnvelope
    ) -> OperateReply:
        require(principal, Scope.ACTIONS)
        request = parse_request(envelope.connector_request)
        if request.connector_id != connector_id:
            raise invalid_request(
                f"the path names connector {connector_id!r}, the signed request {request.connector_id!r}",
                "operate.connector_mismatch",
            )
        if envelope.sat_token is not None:
            raise invalid_request(
                "scheduled access tokens are not supported; omit sat_token", "operate.sat_unsupported"
            )
        await self._check_signature(principal.tenant_id, request, envelope)
        now = self.clock()
        if abs(now - request.request_time) > self.window:
            raise Unauthenticated(
                f"request_time is more than {self.window.total_seconds():g} s from the server's time",
                code="signature.expired",
                remediation="Sign a new request with the current time (and check the caller's clock).",
            )
        async with self.db.transaction(write=False) as tx:
            connection = await tx.connections.get(principal.tenant_id, request.credential_reference)
        if connection is None:
            raise not_found(request.credential_reference)
        if connection.connector_id != request.connector_id:
            raise invalid_request(
                f"connection {connection.id!r} is not a {request.connector_id} connection",
                "operate.connection_mismatch",
            )
        await self._record(principal.tenant_id, request.request_id, now)
        status, result, metadata = await self._run(principal, request)
        return await self._reply(principal.tenant_id, request, status, result, metadata)

    async def _check_signature(
        self, tenant_id: str, request: ConnectorRequest, envelope: OperateEnvelope
    ) -> None:
        signature = envelope.signature or request.signature
        if signature is None:
            raise _signature_invalid("the request is not signed", "Send the signature in 'signature'.")
        if request.signature is not None and request.signature != signature:
            raise _signature_invalid("request_signature and the envelope's signature differ")
        async with self.db.transaction(write=False) as tx:
            keys = await tx.caller_keys.active(tenant_id, "sig")
        if envelope.kid is not None:
            keys = [key for key in keys if key.kid == envelope.kid]
        if not keys:
            raise _signature_invalid(
                "no active signing key of this tenant matches",
                "Register the Ed25519 public key with POST /api/v1/caller-keys.",
            )
        message = signed_bytes(request.document, "request_signature")
        for key in keys:
            if verify(PublicJwk.from_record(key.kid, key.public_jwk).verifier(), message, signature):
                return
        raise _signature_invalid(
            "the signature does not match the request",
            "Sign the canonical JSON (RFC 8785) of connector_request without request_signature.",
        )

    async def _record(self, tenant_id: str, request_id: str, now: datetime) -> None:
        try:
            async with self.db.transaction() as tx:
                fresh = await tx.operate_requests.record(tenant_id, request_id, now)
        except Conflict:
            fresh = False
        if not fresh:
            raise Unauthenticated(
                f"request_id {request_id} was used before",
                code="signature.replayed",
                remediation="Sign every request with a new request_id; a retry is a new request.",
            )

    async def _run(self, principal: Principal, request: ConnectorRequest) -> tuple[str, Any, dict[str, Any]]:
        metadata: dict[str, Any] = {
            "action": request.operation,
            "connection_id": request.credential_reference,
        }
        try:
            outcome = await self.actions.run(
                principal, request.credential_reference, request.operation, request.parameters
            )
        except SwitchyardError as exc:
            status = "rate_limited" if isinstance(exc, RateLimited) else "error"
            log.info("operate.done", request_id=request.request_id, status=status, code=exc.code)
            return status, _error_data(exc), metadata
        metadata.update(
            provider=outcome.provider,
            action=outcome.action,
            attempts=outcome.attempts,
            duration_ms=round(outcome.duration_ms, 3),
            connection_id=outcome.connection_id,
        )
        fallback_from = getattr(outcome, "fallback_from", None)
        if fallback_from is not None:
            metadata["fallback_from"] = fallback_from
        log.info("operate.done", request_id=request.request_id, status="success", action=outcome.action)
        return "success", outcome.output, metadata

    async def _reply(
        self, tenant_id: str, request: ConnectorRequest, status: str, result: Any, metadata: dict[str, Any]
    ) -> OperateReply:
        status, result = _signable(status, result)
        async with self.db.transaction(write=False) as tx:
            recipients = await tx.caller_keys.active(tenant_id, "enc")
        if recipients:
            recipient = PublicJwk.from_record(recipients[0].kid, recipients[0].public_jwk)
            result = seal_json(result, recipient)
            metadata["result_encryption"] = {"kid": recipient.kid, "alg": SEAL_ALG, "enc": SEAL_ENC}
        response = {
            "request_id": request.document["request_id"],
            "status": status,
            "result_data": result,
            "service_metadata": metadata,
            "timestamp": _rfc3339(self.clock()),
        }
        platform = self._platform_key(await self.keys.active_key())
        message = canonical_bytes(response)
        return OperateReply(message.decode("utf-8"), platform.sign(message), platform.kid)

    # -- upkeep --

    async def prune_request_ids(self) -> int:
        """Forget request ids older than twice the window: a copy of one would be refused as expired."""
        async with self.db.transaction() as tx:
            return await tx.operate_requests.prune(self.clock() - 2 * self.window)


def _signable(status: str, result: Any) -> tuple[str, Any]:
    """An output canonical JSON cannot carry (NaN, bytes, ...) becomes an error response."""
    try:
        canonical_bytes(result)
    except InvalidInput as exc:
        detail = f"the action's output is not signable JSON: {exc.detail}"
        return "error", _error_data(InvalidInput(detail, code="operate.result_invalid"))
    return status, result


def _error_data(exc: SwitchyardError) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": exc.code,
        "detail": redact_text(exc.detail, context.released_values()),
        "remediation": exc.remediation,
    }
    for name, value in exc.extra.items():
        if name not in data and isinstance(value, str | int | float | bool):
            data[name] = value
    return data
