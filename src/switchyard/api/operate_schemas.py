"""Request and response bodies of the signed operate API and of callers' keys (see docs/operate.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from switchyard.core.models import CallerKey
from switchyard.services.operate import OperateEnvelope, OperateReply


class OperateIn(BaseModel):
    """Seed 002's envelope; ``kid`` is an addition that names the signing key."""

    model_config = ConfigDict(extra="forbid")

    connector_request: str = Field(
        min_length=2, description="The ConnectorRequest as JSON text (canonical form recommended)."
    )
    sat_token: str | None = Field(default=None, description="Not supported: must be absent or null.")
    signature: str | None = Field(
        default=None,
        description="Ed25519 signature (base64url, no padding) of the canonical request without "
        "request_signature; may instead travel as the request's request_signature.",
    )
    kid: str | None = Field(default=None, max_length=128, description="The caller key that signed.")

    def envelope(self) -> OperateEnvelope:
        return OperateEnvelope(self.connector_request, self.signature, self.sat_token, self.kid)


class OperateOut(BaseModel):
    connector_response: str = Field(
        description="The ConnectorResponse as canonical JSON text: exactly the bytes the signature covers."
    )
    signature: str = Field(description="Ed25519 signature (base64url): the response_signature.")
    kid: str = Field(description="The platform key that signed; find it in /.well-known/jwks.json.")

    @classmethod
    def of(cls, reply: OperateReply) -> OperateOut:
        return cls(connector_response=reply.connector_response, signature=reply.signature, kid=reply.kid)


class CallerKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jwk: dict[str, Any] = Field(description="A public OKP JWK: Ed25519 (sig) or X25519 (enc). Never 'd'.")
    kid: str | None = Field(
        default=None, min_length=1, max_length=128, description="Default: the JWK's kid, else its thumbprint."
    )
    use: Literal["sig", "enc"] | None = Field(default=None, description="Default: from the curve.")


class CallerKeyOut(BaseModel):
    id: str
    kid: str
    use: str
    jwk: dict[str, Any]
    status: str = Field(description="active or revoked")
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: CallerKey) -> CallerKeyOut:
        return cls(
            id=key.id,
            kid=key.kid,
            use=key.use,
            jwk=key.public_jwk,
            status="revoked" if key.revoked_at else "active",
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )


class CallerKeyList(BaseModel):
    caller_keys: list[CallerKeyOut]


class JwksOut(BaseModel):
    keys: list[dict[str, str]]
