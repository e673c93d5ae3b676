"""Signed envelopes: canonical JSON, Ed25519 signatures, OKP JWKs, and results sealed as compact JWE.

Canonical form (RFC 8785, the JSON Canonicalization Scheme): object members sorted by the UTF-16 code
units of their names, no insignificant whitespace, strings escaped only where JSON requires it (``"``,
``\\``, control characters; ``\\n``-style short forms, otherwise ``\\u00xx``), UTF-8 bytes. Floats are written
the way ECMAScript writes a Number (shortest round trip, ``1e+30``, ``1e-7``, ``4.5``; ``3.0`` is ``3``);
floats that are not finite are refused. Integers are written in full; ``parse_strict`` refuses integers
outside +-(2**53 - 1) in what callers send, because a signer that holds numbers as doubles would disagree.

The platform's signing keys are derived with HKDF-SHA256 from each master key (``derive_platform_key``),
so they rotate with the master keys and need no storage of their own; the kid is the master key's id.

Everything here is pure: values in, values out; library exceptions become ``InvalidInput``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from switchyard.core.crypto import MasterKey
from switchyard.core.errors import InvalidInput

KeyUse = Literal["sig", "enc"]
SIGNATURE_ALG = "EdDSA"
SEAL_ALG = "ECDH-ES+A256KW"
SEAL_ENC = "A256GCM"
SIGNING_INFO = b"switchyard operate signing v1"
MAX_SAFE_INTEGER = 2**53 - 1
KID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_CURVE_FOR_USE: dict[str, str] = {"sig": "Ed25519", "enc": "X25519"}
_ALGS_FOR_USE: dict[str, frozenset[str]] = {
    "sig": frozenset({"EdDSA", "Ed25519"}),
    "enc": frozenset({"ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW"}),
}


def _not_canonical(detail: str) -> InvalidInput:
    return InvalidInput(detail, code="signature.not_canonical")


# -- base64url --


def b64url_encode(raw: bytes) -> str:
    """Base64url without padding (RFC 7515, section 2)."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url without padding; anything else is ``InvalidInput`` (``encoding.invalid``)."""
    bad = InvalidInput("the value is not base64url without padding", code="encoding.invalid")
    if not isinstance(text, str) or "=" in text or len(text) % 4 == 1:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise bad from None
    if b64url_encode(raw) != text:  # non-zero padding bits, or characters outside the alphabet
        raise bad
    return raw


# -- canonical JSON --


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 canonical form of a JSON value (dicts, lists, str, int, float, bool, None)."""
    parts: list[str] = []
    try:
        _write(value, parts)
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError:
        raise _not_canonical("a string holds a lone surrogate, which is not valid UTF-8") from None
    except RecursionError:
        raise _not_canonical("the value is nested too deeply") from None


def _write(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(format_number(value))
    elif isinstance(value, Mapping):
        out.append("{")
        names = list(value)
        if not all(isinstance(name, str) for name in names):
            raise _not_canonical("object member names must be strings")
        for index, name in enumerate(sorted(names, key=_utf16_order)):
            if index:
                out.append(",")
            out.append(json.dumps(name, ensure_ascii=False))
            out.append(":")
            _write(value[name], out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise _not_canonical(f"a {type(value).__name__} is not a JSON value")


def _utf16_order(name: str) -> bytes:
    return name.encode("utf-16-be", errors="surrogatepass")


def format_number(number: float) -> str:
    """ECMAScript's Number-to-String, which RFC 8785 prescribes for every number."""
    if not math.isfinite(number):
        raise _not_canonical("numbers must be finite (no NaN or Infinity)")
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(number))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    assert isinstance(exponent, int)
    point = exponent + len("".join(map(str, digit_tuple)))  # value = 0.<digits> * 10**point
    count = len(digits)
    if count <= point <= 21:
        text = digits + "0" * (point - count)
    elif 0 < point <= 21:
        text = f"{digits[:point]}.{digits[point:]}"
    elif -6 < point <= 0:
        text = "0." + "0" * -point + digits
    else:
        power = point - 1
        mantissa = digits if count == 1 else f"{digits[0]}.{digits[1:]}"
        text = f"{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"
    return sign + text


