"""The self-signed certificate ``serve --tls`` uses (switchyard.adapters.tls)."""

from __future__ import annotations

import ipaddress
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from switchyard.adapters.tls import ensure_self_signed, hosts_for
from switchyard.core.errors import ConfigurationError

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _names(cert_path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {*san.get_values_for_type(x509.DNSName), *map(str, san.get_values_for_type(x509.IPAddress))}


def test_hosts_for_adds_the_public_host_once() -> None:
    assert hosts_for("https://switchyard.example.com:8443/base") == [
        "localhost", "127.0.0.1", "::1", "switchyard.example.com",
    ]  # fmt: skip
    assert hosts_for("http://127.0.0.1:8080") == ["localhost", "127.0.0.1", "::1"]


def test_generates_a_private_key_and_a_one_year_certificate(tmp_path: Path) -> None:
    files = ensure_self_signed(tmp_path / "tls", hosts_for("https://sy.example.com"), now=NOW)
    assert _names(files.cert) == {"localhost", "127.0.0.1", "::1", "sy.example.com"}
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    assert cert.not_valid_after_utc == NOW + timedelta(days=365)
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.key.parent.stat().st_mode) == 0o700
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("::1") in san.get_values_for_type(x509.IPAddress)
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "sy.example.com"]


def test_reused_until_thirty_days_before_expiry(tmp_path: Path) -> None:
    hosts = hosts_for("http://127.0.0.1:8080")
    first = ensure_self_signed(tmp_path, hosts, now=NOW).cert.read_bytes()
    assert ensure_self_signed(tmp_path, hosts, now=NOW + timedelta(days=300)).cert.read_bytes() == first
    renewed = ensure_self_signed(tmp_path, hosts, now=NOW + timedelta(days=336)).cert.read_bytes()
    assert renewed != first


def test_replaced_when_a_host_is_missing_or_the_key_was_exposed(tmp_path: Path) -> None:
    files = ensure_self_signed(tmp_path, hosts_for("http://127.0.0.1:8080"), now=NOW)
    first = files.cert.read_bytes()
    wider = ensure_self_signed(tmp_path, hosts_for("https://new.example.com"), now=NOW)
    assert "new.example.com" in _names(wider.cert) and wider.cert.read_bytes() != first

    second = wider.cert.read_bytes()
    wider.key.chmod(0o644)
    ensure_self_signed(tmp_path, hosts_for("https://new.example.com"), now=NOW)
    assert files.cert.read_bytes() != second
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600


def test_corrupt_files_are_replaced(tmp_path: Path) -> None:
    files = ensure_self_signed(tmp_path, ["localhost"], now=NOW)
    files.cert.write_text("not a certificate")
    ensure_self_signed(tmp_path, ["localhost"], now=NOW)
    assert _names(files.cert) == {"localhost"}


def test_unwritable_location_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data dir should be")
    with pytest.raises(ConfigurationError) as caught:
        ensure_self_signed(blocker / "tls", ["localhost"], now=NOW)
    assert caught.value.code == "config.tls_files"
