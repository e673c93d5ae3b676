"""The connector definition: one schema for YAML and JSON, published as JSON Schema 2020-12.

Keys are camelCase as in seed 000's ``manifest.json`` (``displayName``, ``authorizationUrl``, ``dataSources``);
seed 002's ConnectorDefinition fields are here under the same names in camelCase (``serviceType``,
``authenticationMethods``, ``dataSchema``, ``rateLimits``, ``versioning``), and the loader also accepts their
snake_case spelling. Seed 000's single ``authentication: {type, config}`` is folded into
``authenticationMethods`` by the loader.

URLs may hold ``{{placeholders}}`` naming connection-config fields (a Shopify shop, a Zendesk subdomain).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from switchyard.core.manifest.action_schema import Action
from switchyard.core.manifest.model import Model

SCHEMA_ID = "https://switchyard.dev/schemas/connector-definition.json"
CONNECTOR_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
SEMVER = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
FIELD_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Category(StrEnum):
    """Seed 003's and seed 001's categories."""

    E_COMMERCE = "e-commerce"
    PRODUCTIVITY = "productivity"
    CRM = "crm"
    DEVELOPMENT = "development"
    ANALYTICS = "analytics"
    DATABASES = "databases"
    AI_ML = "ai-ml"
    DATA_EXTRACTION = "data-extraction"
    STORAGE = "storage"
    SOCIAL = "social"
    COMMUNICATION = "communication"


class Protocol(StrEnum):
    HTTP = "http"
    POSTGRESQL = "postgresql"
    MYSQL = "mysql"
    MONGODB = "mongodb"
    REDIS = "redis"
    SMTP_IMAP = "smtp_imap"


class FormField(Model):
    """One input of the connect form (connection config or credential)."""

    type: Literal["string", "integer", "number", "boolean"] = "string"
    title: str
    description: str | None = None
    secret: bool = Field(default=False, description="Masked in forms and responses; stored in the vault.")
    required: bool = True
    pattern: str | None = Field(default=None, description="A regular expression the value must match.")
    default: str | int | float | bool | None = None
    enum: list[str] | None = None
    example: str | None = None


FieldName = Annotated[str, Field(pattern=FIELD_NAME)]
Fields = dict[FieldName, FormField]


class Injection(Model):
    """How a credential reaches the provider on every proxied call."""

    in_: Literal["header", "query", "basic"] = Field(default="header", alias="in")
    name: str | None = Field(default=None, description="Header or query parameter name; not for basic.")
    format: str = Field(
        default="Bearer {{access_token}}",
        description="The value, with credential placeholders: {{access_token}}, {{api_key}}, {{username}} ...",
    )

    @model_validator(mode="after")
    def _name_needed(self) -> Injection:
        if self.in_ != "basic" and not self.name:
            raise ValueError("a header or query injection needs a name")
        return self


BEARER = Injection(in_="header", name="Authorization", format="Bearer {{access_token}}")
TokenAuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt"]


class OAuth2(Model):
    """OAuth 2.0 authorization code (RFC 6749 section 4.1), with PKCE (RFC 7636) on by default."""

    type: Literal["oauth2"]
    authorization_url: str
    token_url: str
    refresh_url: str | None = Field(default=None, description="Default: the token URL.")
    revocation_url: str | None = Field(default=None, description="RFC 7009 endpoint, used on disconnect.")
    default_scopes: list[str] = Field(default_factory=list)
    scope_separator: str = " "
    pkce: bool = True
    token_auth_method: TokenAuthMethod = "client_secret_basic"
    authorization_params: dict[str, str] = Field(default_factory=dict)
    token_params: dict[str, str] = Field(default_factory=dict)
    expiry_buffer_seconds: int = Field(default=300, ge=0, description="Refresh this long before expiry.")
    inject: Injection = BEARER
    client_id: str | None = Field(default=None, description="Seed 000 template; the integration supplies it.")
    client_secret: str | None = Field(default=None, description="Seed 000 template; kept in the vault.")


class OAuth2ClientCredentials(Model):
    """OAuth 2.0 client credentials (RFC 6749 section 4.4): the integration's own token, no end user consent."""

    type: Literal["oauth2_client_credentials"]
    token_url: str
    default_scopes: list[str] = Field(default_factory=list)
    scope_separator: str = " "
    token_auth_method: TokenAuthMethod = "client_secret_basic"
    token_params: dict[str, str] = Field(default_factory=dict)
    expiry_buffer_seconds: int = Field(default=300, ge=0)
    inject: Injection = BEARER


class OAuth1(Model):
    """OAuth 1.0a (RFC 5849) three-legged flow; each proxied request is signed."""

    type: Literal["oauth1"]
    request_token_url: str
    authorization_url: str
    access_token_url: str
    signature_method: Literal["HMAC-SHA1"] = "HMAC-SHA1"
    authorization_params: dict[str, str] = Field(default_factory=dict)


def _fields(**specs: FormField) -> Fields:
    return dict(specs)


class ApiKey(Model):
    type: Literal["api_key"]
    credentials: Fields = Field(
        default_factory=lambda: _fields(api_key=FormField(title="API key", secret=True)),
        description="The fields the end user enters.",
    )
    inject: Injection = Injection(in_="header", name="Authorization", format="Bearer {{api_key}}")


class Basic(Model):
    type: Literal["basic"]
    credentials: Fields = Field(
        default_factory=lambda: _fields(
            username=FormField(title="Username"), password=FormField(title="Password", secret=True)
        )
    )
    inject: Injection = Injection(in_="basic", format="{{username}}:{{password}}")