def _refuse_constant(name: str) -> Any:
    raise _not_canonical(f"{name} is not a JSON number")


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise _not_canonical(f"the member {name!r} appears twice in one object")
        result[name] = value
    return result


def _safe_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_SAFE_INTEGER:
        raise _not_canonical("integers beyond +-(2**53 - 1) must be sent as strings")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _not_canonical("numbers must be finite")
    return value


def parse_strict(text: str) -> Any:
    """Parse JSON text a caller signed: no duplicate names, no NaN/Infinity, no unsafe integers."""
    try:
        return json.loads(
            text,
            object_pairs_hook=_unique_members,
            parse_constant=_refuse_constant,
            parse_int=_safe_int,
            parse_float=_finite_float,
        )
    except ValueError:  # JSONDecodeError, and an integer too long to read
        raise InvalidInput("the value is not valid JSON", code="request.invalid_json") from None
    except RecursionError:
        raise _not_canonical("the value is nested too deeply") from None


def signed_bytes(document: Mapping[str, Any], signature_member: str) -> bytes:
    """What a signature covers: the canonical form of ``document`` without its own signature member."""
    return canonical_bytes({name: value for name, value in document.items() if name != signature_member})


# -- Ed25519 --


def sign(private_key: Ed25519PrivateKey, message: bytes) -> str:
    return b64url_encode(private_key.sign(message))


