"""Builds the application services from settings: the one place where adapters meet services."""

from __future__ import annotations

from dataclasses import dataclass

from switchyard.adapters.breakers import breakers_for
from switchyard.adapters.catalog_files import load_builtin_catalog
from switchyard.adapters.credential_stores import DatabaseStore, ExternalStore
from switchyard.adapters.data_http import AiohttpDataHttp
from switchyard.adapters.db.engine import SqlDatabase
from switchyard.adapters.egress import policy_from_settings
from switchyard.adapters.files import private_dir
from switchyard.adapters.http import ControlHttp
from switchyard.adapters.keyfile import EnvKeySource, KeyFileSource
from switchyard.adapters.locks import locks_for
from switchyard.adapters.nango import NangoClient
from switchyard.adapters.package_store import package_store_from_settings
from switchyard.adapters.ratelimits import rate_limiter_for
from switchyard.adapters.sandbox.runner import SandboxRunner
from switchyard.adapters.sql_runner import sql_runner
from switchyard.core import retry
from switchyard.core.egress import EgressPolicy
from switchyard.core.errors import ConfigurationError
from switchyard.core.packages import PackageLimits
from switchyard.io_ports import CiphertextStore, DataHttp, KeySource
from switchyard.services.actions import ActionsService
from switchyard.services.apikeys import ApiKeyService
from switchyard.services.audit import AuditService
from switchyard.services.background import Upkeep
from switchyard.services.catalog import CatalogService
from switchyard.services.connect import ConnectSessionService
from switchyard.services.connection_actions import ConnectionActions
from switchyard.services.connection_views import ConnectionViews
from switchyard.services.connections import ConnectionsService
from switchyard.services.console_accounts import ConsoleAccounts
from switchyard.services.integrations import IntegrationsService
from switchyard.services.keyring import Keyring
from switchyard.services.marketplace import Marketplace
from switchyard.services.mcp_tokens import McpTokens
from switchyard.services.nango_provider import NangoProvider
from switchyard.services.oauth1_flow import OAuth1Flow
from switchyard.services.oauth_flow import OAuthFlow
from switchyard.services.operate import OperateService
from switchyard.services.package_code import PackageCode
from switchyard.services.packages import PackagesService
from switchyard.services.proxy import ProxyService
from switchyard.services.refresh import Refresher
from switchyard.services.rotation import Rotation
from switchyard.services.secrets import SecretsService
from switchyard.services.targets import Targets
from switchyard.services.tenancy import TenancyService
from switchyard.services.tools import ToolsService
from switchyard.services.vault import DataKeyCache, Vault
from switchyard.services.verify import Verifier
from switchyard.settings import CredentialStoreKind, Settings


@dataclass
class Container:
    settings: Settings
    db: SqlDatabase
    keyring: Keyring
    vault: Vault
    tenancy: TenancyService
    api_keys: ApiKeyService
    secrets: SecretsService
    rotation: Rotation
    catalog: CatalogService
    integrations: IntegrationsService
    connect_sessions: ConnectSessionService
    connections: ConnectionsService
    oauth: OAuthFlow
    oauth1: OAuth1Flow
    control_http: ControlHttp
    refresher: Refresher
    connection_actions: ConnectionActions
    upkeep: Upkeep
    data_http: DataHttp
    proxy: ProxyService
    actions: ActionsService
    operate: OperateService
    packages: PackagesService
    sandbox: SandboxRunner
    tools: ToolsService
    mcp_tokens: McpTokens
    console: ConsoleAccounts
    marketplace: Marketplace
    audit: AuditService
    connection_views: ConnectionViews
    external_store: ExternalStore | None = None
    nango_client: NangoClient | None = None

    async def start(self, *, upgrade: bool) -> None:
        """Migrate (single node) or check the schema, then load and check the master keys."""
        if upgrade:
            await self.db.upgrade()
        elif not await self.db.schema_is_current():
            raise ConfigurationError(
                "the database schema is not current",
                code="database.schema_outdated",
                remediation="Run: switchyard db upgrade",
            )
        await self.keyring.bootstrap()

    async def close(self) -> None:
        await self.upkeep.stop()
        await self.sandbox.close()
        await self.control_http.close()
        await self.data_http.close()
        await self.proxy.close()  # writes the last-used times still queued
        await self.proxy.limiter.close()
        await self.proxy.breakers.close()
        if self.nango_client is not None:
            await self.nango_client.close()
        if self.external_store is not None:
            await self.external_store.close()
        await self.db.dispose()


def key_source(settings: Settings) -> KeySource:
    if settings.master_key is not None:
        return EnvKeySource(settings.master_key.get_secret_value())
    return KeyFileSource(settings.resolved_master_key_file)


