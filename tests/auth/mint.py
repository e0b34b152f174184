#!/usr/bin/env python3
"""Mints JSON Web Tokens and writes JWK Sets for the auth tests, with PyJWT
(python3-jwt) and python3-cryptography: an implementation independent of the
one under test.

    mint.py REQUEST.json   prints {"tokens": [...]} in the order asked

REQUEST.json:
    {"tokens": [{"alg": "RS256", "key": "rsa.pem", "claims": {...},
                 "header": {...}, "mode": "pyjwt"}, ...],
     "jwks": [{"out": "jwks.json",
               "keys": [{"file": "rsa.pub.pem", "kid": "rsa", "alg": "PS256",
                         "use": "sig", "secret": false}, ...]}]}

mode "pyjwt" (default) signs with PyJWT; the others make what PyJWT refuses
to: "unsigned" (no signature, for alg none) and "hmac_raw" (HMAC keyed with
the file's exact bytes, such as an RSA public key's PEM text).
"""

import base64
import hashlib
import hmac
import json
import sys

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.algorithms import ECAlgorithm, HMACAlgorithm, OKPAlgorithm, RSAAlgorithm


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def read_secret(path: str) -> bytes:
    # The verifier drops trailing CR/LF from a secret file; so does the minter.
    with open(path, "rb") as f:
        return f.read().rstrip(b"\r\n")


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def mint(spec: dict) -> str:
    mode = spec.get("mode", "pyjwt")
    alg = spec["alg"]
    header = spec.get("header", {})
    claims = spec["claims"]
    if mode == "pyjwt":
        key = read_secret(spec["key"]) if alg.startswith("HS") else read(spec["key"])
        return jwt.encode(claims, key, algorithm=alg, headers=header or None)
    full_header = {"alg": alg, "typ": "JWT", **header}
    signing_input = b64(json.dumps(full_header).encode()) + "." + b64(json.dumps(claims).encode())
    if mode == "unsigned":
        return signing_input + "."
    if mode == "hmac_raw":
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
        mac = hmac.new(read(spec["key"]), signing_input.encode(), digest).digest()
        return signing_input + "." + b64(mac)
    raise SystemExit(f"unknown mode {mode}")


def to_jwk(entry: dict) -> dict:
    if entry.get("secret"):
        made = HMACAlgorithm.to_jwk(read_secret(entry["file"]))
    else:
        key = serialization.load_pem_public_key(read(entry["file"]))
        if isinstance(key, rsa.RSAPublicKey):
            made = RSAAlgorithm.to_jwk(key)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            made = ECAlgorithm.to_jwk(key)
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            made = OKPAlgorithm.to_jwk(key)
        else:
            raise SystemExit(f"unsupported key in {entry['file']}")
    jwk = json.loads(made) if isinstance(made, str) else dict(made)
    for member in ("kid", "alg", "use"):
        if member in entry:
            jwk[member] = entry[member]
    return jwk


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        request = json.load(f)
    for doc in request.get("jwks", []):
        with open(doc["out"], "w", encoding="utf-8") as f:
            json.dump({"keys": [to_jwk(e) for e in doc["keys"]]}, f)
    json.dump({"tokens": [mint(t) for t in request.get("tokens", [])]}, sys.stdout)


if __name__ == "__main__":
    main()
