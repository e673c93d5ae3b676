"""Connector package archives in object storage (seed 000's connectors bucket), through obstore.

``SWITCHYARD_CONNECTORS_STORAGE`` picks the store: unset, a directory under the data dir (0700); a path or
``file://`` URL, a local directory; ``s3://bucket/prefix``, ``gs://bucket/prefix``, ``az://container/prefix``
(also ``azure://``), the cloud store. ``SWITCHYARD_CONNECTORS_STORAGE_OPTIONS`` is a JSON object of the
store's options (``endpoint``, ``region``, ``access_key_id``, ``account_name``, ...); HTTP client options
(``allow_http``, ``timeout``, ``proxy_url``, ...) may sit beside them or under ``client_options``, and a
plain ``http://`` endpoint turns ``allow_http`` on, as it can only be meant that way.

Writes are never seen half done: a local put goes to a staging file (``key#N``, which listings skip) and
is renamed into place; S3, GCS and Azure make an object visible only once its upload completes.

obstore's exceptions stop here: a missing object is ``NotFound`` (``package.object_missing``), anything
else ``Unavailable`` (``storage.unavailable``) naming the kind of store. Option values other than the
endpoint and region are scrubbed from every message and log line.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast
from urllib.parse import unquote, urlsplit

import obstore
from obstore.exceptions import BaseError as ObstoreError
from obstore.store import LocalStore, from_url

from switchyard.adapters.files import private_dir
from switchyard.core.errors import ConfigurationError, NotFound, Unavailable
from switchyard.logs import get_logger

if TYPE_CHECKING:
    from obstore.store import ClientConfig, ObjectStore, RetryConfig

    from switchyard.settings import Settings

log = get_logger("switchyard.package_store")

CLOUD_KINDS = {"s3": "S3", "s3a": "S3", "gs": "GCS", "az": "Azure", "azure": "Azure"}
CLIENT_KEYS = frozenset(
    {
        "allow_http",
        "allow_invalid_certificates",
        "connect_timeout",
        "default_content_type",
        "default_headers",
        "http1_only",
        "http2_keep_alive_interval",
        "http2_keep_alive_timeout",
        "http2_keep_alive_while_idle",
        "http2_only",
        "pool_idle_timeout",
        "pool_max_idle_per_host",
        "proxy_url",
        "proxy_ca_certificate",
        "proxy_excludes",
        "root_certificate",
        "randomize_addresses",
        "read_timeout",
        "timeout",
        "user_agent",
    }
)
ENDPOINT_KEYS = frozenset(
    {
        "endpoint",
        "aws_endpoint",
        "aws_endpoint_url",
        "aws_endpoint_url_s3",
        "azure_endpoint",
        "azure_storage_endpoint",
    }
)
PUBLIC_KEYS = ENDPOINT_KEYS | {
    "region",
    "aws_region",
    "default_region",
    "bucket",
    "container_name",
    "account_name",
}
STORE_PREFIXES = ("aws_", "google_", "azure_")
_DURATIONS = ("timeout", "interval")  # client options that are durations: a bare number means seconds
DEFAULT_CLIENT: dict[str, Any] = {"connect_timeout": "5s", "timeout": "60s"}
DEFAULT_RETRIES = 3
DEFAULT_RETRY_SECONDS = 30.0
OPTIONS_VARIABLE = "SWITCHYARD_CONNECTORS_STORAGE_OPTIONS"
STORAGE_VARIABLE = "SWITCHYARD_CONNECTORS_STORAGE"


class ObjectPackageStore:
    """The ``PackageStore`` port over any obstore store; ``kind`` names it in errors ("S3", "local")."""

    def __init__(self, store: ObjectStore, kind: str, secrets: tuple[str, ...] = ()) -> None:
        self.store = store
        self.kind = kind
        self._secrets = secrets

    def __repr__(self) -> str:
        return f"ObjectPackageStore({self.kind})"

    async def put(self, key: str, data: bytes) -> None:
        try:
            await obstore.put_async(self.store, key, data)
        except (ObstoreError, OSError, ValueError, RuntimeError) as exc:
            self._unavailable("write", key, exc)

    async def get(self, key: str) -> bytes:
        try:
            result = await obstore.get_async(self.store, key)
            return bytes(await result.bytes_async())
        except FileNotFoundError:
            raise NotFound(
                f"the package archive {key!r} is not in the package store",
                code="package.object_missing",
                remediation="Upload that version again, or check SWITCHYARD_CONNECTORS_STORAGE.",
            ) from None
        except (ObstoreError, OSError, ValueError, RuntimeError) as exc:
            self._unavailable("read", key, exc)

    async def delete(self, key: str) -> None:
        try:
            await obstore.delete_async(self.store, key)
        except FileNotFoundError:
            return
        except (ObstoreError, OSError, ValueError, RuntimeError) as exc:
            self._unavailable("delete", key, exc)

    async def keys(self, prefix: str) -> list[str]:
        """Every key that starts with ``prefix`` (a plain string prefix, not only whole path segments)."""
        folder = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        try:
            listed = await obstore.list(self.store, prefix=folder or None).collect_async()
        except FileNotFoundError:
            return []
        except (ObstoreError, OSError, ValueError, RuntimeError) as exc:
            self._unavailable("list", prefix, exc)
        return sorted(entry["path"] for entry in listed if entry["path"].startswith(prefix))

    def _unavailable(self, action: str, key: str, exc: BaseException) -> NoReturn:
        reason = _scrub(_first_line(exc), self._secrets)
        log.warning("package_store.failed", store=self.kind, action=action, key=key, reason=reason)
        raise Unavailable(
            f"the package store ({self.kind}) could not {action} {key!r} ({type(exc).__name__})",
            code="storage.unavailable",
            remediation=f"Check that the store is reachable and {OPTIONS_VARIABLE} is right; see the log.",
        ) from None


def package_store_from_settings(settings: Settings) -> ObjectPackageStore:
    location = settings.connectors_storage
    raw = settings.connectors_storage_options
    options = _options(raw.get_secret_value() if raw is not None else None)
    if not location:
        return _local(private_dir(settings.data_dir / "connectors"))
    scheme = urlsplit(location).scheme.lower()
    if scheme == "file":
        return _local(private_dir(_file_path(location)))
    if scheme in CLOUD_KINDS:
        return _cloud(location, CLOUD_KINDS[scheme], options)
    if scheme and len(scheme) > 1:  # one letter is a Windows drive, not a scheme
        _refuse(f"{STORAGE_VARIABLE} has the scheme {scheme!r}; use a path, file://, s3://, gs:// or az://")
    return _local(private_dir(Path(location).expanduser()))


def _local(path: Path) -> ObjectPackageStore:
    return ObjectPackageStore(LocalStore(path.resolve()), "local directory")


def _file_path(location: str) -> Path:
    parts = urlsplit(location)
    if parts.netloc not in ("", "localhost") or not parts.path:
        _refuse(f"{STORAGE_VARIABLE} must be file:///absolute/path (three slashes)")
    return Path(unquote(parts.path))


def _cloud(location: str, kind: str, options: dict[str, Any]) -> ObjectPackageStore:
    parts = urlsplit(location)
    shown = f"{parts.scheme}://{parts.hostname or ''}{parts.path}"  # never any user:password@
    if not parts.hostname:
        _refuse(f"{STORAGE_VARIABLE} {shown!r} names no bucket or container")
    secrets = _secrets(options)
    config, client, retry = _split(options)
    try:
        store = from_url(location, config=cast(Any, config), client_options=client, retry_config=retry)
    except (ObstoreError, ValueError, TypeError) as exc:
        _refuse(f"the {kind} store {shown!r} cannot be set up: {_scrub(_first_line(exc), secrets)}")
    except BaseException as exc:  # obstore's Rust core panics on some option names (PanicException)
        if type(exc).__name__ != "PanicException":
            raise
        _refuse(f"the {kind} store {shown!r} refused an option name in {OPTIONS_VARIABLE}")
    return ObjectPackageStore(store, kind, secrets)


def _options(text: str | None) -> dict[str, Any]:
    if text is None or not text.strip():
        return {}
    try:
        options = json.loads(text)
    except json.JSONDecodeError:
        _refuse(f"{OPTIONS_VARIABLE} is not JSON (it must be a JSON object of store options)")
    if not isinstance(options, dict):
        _refuse(f"{OPTIONS_VARIABLE} must be a JSON object of store options")
    return options


def _split(options: dict[str, Any]) -> tuple[dict[str, str], ClientConfig, RetryConfig]:
    """The store's own options, the HTTP client's options and the retry policy, from one JSON object."""
    config: dict[str, str] = {}
    client: dict[str, Any] = dict(DEFAULT_CLIENT)
    nested = options.get("client_options", {})
    if not isinstance(nested, dict):
        _refuse(f"client_options in {OPTIONS_VARIABLE} must be a JSON object")
    retries = options.get("max_retries", DEFAULT_RETRIES)
    seconds = options.get("retry_timeout_seconds", DEFAULT_RETRY_SECONDS)
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        _refuse(f"max_retries in {OPTIONS_VARIABLE} must be a whole number, 0 or more")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
        _refuse(f"retry_timeout_seconds in {OPTIONS_VARIABLE} must be a positive number")
    for key, value in options.items():
        if key in ("client_options", "max_retries", "retry_timeout_seconds"):
            continue
        if (client_key := _client_key(key)) is not None:
            seconds_given = isinstance(value, int | float) and not isinstance(value, bool)
            client[client_key] = f"{value}s" if seconds_given and client_key.endswith(_DURATIONS) else value
        elif isinstance(value, bool):
            config[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            config[key] = str(value)
        else:
            _refuse(f"the option {key!r} in {OPTIONS_VARIABLE} must be a string, number or boolean")
    client.update(nested)
    if any(k.lower() in ENDPOINT_KEYS and v.lower().startswith("http://") for k, v in config.items()):
        client.setdefault("allow_http", True)
    retry: RetryConfig = {"max_retries": retries, "retry_timeout": timedelta(seconds=seconds)}
    return config, client, retry  # type: ignore[return-value]


def _client_key(key: str) -> str | None:
    """The HTTP client option a key names, also when spelt as a store option (``AWS_ALLOW_HTTP``), which
    obstore would otherwise take for a store option and panic on."""
    name = key.lower()
    for prefix in STORE_PREFIXES:
        name = name.removeprefix(prefix)
    return name if name in CLIENT_KEYS else None


def _secrets(options: dict[str, Any]) -> tuple[str, ...]:
    """Every option value that may be a secret (all but the endpoint and names), longest first."""
    found: set[str] = set()
    nested = options.get("client_options")
    for key, value in [*options.items(), *(nested.items() if isinstance(nested, dict) else [])]:
        if key.lower() in ENDPOINT_KEYS and isinstance(value, str):
            password = urlsplit(value).password
            found.update([password] if password else [])
        elif key.lower() not in PUBLIC_KEYS and isinstance(value, str) and len(value) >= 4:
            found.add(value)
    return tuple(sorted(found, key=len, reverse=True))


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _refuse(message: str) -> NoReturn:
    raise ConfigurationError(
        message,
        code="config.invalid",
        remediation=f"Fix {STORAGE_VARIABLE} / {OPTIONS_VARIABLE}; see docs/packages.md (Storage).",
    )