def build(settings: Settings) -> Container:
    private_dir(settings.data_dir)
    db = SqlDatabase(settings.resolved_database_url, pool_size=settings.db_pool_size)
    keyring = Keyring(key_source(settings), db, active_ttl=settings.active_key_ttl_seconds)
    stores: dict[str, CiphertextStore] = {"database": DatabaseStore()}
    external: ExternalStore | None = None
    if settings.credential_store_url:
        token = settings.credential_store_token
        external = ExternalStore(settings.credential_store_url, token.get_secret_value() if token else None)
        stores["external"] = external
    if settings.credential_store is CredentialStoreKind.EXTERNAL and external is None:
        raise ConfigurationError(
            "SWITCHYARD_CREDENTIAL_STORE=external needs SWITCHYARD_CREDENTIAL_STORE_URL",
            code="config.credential_store_url_missing",
        )
    cache = DataKeyCache(settings.vault_cache_ttl_seconds, settings.vault_cache_size)
    vault = Vault(db, keyring, stores, default_store=settings.credential_store.value, cache=cache)
    catalog = CatalogService(db, load_builtin_catalog())
    secrets = SecretsService(db, vault, cache_ttl=settings.vault_cache_ttl_seconds)
    nango_enabled = bool(settings.nango_url and settings.nango_secret_key)
    tenancy = TenancyService(db)
    integrations = IntegrationsService(db, vault, catalog, secrets, nango_enabled=nango_enabled)
    connections = ConnectionsService(db, vault)
    egress = policy_from_settings(settings)
    control_http = ControlHttp(policy=egress)
    oauth = OAuthFlow(
        db,
        vault,
        catalog,
        integrations,
        connections,
        control_http,
        callback_url=f"{settings.public_base_url}/oauth/callback",
    )
    oauth1 = OAuth1Flow(
        db,
        vault,
        catalog,
        integrations,
        connections,
        control_http,
        callback_url=f"{settings.public_base_url}/oauth1/callback",
    )
    nango_client = (
        NangoClient(settings.nango_url, settings.nango_secret_key.get_secret_value())
        if settings.nango_url and settings.nango_secret_key
        else None
    )
    nango = NangoProvider(db, connections, nango_client) if nango_client else None
    refresher = Refresher(
        db, vault, catalog, integrations, connections, control_http, locks_for(db), nango=nango
    )
    actions = ConnectionActions(
        db, catalog, integrations, connections, refresher, Verifier(control_http), control_http
    )
    proxy = build_proxy(settings, db, catalog, integrations, refresher, egress)
    sandbox = SandboxRunner.from_settings(settings)
    package_store = package_store_from_settings(settings)
    package_code = PackageCode(db, package_store, sandbox)
    packages = PackagesService(db, package_store, package_code, PackageLimits.from_settings(settings))
    packages.changed += [proxy.targets.forget_connector, package_code.forget]
    typed_actions = ActionsService(
        catalog,
        proxy,
        max_response_bytes=settings.action_max_response_bytes,
        sql=sql_runner(egress, timeout=settings.proxy_timeout_seconds),
        package_code=package_code,
    )
    operate = OperateService(db, keyring, typed_actions, window_seconds=settings.operate_window_seconds)
    tools = ToolsService(db, typed_actions, cache_ttl=settings.tool_cache_ttl_seconds)
    connections.moved.append(lambda connection: tools.forget(connection.tenant_id))
    packages.changed.append(tools.forget)
    return Container(
        settings=settings,
        db=db,
        keyring=keyring,
        vault=vault,
        tenancy=tenancy,
        api_keys=ApiKeyService(db, cache_ttl=settings.api_key_cache_ttl_seconds),
        secrets=secrets,
        rotation=Rotation(db, keyring, vault),
        catalog=catalog,
        integrations=integrations,
        connect_sessions=ConnectSessionService(db, tenancy, public_base_url=settings.public_base_url),
        connections=connections,
        oauth=oauth,
        oauth1=oauth1,
        control_http=control_http,
        refresher=refresher,
        connection_actions=actions,
        upkeep=Upkeep(db, vault, refresher, actions, operate, interval=settings.upkeep_interval_seconds),
        data_http=proxy.http,
        proxy=proxy,
        actions=typed_actions,
        operate=operate,
        packages=packages,
        sandbox=sandbox,
        tools=tools,
        mcp_tokens=McpTokens(db),
        console=ConsoleAccounts(db, tenancy, proxy.limiter, public_base_url=settings.public_base_url),
        marketplace=Marketplace(db, catalog),
        audit=AuditService(db),
        connection_views=ConnectionViews(db, connections),
        external_store=external,
        nango_client=nango_client,
    )


def build_proxy(
    settings: Settings,
    db: SqlDatabase,
    catalog: CatalogService,
    integrations: IntegrationsService,
    refresher: Refresher,
    egress: EgressPolicy,
) -> ProxyService:
    targets = Targets(db, catalog, integrations, refresher, ttl=settings.credential_cache_ttl_seconds)
    refresher.connections.changed.append(targets.forget)  # a refresh or disconnect here drops the cache
    http = AiohttpDataHttp(
        egress,
        timeout=settings.proxy_timeout_seconds,
        connect_timeout=settings.proxy_connect_timeout_seconds,
        max_response_bytes=settings.proxy_max_response_bytes,
    )
    return ProxyService(
        targets,
        http,
        rate_limiter_for(settings.redis_url),
        breakers_for(
            settings.redis_url,
            threshold=settings.breaker_failure_threshold,
            cooldown=settings.breaker_cooldown_seconds,
        ),
        tenant_rates=retry.parse_rates(settings.tenant_rate_limit) if settings.tenant_rate_limit else (),
        default_retries=settings.proxy_retries,
        timeout=settings.proxy_timeout_seconds,
    )