class AppPassword(Model):
    """A provider-issued password for one app (Atlassian API tokens, Google app passwords)."""

    type: Literal["app_password"]
    credentials: Fields = Field(
        default_factory=lambda: _fields(
            username=FormField(title="Username or email"),
            password=FormField(title="App password", secret=True),
        )
    )
    inject: Injection = Injection(in_="basic", format="{{username}}:{{password}}")


AuthMethod = Annotated[
    OAuth2 | OAuth2ClientCredentials | OAuth1 | ApiKey | Basic | AppPassword, Field(discriminator="type")
]


class Proxy(Model):
    base_url: str = Field(description="Where proxied paths are sent; may hold {{config}} placeholders.")
    headers: dict[str, str] = Field(default_factory=dict, description="Sent on every proxied call.")


class RetryHints(Model):
    retry_after_header: str | None = "Retry-After"
    rate_limit_reset_header: str | None = None
    rate_limit_remaining_header: str | None = None
    reset_format: Literal["epoch_seconds", "seconds", "http_date"] = "epoch_seconds"
    retryable_statuses: list[Annotated[int, Field(ge=400, le=599)]] = Field(
        default_factory=lambda: [429, 502, 503, 504]
    )


class Pagination(Model):
    type: Literal["cursor", "link", "offset", "page"]
    items_path: str | None = Field(default=None, description="Dotted path to the list in a response body.")
    limit_param: str | None = None
    cursor_param: str | None = Field(default=None, description="cursor: the request parameter.")
    cursor_path: str | None = Field(default=None, description="cursor: dotted path of the next cursor.")
    offset_param: str | None = None
    page_param: str | None = None

    @model_validator(mode="after")
    def _parameters_for_type(self) -> Pagination:
        needed = {
            "cursor": ("cursor_param", "cursor_path"),
            "offset": ("offset_param",),
            "page": ("page_param",),
            "link": (),
        }[self.type]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"{self.type} pagination needs {', '.join(to_camel(m) for m in missing)}")
        return self


class Verification(Model):
    """The cheapest authenticated request, used by "test connection" and by live key checks."""

    method: Literal["GET", "POST", "HEAD"] = "GET"
    path: str = Field(description="Relative to the proxy base URL.")
    expect_status: list[int] = Field(default_factory=lambda: [200])
    body: dict[str, Any] | None = None
    account_id_path: str | None = Field(default=None, description="Where the provider's user id is found.")


class RateLimits(Model):
    """Seed 002's RateLimitSpec."""

    requests_per_second: float | None = Field(default=None, gt=0)
    requests_per_minute: float | None = Field(default=None, gt=0)
    requests_per_hour: float | None = Field(default=None, gt=0)
    burst: int | None = Field(default=None, ge=1)
    concurrency: int | None = Field(default=None, ge=1)
    per: Literal["connection", "tenant"] = Field(
        default="connection",
        description="Whom the limits count: each connection (a provider's per-token limit), or all of a "
        "tenant's connections to this provider together (an app-wide limit).",
    )


class Versioning(Model):
    """Seed 002's VersionInfo."""

    api_version: str | None = None
    deprecated: bool = False
    changelog_url: str | None = None


class Operation(Model):
    """A trigger or data source; their fields come with the issues that run them."""

    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True, frozen=True)
    name: str
    description: str | None = None


class Definition(Model):
    name: str = Field(pattern=CONNECTOR_ID, description="The connector id: lowercase kebab-case.")
    version: str = Field(pattern=SEMVER)
    display_name: str
    description: str = ""
    icon: str | None = Field(default=None, description="A logo: an https URL or a data: URI.")
    categories: list[Category] = Field(default_factory=list)
    docs_url: str | None = None
    service_type: str = Field(
        default="other", description="Seed 002's service type, e.g. social_media, storage, messaging."
    )
    capabilities: list[str] = Field(default_factory=list)
    protocol: Protocol = Protocol.HTTP
    authentication_methods: list[AuthMethod] = Field(min_length=1)
    connection_config: Fields = Field(
        default_factory=dict, description="Per-connection settings the form asks."
    )
    proxy: Proxy | None = None
    retry: RetryHints = RetryHints()
    pagination: Pagination | None = None
    verification: Verification | None = None
    rate_limits: RateLimits | None = None
    data_schema: dict[str, Any] | None = Field(default=None, description="Seed 002: JSON Schema of the data.")
    versioning: Versioning | None = None
    actions: list[Action] = Field(default_factory=list)
    triggers: list[Operation] = Field(default_factory=list)
    data_sources: list[Operation] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_method_per_type(self) -> Definition:
        types = [method.type for method in self.authentication_methods]
        if len(set(types)) != len(types):
            raise ValueError("each authentication method type may appear once")
        return self

    @model_validator(mode="after")
    def _actions_consistent(self) -> Definition:
        names = [action.name for action in self.actions]
        if len(set(names)) != len(names):
            raise ValueError("action names must be unique")
        for action in self.actions:
            if action.fallback is not None and action.fallback not in names:
                raise ValueError(f"action {action.name}: fallback {action.fallback!r} is not an action here")
            if action.paginate and self.pagination is None:
                raise ValueError(f"action {action.name}: paginate needs the definition's pagination")
            if action.request is not None and self.proxy is None:
                raise ValueError(f"action {action.name}: a request action needs the definition's proxy")
        return self

    def action(self, name: str) -> Action | None:
        return next((a for a in self.actions if a.name == name), None)

    def auth_types(self) -> list[str]:
        return [method.type for method in self.authentication_methods]

    def method(self, auth_type: str) -> AuthMethod | None:
        return next((m for m in self.authentication_methods if m.type == auth_type), None)


def json_schema() -> dict[str, Any]:
    """The published JSON Schema (2020-12) of a definition, as authors write it."""
    schema = Definition.model_json_schema(by_alias=True, mode="validation")
    return {
        **schema,
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Switchyard connector definition",
    }