def verify(public_key: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    """True when ``signature`` (base64url) is ``public_key``'s signature of ``message``."""
    try:
        raw = b64url_decode(signature)
    except InvalidInput:
        return False
    if len(raw) != 64:
        return False
    try:
        public_key.verify(raw, message)
    except InvalidSignature:
        return False
    return True


# -- JWKs --


@dataclass(frozen=True)
class PublicJwk:
    """A caller's public OKP key: Ed25519 to verify its requests, X25519 to seal results to it."""

    kid: str
    use: KeyUse
    x: bytes = field(repr=False)

    @classmethod
    def from_record(cls, kid: str, jwk: Mapping[str, Any]) -> PublicJwk:
        """A stored key, checked again on the way in (a row is data like any other)."""
        return import_public_jwk(jwk, kid=kid)

    @property
    def crv(self) -> str:
        return _CURVE_FOR_USE[self.use]

    def as_dict(self) -> dict[str, str]:
        alg = SIGNATURE_ALG if self.use == "sig" else SEAL_ALG
        return {
            "kty": "OKP",
            "crv": self.crv,
            "x": b64url_encode(self.x),
            "kid": self.kid,
            "use": self.use,
            "alg": alg,
        }

    def verifier(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.x)


def thumbprint(crv: str, x: str) -> str:
    """The RFC 7638 thumbprint of an OKP public key (SHA-256, base64url)."""
    return b64url_encode(hashlib.sha256(canonical_bytes({"crv": crv, "kty": "OKP", "x": x})).digest())


def _bad_jwk(detail: str, remediation: str | None = None) -> InvalidInput:
    return InvalidInput(detail, code="caller_key.invalid_jwk", remediation=remediation)


def import_public_jwk(jwk: Mapping[str, Any], *, kid: str | None = None, use: str | None = None) -> PublicJwk:
    """Check and import a public OKP JWK; ``use`` defaults from the curve, ``kid`` from the JWK or its
    thumbprint. A private key (``d``) is refused without echoing anything of it."""
    if "d" in jwk:
        raise _bad_jwk(
            "the JWK holds a private key; register the public key only",
            remediation="Send the JWK without its 'd' member, and treat the private key as exposed.",
        )
    if jwk.get("kty") != "OKP":
        raise _bad_jwk("the JWK must have kty 'OKP' (Ed25519 or X25519)")
    crv = jwk.get("crv")
    by_curve = {curve: name for name, curve in _CURVE_FOR_USE.items()}
    if crv not in by_curve:
        raise _bad_jwk("the JWK's crv must be 'Ed25519' (use sig) or 'X25519' (use enc)")
    declared = jwk.get("use")
    chosen = use or declared or by_curve[crv]
    if chosen != by_curve[crv] or (declared is not None and declared != chosen):
        raise _bad_jwk(f"a {crv} key is for use {by_curve[crv]!r}, not {chosen or declared!r}")
    alg = jwk.get("alg")
    if alg is not None and alg not in _ALGS_FOR_USE[chosen]:
        raise _bad_jwk(f"alg {alg!r} does not fit a {crv} key")
    x = jwk.get("x")
    if not isinstance(x, str):
        raise _bad_jwk("the JWK has no 'x'")
    try:
        raw = b64url_decode(x)
    except InvalidInput:
        raise _bad_jwk("the JWK's 'x' is not base64url") from None
    if len(raw) != 32:
        raise _bad_jwk("the JWK's 'x' must be 32 bytes")
    _check_point(chosen, raw)
    name = kid or jwk.get("kid") or thumbprint(crv, x)
    if not isinstance(name, str) or not KID_PATTERN.fullmatch(name):
        raise _bad_jwk("kid must be 1-128 characters: letters, digits, '_', '-', '.', ':'")
    return PublicJwk(kid=name, use="sig" if chosen == "sig" else "enc", x=raw)


def _check_point(use: str, raw: bytes) -> None:
    try:
        if use == "sig":
            Ed25519PublicKey.from_public_bytes(raw)
        else:
            # A low-order point would make every shared secret zero; a trial exchange refuses it.
            X25519PrivateKey.generate().exchange(X25519PublicKey.from_public_bytes(raw))
    except ValueError:
        raise _bad_jwk("the JWK's 'x' is not a usable public key") from None


# -- the platform's signing keys --


@dataclass(frozen=True)
class PlatformKey:
    """An Ed25519 key derived from one master key; ``kid`` is the master key's id."""

    kid: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def public_jwk(self) -> dict[str, str]:
        raw = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url_encode(raw),
            "kid": self.kid,
            "use": "sig",
            "alg": SIGNATURE_ALG,
        }

    def sign(self, message: bytes) -> str:
        return sign(self.private_key, message)


def derive_platform_key(master: MasterKey) -> PlatformKey:
    """HKDF-SHA256 over the master key material (info ``switchyard operate signing v1``) -> Ed25519."""
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SIGNING_INFO).derive(master.material)
    return PlatformKey(kid=master.key_id, private_key=Ed25519PrivateKey.from_private_bytes(seed))


def jwks(keys: list[PlatformKey]) -> dict[str, list[dict[str, str]]]:
    return {"keys": [key.public_jwk() for key in sorted(keys, key=lambda key: key.kid)]}


# -- sealing results --


def seal_json(value: Any, recipient: PublicJwk) -> str:
    """``value``'s canonical JSON as a compact JWE to ``recipient`` (ECDH-ES+A256KW, A256GCM)."""
    if recipient.use != "enc":
        raise InvalidInput("results are sealed to an 'enc' (X25519) key", code="caller_key.wrong_use")
    header = {"alg": SEAL_ALG, "enc": SEAL_ENC, "kid": recipient.kid, "cty": "application/json"}
    try:
        key = OKPKey.import_key(X25519PublicKey.from_public_bytes(recipient.x))
        return jwe.encrypt_compact(header, canonical_bytes(value), key, algorithms=[SEAL_ALG, SEAL_ENC])
    except JoseError as exc:
        raise InvalidInput(
            f"the result could not be sealed: {exc.error}", code="caller_key.unusable"
        ) from None
