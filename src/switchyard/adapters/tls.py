"""A self-signed TLS certificate for single-node ``switchyard serve --tls``, kept in the data dir.

The pair lives in ``<data dir>/tls/`` (directory 0700, ``key.pem`` 0600, ``cert.pem``). It is reused while
it stays valid for more than ``RENEW_BEFORE`` and names every wanted host; otherwise, or when the key file
has become readable by group or others, a new pair (ECDSA P-256, valid ``VALIDITY``) replaces it.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from switchyard.adapters.files import private_dir
from switchyard.core.errors import ConfigurationError

VALIDITY = timedelta(days=365)
RENEW_BEFORE = timedelta(days=30)
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")

_Name = x509.DNSName | x509.IPAddress


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path


def hosts_for(public_base_url: str) -> list[str]:
    """The loopback names plus the host users reach the server by, without duplicates."""
    public_host = urlsplit(public_base_url).hostname
    return list(dict.fromkeys([*DEFAULT_HOSTS, *([public_host] if public_host else [])]))


def ensure_self_signed(directory: Path, hosts: list[str], *, now: datetime | None = None) -> TlsFiles:
    """The certificate and key in ``directory``, generated unless a usable pair is already there."""
    files = TlsFiles(cert=directory / "cert.pem", key=directory / "key.pem")
    moment = now or datetime.now(UTC)
    try:
        if not _reusable(files, hosts, moment):
            _generate(files, hosts, moment)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write the TLS certificate in {directory}: {exc.strerror or type(exc).__name__}",
            code="config.tls_files",
            remediation=f"Make {directory.parent} writable by this user, or remove {directory}.",
        ) from None
    return files


def _reusable(files: TlsFiles, hosts: list[str], now: datetime) -> bool:
    if not (files.cert.is_file() and files.key.is_file()):
        return False
    if stat.S_IMODE(files.key.stat().st_mode) & 0o077:
        return False  # others may have read it: replace it rather than keep serving with it
    try:
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
        key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, x509.ExtensionNotFound):
        return False
    if cert.public_key() != key.public_key():
        return False
    if cert.not_valid_after_utc - now <= RENEW_BEFORE:
        return False
    return set(_alt_names(hosts)) <= set(names)


def _generate(files: TlsFiles, hosts: list[str], now: datetime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0] if hosts else "localhost")])
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_alt_names(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    private_dir(files.key.parent).chmod(0o700)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_atomically(files.key, key_pem, 0o600)
    _write_atomically(files.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _alt_names(hosts: list[str]) -> list[_Name]:
    names: list[_Name] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _write_atomically(path: Path, content: bytes, mode: int) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, mode)  # O_CREAT's mode is filtered by the umask and ignored for an existing file
    os.replace(temporary, path)
