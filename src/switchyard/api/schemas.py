"""Request and response bodies of the HTTP API: tenancy, API keys, secrets (the OpenAPI document is
generated from these). ``catalog_schemas`` and ``connection_schemas`` hold the rest."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from switchyard.core.models import AccessRecord, ApiKey
from switchyard.core.secrets import SecretType
from switchyard.services.apikeys import NewKey
from switchyard.services.secrets import SecretView


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    """A response body read straight from a core record's attributes."""

    model_config = ConfigDict(from_attributes=True)


class TenantOut(Out):
    id: str
    name: str
    created_at: datetime


class EndUserIn(Body):
    external_id: str = Field(min_length=1, max_length=255, description="Your id for this user.")
    email: str | None = Field(default=None, max_length=320)
    display_name: str | None = Field(default=None, max_length=255)
    tags: list[str] = Field(default_factory=list)


class EndUserPatch(Body):
    email: str | None = Field(default=None, max_length=320)
    display_name: str | None = Field(default=None, max_length=255)
    tags: list[str] | None = None


class EndUserOut(Out):
    id: str
    external_id: str
    email: str | None
    display_name: str | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime


class EndUserPage(BaseModel):
    end_users: list[EndUserOut]
    next_cursor: str | None


class ApiKeyIn(Body):
    name: str = Field(min_length=1, max_length=128)
    scopes: list[str] = Field(min_length=1)
    expires_at: AwareDatetime | None = None


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="The public part of the key, to recognise it.")
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            id=key.id,
            name=key.name,
            prefix=f"syk_{key.lookup}",
            scopes=sorted(key.scopes),
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
        )


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself. Shown once; store it now.")

    @classmethod
    def of_new(cls, new: NewKey) -> ApiKeyCreated:
        return cls(**ApiKeyOut.of(new.key).model_dump(), key=new.plaintext)


class ApiKeyList(BaseModel):
    api_keys: list[ApiKeyOut]


class SecretIn(Body):
    name: str = Field(description="1-128 characters: a letter, then letters, digits, '_', '.', '-'.")
    type: SecretType = SecretType.GENERIC
    value: str = Field(description="At most 64 KiB of UTF-8.")
    description: str | None = Field(default=None, max_length=1024)
    expires_at: AwareDatetime | None = None
    rotation_due_at: AwareDatetime | None = None


class SecretUpdate(Body):
    value: str | None = Field(default=None, description="A new value adds a version.")
    type: SecretType | None = None
    description: str | None = Field(default=None, max_length=1024)
    expires_at: AwareDatetime | None = None
    rotation_due_at: AwareDatetime | None = None


class SecretOut(BaseModel):
    id: str
    name: str
    type: str
    description: str | None
    value: str = Field(description="Masked (***key123) unless revealed.")
    masked: bool
    version: int
    current_version: int
    status: str = Field(description="active, rotation_due or expired")
    expires_at: datetime | None
    rotation_due_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: SecretView) -> SecretOut:
        s = view.secret
        return cls(
            id=s.id,
            name=s.name,
            type=s.type,
            description=s.description,
            value=view.value,
            masked=not view.revealed,
            version=view.version.version,
            current_version=s.current_version,
            status=view.status,
            expires_at=s.expires_at,
            rotation_due_at=s.rotation_due_at,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )


class SecretPage(BaseModel):
    secrets: list[SecretOut]
    next_cursor: str | None


class SecretVersionOut(BaseModel):
    version: int
    masked_value: str
    created_at: datetime
    current: bool


class SecretVersions(BaseModel):
    name: str
    versions: list[SecretVersionOut]


class AccessEntry(BaseModel):
    id: str
    at: datetime
    actor: str
    purpose: str
    outcome: str
    error_code: str | None
    request_id: str | None
    version: int | None

    @classmethod
    def of(cls, record: AccessRecord, versions: dict[str, int]) -> AccessEntry:
        return cls(
            id=record.id,
            at=record.at,
            actor=record.actor,
            purpose=record.purpose,
            outcome=record.outcome,
            error_code=record.error_code,
            request_id=record.request_id,
            version=versions.get(record.item_id),
        )


class AccessLogOut(BaseModel):
    name: str
    access_count: int
    last_accessed_at: datetime | None
    entries: list[AccessEntry]
    next_cursor: str | None


class Health(BaseModel):
    status: str
    checks: dict[str, Any] = Field(default_factory=dict)
