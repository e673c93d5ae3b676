"""The envelope format: round trips, bindings, tampering, missing keys and re-wrapping."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchyard.core import crypto
from switchyard.core.crypto import Binding, MasterKey
from switchyard.core.errors import ConfigurationError, DecryptFailed

K1 = MasterKey("k1", b"\x11" * 32)
K2 = MasterKey("k2", b"\x22" * 32)
KEYS = {"k1": K1, "k2": K2}
OWNER = Binding("ten_a", "secret_version", "sev_1")


@given(st.binary(max_size=4096))
def test_round_trip(plaintext: bytes) -> None:
    blob = crypto.seal(plaintext, K1, OWNER)
    assert crypto.open_sealed(blob, KEYS, OWNER) == plaintext
    assert crypto.key_id_of(blob) == "k1"


def test_blob_carries_version_and_key_id_and_not_the_plaintext() -> None:
    blob = crypto.seal(b"sk-live-abcdef", K1, OWNER)
    assert blob[:2] == b"SY"
    assert blob[2] == crypto.FORMAT_VERSION
    assert blob[4 : 4 + blob[3]] == b"k1"
    assert b"sk-live-abcdef" not in blob


def test_two_seals_of_one_value_differ() -> None:
    assert crypto.seal(b"same", K1, OWNER) != crypto.seal(b"same", K1, OWNER)


@pytest.mark.parametrize(
    "other",
    [
        Binding("ten_b", "secret_version", "sev_1"),
        Binding("ten_a", "connection", "sev_1"),
        Binding("ten_a", "secret_version", "sev_2"),
        # Length-prefixed fields: moving a character across a field boundary is another binding.
        Binding("ten_as", "ecret_version", "sev_1"),
    ],
)
def test_blob_bound_to_another_owner_does_not_decrypt(other: Binding) -> None:
    blob = crypto.seal(b"value", K1, OWNER)
    with pytest.raises(DecryptFailed) as caught:
        crypto.open_sealed(blob, KEYS, other)
    assert caught.value.code == "vault.decrypt_failed"


def test_every_flipped_byte_is_detected() -> None:
    blob = crypto.seal(b"a value worth protecting", K1, OWNER)
    for index in range(len(blob)):
        damaged = bytearray(blob)
        damaged[index] ^= 0x01
        with pytest.raises(DecryptFailed):
            crypto.open_sealed(bytes(damaged), KEYS, OWNER)


@pytest.mark.parametrize(
    "blob", [b"", b"SY", b"XX\x01\x02k1" + b"\x00" * 100, b"SY\x01\x02k1" + b"\x00" * 10]
)
def test_malformed_blobs_fail_cleanly(blob: bytes) -> None:
    with pytest.raises(DecryptFailed):
        crypto.open_sealed(blob, KEYS, OWNER)


def test_unknown_format_version() -> None:
    blob = bytearray(crypto.seal(b"v", K1, OWNER))
    blob[2] = 9
    with pytest.raises(DecryptFailed, match="format version 9"):
        crypto.open_sealed(bytes(blob), KEYS, OWNER)


def test_missing_master_key_names_it() -> None:
    blob = crypto.seal(b"v", K2, OWNER)
    with pytest.raises(DecryptFailed) as caught:
        crypto.open_sealed(blob, {"k1": K1}, OWNER)
    assert caught.value.code == "vault.decrypt_failed"
    assert caught.value.extra == {"key_id": "k2"}
    assert "k2" in (caught.value.remediation or "")


def test_rewrap_moves_the_data_key_and_keeps_the_encrypted_value() -> None:
    blob = crypto.seal(b"value", K1, OWNER)
    moved = crypto.rewrap(blob, KEYS, K2, OWNER)
    assert crypto.key_id_of(moved) == "k2"
    assert crypto.open_sealed(moved, {"k2": K2}, OWNER) == b"value"
    # The data part (nonce + ciphertext) is carried over byte for byte.
    assert moved.endswith(blob[-(len(b"value") + crypto.TAG_BYTES + crypto.NONCE_BYTES) :])
    with pytest.raises(DecryptFailed):
        crypto.open_sealed(moved, {"k1": K1}, OWNER)


def test_rewrap_refuses_a_blob_of_another_owner() -> None:
    blob = crypto.seal(b"value", K1, OWNER)
    with pytest.raises(DecryptFailed):
        crypto.rewrap(blob, KEYS, K2, Binding("ten_b", "secret_version", "sev_1"))


def test_fingerprint_identifies_material_without_revealing_it() -> None:
    assert K1.fingerprint() != K2.fingerprint()
    assert K1.fingerprint() == MasterKey("other-id", b"\x11" * 32).fingerprint()
    assert base64.b64encode(K1.material).decode() not in K1.fingerprint()
    assert "\\x11" not in repr(K1)


def test_parse_master_keys() -> None:
    a, b = base64.b64encode(b"a" * 32).decode(), base64.b64encode(b"b" * 32).decode()
    keys = crypto.parse_master_keys(f"one:{a}, two:{b}")
    assert [(k.key_id, k.material) for k in keys] == [("one", b"a" * 32), ("two", b"b" * 32)]
    assert crypto.parse_master_keys(a)[0].key_id == "default"


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("k1:not-base64!", "not valid base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "must be 32 bytes"),
        ("bad id:" + base64.b64encode(b"a" * 32).decode(), "has no valid id"),
        (
            "k:" + base64.b64encode(b"a" * 32).decode() + ",k:" + base64.b64encode(b"b" * 32).decode(),
            "unique",
        ),
    ],
)
def test_parse_master_keys_rejects_bad_specs(spec: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        crypto.parse_master_keys(spec)


def test_a_swapped_id_and_key_is_never_echoed() -> None:
    material = base64.b64encode(b"\x07" * 32).decode()
    with pytest.raises(ConfigurationError) as caught:
        crypto.parse_master_keys(f"{material}:k1")
    assert material not in str(caught.value)
    assert material[:12] not in (caught.value.remediation or "")
