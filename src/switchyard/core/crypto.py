"""AES-256-GCM envelope encryption with a versioned, self-describing ciphertext format.

Every value gets its own random 256-bit data key (DEK). The DEK encrypts the value; a master key (KEK)
wraps the DEK. Both encryptions are AES-256-GCM with 96-bit random nonces. The sealed blob is::

    b"SY" | version (1 byte) | key-id length (1 byte) | key id (ASCII)
          | wrap nonce (12) | wrapped DEK (32 + 16 tag) | data nonce (12) | ciphertext (n + 16 tag)

Associated data binds the blob to its owner, a ``Binding`` of (tenant, owner kind, owner id): the DEK wrap
authenticates the header and the binding, the data encryption authenticates the binding. A blob copied to
another row or another tenant fails authentication and does not decrypt.

Rotating a master key re-wraps the DEK only (``rewrap``): the value itself is never decrypted, and the data
part of the blob is carried over byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from switchyard.core.errors import ConfigurationError, DecryptFailed

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
MAGIC = b"SY"
FORMAT_VERSION = 1
_WRAPPED_DEK_BYTES = KEY_BYTES + TAG_BYTES
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class MasterKey:
    """A key-encryption key with the id written into every blob it wraps."""

    key_id: str
    material: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not KEY_ID_PATTERN.fullmatch(self.key_id):
            raise ConfigurationError(
                f"master key id {self.key_id!r} is not valid",
                code="config.master_key_invalid",
                remediation="Use 1-64 characters: letters, digits, '_', '.', '-'.",
            )
        if len(self.material) != KEY_BYTES:
            raise ConfigurationError(
                f"master key {self.key_id!r} must be {KEY_BYTES} bytes, got {len(self.material)}",
                code="config.master_key_invalid",
            )

    @classmethod
    def generate(cls, key_id: str) -> MasterKey:
        return cls(key_id, os.urandom(KEY_BYTES))

    def fingerprint(self) -> str:
        """A value that identifies the key material without revealing it (safe to store and log)."""
        digest = hmac.new(self.material, b"switchyard/master-key-fingerprint/v1", hashlib.sha256)
        return digest.hexdigest()[:32]

    def encoded(self) -> str:
        return base64.b64encode(self.material).decode("ascii")


@dataclass(frozen=True)
class Binding:
    """Who a ciphertext belongs to; becomes the AES-GCM associated data."""

    tenant_id: str
    owner_kind: str
    owner_id: str

    def associated_data(self) -> bytes:
        parts = [b"switchyard/binding/v1"]
        for value in (self.tenant_id, self.owner_kind, self.owner_id):
            raw = value.encode("utf-8")
            parts.append(struct.pack(">I", len(raw)) + raw)
        return b"\x00".join(parts)


@dataclass(frozen=True)
class _Parsed:
    header: bytes
    key_id: str
    wrap_nonce: bytes
    wrapped_dek: bytes
    data: bytes  # data nonce + ciphertext, untouched by rewrap


def new_key_id() -> str:
    """A fresh master key id: ``k`` + UTC timestamp + 4 random hex digits (sorts by creation)."""
    return "k" + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + os.urandom(2).hex()


def parse_master_keys(spec: str) -> list[MasterKey]:
    """Parse ``SWITCHYARD_MASTER_KEY``: ``id:base64[,id:base64...]``; a bare base64 key gets id ``default``."""
    keys: list[MasterKey] = []
    for position, raw_entry in enumerate(spec.split(","), start=1):
        entry = raw_entry.strip()
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        if not sep:
            key_id, encoded = "default", entry
        if not KEY_ID_PATTERN.fullmatch(key_id):
            # Never echo the entry: with id and key swapped, the "id" is the key material.
            raise ConfigurationError(
                f"master key entry #{position} has no valid id",
                code="config.master_key_invalid",
                remediation="Write entries as id:base64, ids of 1-64 letters, digits, '_', '.', '-'.",
            )
        try:
            material = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise ConfigurationError(
                f"master key {key_id!r} is not valid base64",
                code="config.master_key_invalid",
                remediation="Generate one with: python -c 'import os,base64;"
                "print(base64.b64encode(os.urandom(32)).decode())'",
            ) from None
        keys.append(MasterKey(key_id, material))
    ids = [key.key_id for key in keys]
    if len(set(ids)) != len(ids):
        raise ConfigurationError("master key ids must be unique", code="config.master_key_invalid")
    return keys


def _header(key_id: str) -> bytes:
    raw_id = key_id.encode("ascii")
    return MAGIC + bytes([FORMAT_VERSION, len(raw_id)]) + raw_id


def _data_aad(binding: Binding) -> bytes:
    return MAGIC + bytes([FORMAT_VERSION]) + binding.associated_data()


def _parse(blob: bytes) -> _Parsed:
    malformed = DecryptFailed(
        "the stored ciphertext is malformed",
        remediation="The stored value was damaged; set the credential again.",
    )
    if len(blob) < 4 or blob[:2] != MAGIC:
        raise malformed
    if blob[2] != FORMAT_VERSION:
        raise DecryptFailed(f"unknown ciphertext format version {blob[2]}")
    id_end = 4 + blob[3]
    try:
        key_id = blob[4:id_end].decode("ascii")
    except UnicodeDecodeError:
        raise malformed from None
    wrap_end = id_end + NONCE_BYTES + _WRAPPED_DEK_BYTES
    if len(blob) < wrap_end + NONCE_BYTES + TAG_BYTES:
        raise malformed
    return _Parsed(
        header=blob[:id_end],
        key_id=key_id,
        wrap_nonce=blob[id_end : id_end + NONCE_BYTES],
        wrapped_dek=blob[id_end + NONCE_BYTES : wrap_end],
        data=blob[wrap_end:],
    )


def key_id_of(blob: bytes) -> str:
    """The id of the master key that wrapped this blob's data key."""
    return _parse(blob).key_id


