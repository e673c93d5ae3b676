"""Canonical JSON (RFC 8785 vectors), Ed25519 (RFC 8037 vectors), caller JWKs, platform keys, sealing."""

from __future__ import annotations

import json
import math
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jwe
from joserfc.jwk import OKPKey

from switchyard.core import signing
from switchyard.core.crypto import MasterKey
from switchyard.core.errors import InvalidInput

# -- canonical form --

RFC8785_INPUT = r"""{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""
RFC8785_OUTPUT = (
    '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
    '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
)


def test_the_rfc8785_example() -> None:
    assert signing.canonical_bytes(signing.parse_strict(RFC8785_INPUT)) == RFC8785_OUTPUT.encode("utf-8")


def test_members_sort_by_utf16_code_units() -> None:
    names = ["\u20ac", "\r", "\ufb33", "1", "\U0001f600", "\u0080", "\u00f6"]
    text = signing.canonical_bytes(dict.fromkeys(names, 0)).decode("utf-8")
    order = list(json.loads(text))
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


# RFC 8785, appendix B: IEEE 754 bit patterns and their ECMAScript form.
NUMBER_VECTORS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), NUMBER_VECTORS)
def test_numbers_are_written_as_ecmascript_does(bits: str, expected: str) -> None:
    (number,) = struct.unpack(">d", bytes.fromhex(bits))
    assert signing.format_number(number) == expected


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_finite_float_round_trips_through_its_canonical_text(number: float) -> None:
    assert float(signing.format_number(number)) == number


def test_whole_floats_and_ints_agree_and_ints_are_written_in_full() -> None:
    assert (
        signing.canonical_bytes([3.0, 3, -0.0, True, 10**30])
        == b"[3,3,0,true,1000000000000000000000000000000]"
    )


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_numbers_that_are_not_finite_are_refused(bad: float) -> None:
    with pytest.raises(InvalidInput) as caught:
        signing.canonical_bytes({"x": [bad]})
    assert caught.value.code == "signature.not_canonical"


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "a": 2}',  # duplicate member: which one was signed?
        '{"a": NaN}',
        '{"a": Infinity}',
        '{"a": 1e400}',
        '{"a": 9007199254740992}',  # beyond 2**53 - 1
        '{"a": "\\ud800"}',  # a lone surrogate is not UTF-8
    ],
)
def test_parse_strict_refuses_ambiguous_json(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        signing.canonical_bytes(signing.parse_strict(text))
    assert caught.value.code == "signature.not_canonical"


def test_parse_strict_refuses_what_is_not_json() -> None:
    with pytest.raises(InvalidInput) as caught:
        signing.parse_strict("{'a': 1}")
    assert caught.value.code == "request.invalid_json"


def test_other_python_values_are_not_json() -> None:
    with pytest.raises(InvalidInput):
        signing.canonical_bytes({"a": b"bytes"})
    with pytest.raises(InvalidInput):
        signing.canonical_bytes({1: "non-string name"})


def test_signed_bytes_leave_out_the_signature_member_only() -> None:
    document = {"b": 1, "a": [1.5, "x"], "request_signature": "sig"}
    assert signing.signed_bytes(document, "request_signature") == b'{"a":[1.5,"x"],"b":1}'


# -- base64url --


def test_base64url_is_strict() -> None:
    assert signing.b64url_encode(b"\xfb\xff") == "-_8"
    assert signing.b64url_decode("-_8") == b"\xfb\xff"
    for bad in ("-_8=", "+/8", "-_9", "a", "a b"):  # padding, wrong alphabet, stray bits, length, space
        with pytest.raises(InvalidInput):
            signing.b64url_decode(bad)


# -- Ed25519 (RFC 8037, appendix A) --

RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_INPUT = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
RFC8037_SIGNATURE = "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"


def test_the_rfc8037_signature_and_thumbprint() -> None:
    private = Ed25519PrivateKey.from_private_bytes(signing.b64url_decode(RFC8037_D))
    assert signing.sign(private, RFC8037_INPUT) == RFC8037_SIGNATURE
    public = signing.import_public_jwk({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X})
    assert public.kid == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"  # RFC 8037, A.3
    assert public.use == "sig"
    assert signing.verify(public.verifier(), RFC8037_INPUT, RFC8037_SIGNATURE)


def test_a_changed_message_or_signature_or_key_does_not_verify() -> None:
    private = Ed25519PrivateKey.generate()
    document = {"operation": "list_items", "parameters": {"limit": 5}, "request_signature": None}
    message = signing.signed_bytes(document, "request_signature")
    signature = signing.sign(private, message)
    public = private.public_key()
    assert signing.verify(public, message, signature)
    tampered = signing.signed_bytes({**document, "parameters": {"limit": 6}}, "request_signature")
    assert not signing.verify(public, tampered, signature)
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    assert not signing.verify(public, message, flipped)
    assert not signing.verify(Ed25519PrivateKey.generate().public_key(), message, signature)
    assert not signing.verify(public, message, "not base64url!")
    assert not signing.verify(public, message, signing.b64url_encode(b"short"))


# -- caller JWKs --


def _x(raw: bytes) -> str:
    return signing.b64url_encode(raw)


def test_caller_keys_import_with_use_from_the_curve() -> None:
    x25519 = X25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    enc = signing.import_public_jwk({"kty": "OKP", "crv": "X25519", "x": _x(x25519), "kid": "box-1"})
    assert (enc.kid, enc.use) == ("box-1", "enc")
    assert enc.as_dict() == {
        "kty": "OKP",
        "crv": "X25519",
        "x": _x(x25519),
        "kid": "box-1",
        "use": "enc",
        "alg": "ECDH-ES+A256KW",
    }
    assert signing.PublicJwk.from_record("box-1", enc.as_dict()) == enc


@pytest.mark.parametrize(
    ("jwk", "use", "fragment"),
    [
        ({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "d": RFC8037_D}, None, "private key"),
        ({"kty": "EC", "crv": "P-256", "x": RFC8037_X}, None, "kty"),
        ({"kty": "OKP", "crv": "Ed448", "x": RFC8037_X}, None, "crv"),
        ({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X}, "enc", "for use 'sig'"),
        ({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "use": "enc"}, None, "for use 'sig'"),
        ({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "alg": "RS256"}, None, "alg"),
        ({"kty": "OKP", "crv": "Ed25519", "x": _x(b"\x01" * 31)}, None, "32 bytes"),
        ({"kty": "OKP", "crv": "Ed25519"}, None, "no 'x'"),
        ({"kty": "OKP", "crv": "X25519", "x": _x(bytes(32))}, None, "not a usable"),
        ({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "kid": "a/b"}, None, "kid"),
    ],
)
def test_unusable_caller_keys_are_refused(jwk: dict[str, str], use: str | None, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        signing.import_public_jwk(jwk, use=use)
    assert caught.value.code == "caller_key.invalid_jwk"
    assert fragment in caught.value.detail
    assert RFC8037_D not in caught.value.detail


# -- the platform's keys --


def test_platform_keys_derive_from_master_keys_deterministically() -> None:
    k1, k2 = MasterKey("k1", b"\x11" * 32), MasterKey("k2", b"\x22" * 32)
    first, again, other = (signing.derive_platform_key(key) for key in (k1, k1, k2))
    assert first.kid == "k1"
    assert first.public_jwk() == again.public_jwk()
    assert first.public_jwk()["x"] != other.public_jwk()["x"]
    message = b"response bytes"
    public = signing.import_public_jwk(first.public_jwk())
    assert signing.verify(public.verifier(), message, first.sign(message))
    assert not signing.verify(
        signing.import_public_jwk(other.public_jwk()).verifier(), message, first.sign(message)
    )
    published = signing.jwks([other, first])
    assert [key["kid"] for key in published["keys"]] == ["k1", "k2"]
    assert all("d" not in key for key in published["keys"])


# -- sealing --


def test_a_sealed_result_opens_with_the_callers_private_key_only() -> None:
    private = X25519PrivateKey.generate()
    x = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    recipient = signing.import_public_jwk({"kty": "OKP", "crv": "X25519", "x": _x(x)}, kid="box-1")
    value = {"items": [{"id": 1, "name": "item-1"}], "total": 2.5}
    token = signing.seal_json(value, recipient)
    assert token.count(".") == 4 and "item-1" not in token
    opened = jwe.decrypt_compact(token, OKPKey.import_key(private), algorithms=["ECDH-ES+A256KW", "A256GCM"])
    assert opened.plaintext == signing.canonical_bytes(value)
    assert opened.protected["kid"] == "box-1"
    assert opened.protected["enc"] == "A256GCM"
    stranger = OKPKey.import_key(X25519PrivateKey.generate())
    with pytest.raises(Exception):  # noqa: B017 - joserfc's own error: the wrong key cannot open it
        jwe.decrypt_compact(token, stranger, algorithms=["ECDH-ES+A256KW", "A256GCM"])


def test_results_are_sealed_to_enc_keys_only() -> None:
    signer = signing.import_public_jwk({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X})
    with pytest.raises(InvalidInput) as caught:
        signing.seal_json({"a": 1}, signer)
    assert caught.value.code == "caller_key.wrong_use"
