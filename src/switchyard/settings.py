"""Settings: the only place that reads environment variables (``SWITCHYARD_*``).

Everything has a single-node default: a data directory holding the SQLite database, the master key file
and the TLS certificate. Pointing ``SWITCHYARD_DATABASE_URL`` at PostgreSQL and ``SWITCHYARD_REDIS_URL`` at
Redis moves the same code to multi-node mode.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class LogFormat(StrEnum):
    JSON = "json"
    CONSOLE = "console"


class CredentialStoreKind(StrEnum):
    DATABASE = "database"
    EXTERNAL = "external"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SWITCHYARD_", extra="ignore")

    data_dir: Path = Field(default=Path("./switchyard-data"), description="Where single-node state lives.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default: sqlite+aiosqlite in the data dir."
    )
    redis_url: str | None = Field(default=None, description="Redis for multi-node locks and limits.")
    master_key: SecretStr | None = Field(
        default=None,
        description="Master keys as 'id:base64[,id:base64]'; when unset, a key file in the data dir is used.",
    )
    master_key_file: Path | None = Field(default=None, description="Default: <data dir>/master-keys.json.")
    public_base_url: str = Field(default="http://127.0.0.1:8080", description="How users reach this server.")
    log_format: LogFormat = LogFormat.JSON
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    credential_store: CredentialStoreKind = CredentialStoreKind.DATABASE
    credential_store_url: str | None = Field(default=None, description="Base URL of an external store.")
    credential_store_token: SecretStr | None = None
    vault_cache_ttl_seconds: float = Field(default=30.0, ge=0, description="0 disables the data-key cache.")
    vault_cache_size: int = Field(default=10_000, ge=0)
    active_key_ttl_seconds: float = Field(
        default=2.0, gt=0, description="How long a process trusts its view of the active master key."
    )
    db_pool_size: int = Field(default=10, ge=1)
    nango_url: str | None = Field(default=None, description="A Nango server for the nango auth provider.")
    nango_secret_key: SecretStr | None = None
    upkeep_interval_seconds: float = Field(
        default=30.0, ge=0, description="Token refresh sweep and revocation retries; 0 turns them off."
    )
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024, description="Largest request body accepted.")
    egress_allow_http_hosts: str = Field(
        default="", description="Comma-separated hosts that may be called over plain http (e.g. 127.0.0.1)."
    )
    egress_allow_networks: str = Field(
        default="",
        description="Comma-separated CIDRs the egress guard lets through although private (e.g. 10.2.0.0/16).",
    )
    egress_max_redirects: int = Field(default=5, ge=0, le=20)
    proxy_timeout_seconds: float = Field(default=30.0, gt=0, description="Longest a provider call may take.")
    proxy_connect_timeout_seconds: float = Field(default=10.0, gt=0)
    proxy_max_request_bytes: int = Field(
        default=100 * 1024 * 1024, ge=1024, description="Largest body the proxy forwards (streamed)."
    )
    proxy_max_response_bytes: int = Field(
        default=100 * 1024 * 1024, ge=1024, description="Largest provider answer the proxy passes on."
    )
    action_max_response_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Largest provider answer an action reads."
    )
    proxy_retries: int = Field(default=3, ge=0, le=10, description="Default retries for idempotent calls.")
    tenant_rate_limit: str = Field(
        default="1000/second", description="Global limit per tenant on proxied calls and actions ('' = none)."
    )
    breaker_failure_threshold: int = Field(default=5, ge=1, description="Consecutive failures that open it.")
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0, description="Open this long, then half-open.")
    credential_cache_ttl_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long a process reuses a connection's opened credentials (0 = off).",
    )
    api_key_cache_ttl_seconds: float = Field(
        default=5.0, ge=0, description="How long a process trusts a checked API key (revocation delay)."
    )
    operate_window_seconds: float = Field(
        default=300.0, gt=0, description="How far an operate request_time may be from now."
    )
    tool_cache_ttl_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a process keeps an end user's tool list (0: list every call).",
    )
    connectors_storage: str | None = Field(
        default=None,
        description="Where uploaded connector packages are kept: a directory, file://, s3://bucket/prefix, "
        "gs://bucket/prefix or az://container/prefix. Default: <data dir>/connectors.",
    )
    connectors_storage_options: SecretStr | None = Field(
        default=None,
        description="JSON object of the object store's options (endpoint, region, keys), e.g. "
        '{"endpoint": "http://127.0.0.1:9000", "region": "us-east-1"}.',
    )
    package_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, description="Largest package .zip.")
    package_max_unpacked_bytes: int = Field(
        default=50 * 1024 * 1024, ge=1024, description="Largest total size of a package's files, unpacked."
    )
    package_max_files: int = Field(default=1000, ge=1, description="Most files in one package.")
    package_max_ratio: int = Field(
        default=100, ge=1, description="Highest compression ratio of a package file (zip bombs)."
    )
    sandbox_unsafe_no_isolation: bool = Field(
        default=False,
        description="DEVELOPMENT ONLY: run custom connector code without bubblewrap (limits still apply).",
    )
    sandbox_wall_seconds: float = Field(default=30.0, gt=0, description="Longest one hook call may take.")
    sandbox_cpu_seconds: int = Field(default=10, ge=1, description="CPU time of one sandbox process.")
    sandbox_memory_mb: int = Field(default=512, ge=64, description="Address space of one sandbox process.")
    sandbox_file_mb: int = Field(default=16, ge=1, description="Largest file sandboxed code may write.")
    sandbox_tmpfs_mb: int = Field(default=64, ge=1, description="Size of a sandbox's private work dir.")
    sandbox_open_files: int = Field(default=64, ge=16, description="Open files of one sandbox process.")
    sandbox_output_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Most output (prints, replies) one hook call may write."
    )
    sandbox_warm_pool: int = Field(default=2, ge=0, description="Started sandboxes kept ready for a call.")
    sandbox_idle_seconds: float = Field(
        default=300.0, gt=0, description="How long a used sandbox waits for its next call of that package."
    )
    sandbox_max_calls: int = Field(
        default=200, ge=1, description="Calls one sandbox serves before it is replaced."
    )
    sandbox_max_live: int = Field(
        default=16, ge=1, description="Most sandbox processes alive at once; further calls wait."
    )
    profiles_file: Path | None = Field(
        default=None,
        description="The CLI's saved server profiles (switchyard login). Default: "
        "$XDG_CONFIG_HOME/switchyard/profiles.json, else ~/.config/switchyard/profiles.json.",
    )
    xdg_config_home: Path | None = Field(
        default=None,
        validation_alias="XDG_CONFIG_HOME",  # an alias is read as is: env_prefix does not apply to it
        description="XDG_CONFIG_HOME itself (no SWITCHYARD_ prefix): where the profiles file goes by default.",
    )

    @property
    def resolved_profiles_file(self) -> Path:
        """The CLI's profiles file: ``profiles_file``, else under ``$XDG_CONFIG_HOME``, else under
        ``~/.config``. An empty or relative XDG_CONFIG_HOME is ignored, as the XDG Base Directory spec asks."""
        if self.profiles_file is not None:
            return self.profiles_file
        config_home = self.xdg_config_home
        if config_home is None or not config_home.is_absolute():
            config_home = Path.home() / ".config"
        return config_home / "switchyard" / "profiles.json"

    migrate_on_start: bool | None = Field(
        default=None, description="Upgrade the schema when serving; default: on for SQLite, off otherwise."
    )

    @field_validator("public_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def http_allowed_hosts(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.egress_allow_http_hosts.split(",") if h.strip())

    @property
    def allowed_networks(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.egress_allow_networks.split(",") if n.strip())

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'switchyard.db').resolve()}"

    @property
    def resolved_master_key_file(self) -> Path:
        return self.master_key_file or self.data_dir / "master-keys.json"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def auto_migrate(self) -> bool:
        return self.is_sqlite if self.migrate_on_start is None else self.migrate_on_start
