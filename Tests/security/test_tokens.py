"""User tokens a client should never get accepted, each refused with its exact AuthError.

A refused Authenticate gets `AuthError{error, baseVersion: 0, authUpdateAttempted: true}` and the
socket closes; the node keeps serving (the next test's socket works). The dev server verifies
against the suite's local issuer with a clock leeway of 10 s.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

PREFIX = "Could not verify token: "
ACCEPTED = "RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(fields: dict) -> str:
    return b64(json.dumps(fields, separators=(",", ":")).encode())


def rfc3339(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def claims(jwks, **changes) -> dict:
    now = int(time.time())
    fields = {"iss": jwks.base_url, "sub": "attacker", "aud": "convex", "iat": now - 5, "exp": now + 3600}
    fields.update(changes)
    return fields


def refusal(raw_socket, token: str) -> dict:
    sock = raw_socket()
    sock.authenticate(token)
    kind, message = sock.expect_error_or_close()
    assert kind == "AuthError", f"expected AuthError, got {kind}: {message}"
    assert message["baseVersion"] == 0
    assert message["authUpdateAttempted"] is True
    return message


def test_alg_none(jwks, raw_socket):
    token = segment({"alg": "none", "typ": "JWT"}) + "." + segment(claims(jwks)) + "."
    assert refusal(raw_socket, token)["error"] == PREFIX + 'unsigned tokens (alg "none") are not accepted.'


def test_hs256_signed_with_the_rsa_public_key(jwks, raw_socket):
    # The classic confusion: a verifier that takes the key's bytes as an HMAC secret accepts this.
    public_pem = jwks.key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = segment({"alg": "HS256", "kid": jwks.KID, "typ": "JWT"}) + "." + segment(claims(jwks))
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + b64(signature)
    assert refusal(raw_socket, token)["error"] == PREFIX + f'the signing algorithm "HS256" is not accepted; use one of {ACCEPTED}.'


def test_wrong_issuer(jwks, raw_socket):
    token = jwks.make_token("attacker", iss="https://issuer.invalid")
    assert refusal(raw_socket, token)["error"] == (
        PREFIX + 'no auth provider is configured for the issuer "https://issuer.invalid"; check the provider\'s domain in the auth config.'
    )


def test_wrong_audience(jwks, raw_socket):
    token = jwks.make_token("attacker", aud="not-the-app")
    assert refusal(raw_socket, token)["error"] == (
        PREFIX + 'the token has audience "not-the-app", but the auth config expects the application ID "convex".'
    )


def test_expired(jwks, raw_socket):
    exp = int(time.time()) - 3600
    token = jwt.encode(claims(jwks, exp=exp, iat=exp - 60), jwks.key, algorithm="RS256", headers={"kid": jwks.KID})
    assert refusal(raw_socket, token)["error"] == PREFIX + f"the token expired at {rfc3339(exp)}."


def test_not_yet_valid(jwks, raw_socket):
    nbf = int(time.time()) + 3600
    token = jwt.encode(claims(jwks, nbf=nbf), jwks.key, algorithm="RS256", headers={"kid": jwks.KID})
    assert refusal(raw_socket, token)["error"] == PREFIX + f"the token is not valid before {rfc3339(nbf)}."


def test_unknown_kid(jwks, raw_socket):
    token = jwt.encode(claims(jwks), jwks.key, algorithm="RS256", headers={"kid": "no-such-key"})
    assert refusal(raw_socket, token)["error"] == PREFIX + f'the issuer "{jwks.base_url}" publishes no key with id "no-such-key".'


@pytest.mark.parametrize(
    "cut, reason",
    [
        (lambda t: t[: t.index(".") + 10], "it must have three dot-separated parts"),
        (lambda t: t[: t.rindex(".") + 1], None),
        (lambda t: t[:-7], None),
    ],
    ids=["in-the-claims", "without-signature", "in-the-signature"],
)
def test_truncated(jwks, raw_socket, cut, reason):
    message = refusal(raw_socket, cut(jwks.make_token("attacker")))["error"]
    if reason is not None:
        assert message == PREFIX + f"the token is not a valid JWT ({reason})."
    else:
        assert message == PREFIX + "the token's signature is invalid."


def test_token_expiring_during_a_session_moves_it_to_anonymous(jwks, raw_socket):
    """A socket that only listens stops getting the user's data once the token runs out (exp plus
    the 10 s leeway): it is told with AuthError and its query is answered again as anonymous."""
    exp = int(time.time()) + 2
    token = jwt.encode(claims(jwks, sub="short-lived", exp=exp), jwks.key, algorithm="RS256", headers={"kid": jwks.KID})
    sock = raw_socket()
    sock.authenticate(token)
    sock.add_query(0, "diagnostics:whoami")

    def whoami(message):
        for modification in message.get("modifications", []) if message["type"] == "Transition" else []:
            if modification["type"] == "QueryUpdated":
                return modification["value"]
        return "none"

    first, _ = sock.recv_until(lambda m: whoami(m) != "none", timeout=10, description="whoami as the user")
    assert whoami(first)["subject"] == "short-lived"
    error, before = sock.recv_until(lambda m: m["type"] == "AuthError", timeout=30, description="AuthError at expiry")
    assert time.time() >= exp + 10, "the token was dropped before exp + leeway"
    assert error == {"type": "AuthError", "error": "Convex token identity expired", "baseVersion": 1, "authUpdateAttempted": False}
    assert all(whoami(m) == "none" for m in before), f"the user's data changed before expiry: {before}"
    anonymous, _ = sock.recv_until(lambda m: whoami(m) != "none", timeout=10, description="whoami as anonymous")
    assert whoami(anonymous) is None
    # Mutations are not run as anonymous behind the client's back: refused, socket closed.
    sock.request("Mutation", "diagnostics:echoMutation", {"value": 1})
    kind, message = sock.expect_error_or_close()
    assert (kind, message.get("error")) == ("AuthError", "Convex token identity expired")
