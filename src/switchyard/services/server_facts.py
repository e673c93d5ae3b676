"""What of the server's configuration an operator may see in the console.

Only kinds are shown of what may hold credentials: the database engine (never its URL), the credential
store kind, the package storage's scheme; never a key, a token or a URL's user and password.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from switchyard import __version__
from switchyard.settings import Settings


def _database_kind(settings: Settings) -> str:
    scheme = settings.resolved_database_url.split(":", 1)[0].split("+", 1)[0].lower()
    return {"sqlite": "SQLite", "postgresql": "PostgreSQL", "postgres": "PostgreSQL"}.get(scheme, scheme)


def _storage_kind(settings: Settings) -> str:
    where = settings.connectors_storage
    if not where:
        return "directory in the data dir"
    scheme = where.split("://", 1)[0].lower() if "://" in where else ""
    return {"": "directory", "file": "directory"}.get(scheme, scheme)


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


def server_facts(settings: Settings) -> list[tuple[str, str]]:
    """What an operator may see of the configuration: no URL that may hold a password, no key."""
    return [
        ("Public base URL", _without_credentials(settings.public_base_url)),
        ("Database", _database_kind(settings)),
        ("Multi-node coordination (Redis)", "on" if settings.redis_url else "off"),
        ("Credential store", settings.credential_store.value),
        ("Master keys from", "environment" if settings.master_key is not None else "key file"),
        ("Connector package storage", _storage_kind(settings)),
        (
            "Sandbox",
            "no isolation (development only)" if settings.sandbox_unsafe_no_isolation else "bubblewrap",
        ),
        ("Largest package", f"{settings.package_max_bytes // 1024} KiB"),
        ("Version", __version__),
    ]