def _wrap(dek: bytes, key: MasterKey, binding: Binding) -> bytes:
    header = _header(key.key_id)
    nonce = os.urandom(NONCE_BYTES)
    wrapped = AESGCM(key.material).encrypt(nonce, dek, header + binding.associated_data())
    return header + nonce + wrapped


def _unwrap(parsed: _Parsed, key: MasterKey, binding: Binding) -> bytes:
    try:
        return AESGCM(key.material).decrypt(
            parsed.wrap_nonce, parsed.wrapped_dek, parsed.header + binding.associated_data()
        )
    except InvalidTag:
        raise DecryptFailed(
            "the ciphertext failed authentication: it was altered, or it belongs to another owner",
            remediation="Set the credential again; if many values fail, check the master keys.",
        ) from None


def _key_for(parsed: _Parsed, keys: dict[str, MasterKey]) -> MasterKey:
    key = keys.get(parsed.key_id)
    if key is None:
        raise DecryptFailed(
            f"master key {parsed.key_id!r} is not configured",
            code="vault.decrypt_failed",
            remediation=f"Add master key {parsed.key_id!r} to SWITCHYARD_MASTER_KEY or the key file.",
            extra={"key_id": parsed.key_id},
        )
    return key


def seal(plaintext: bytes, key: MasterKey, binding: Binding) -> bytes:
    """Encrypt ``plaintext`` under a fresh data key wrapped by ``key``, bound to ``binding``."""
    dek = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(dek).encrypt(nonce, plaintext, _data_aad(binding))
    return _wrap(dek, key, binding) + nonce + ciphertext


def unwrap_data_key(blob: bytes, keys: dict[str, MasterKey], binding: Binding) -> bytes:
    """The blob's data key (to cache it); raises ``DecryptFailed`` for any fault."""
    parsed = _parse(blob)
    return _unwrap(parsed, _key_for(parsed, keys), binding)


def open_with_data_key(blob: bytes, dek: bytes, binding: Binding) -> bytes:
    data = _parse(blob).data
    try:
        return AESGCM(dek).decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], _data_aad(binding))
    except InvalidTag:
        raise DecryptFailed(
            "the ciphertext failed authentication: it was altered, or it belongs to another owner",
            remediation="Set the credential again.",
        ) from None


def open_sealed(blob: bytes, keys: dict[str, MasterKey], binding: Binding) -> bytes:
    """Decrypt a blob made by ``seal``; raises ``DecryptFailed`` for any fault, never a library error."""
    return open_with_data_key(blob, unwrap_data_key(blob, keys, binding), binding)


def rewrap(blob: bytes, keys: dict[str, MasterKey], new_key: MasterKey, binding: Binding) -> bytes:
    """Re-wrap the blob's data key under ``new_key``; the encrypted value is carried over unchanged."""
    parsed = _parse(blob)
    dek = _unwrap(parsed, _key_for(parsed, keys), binding)
    return _wrap(dek, new_key, binding) + parsed.data
