"""User auth with RS256 JWTs from the local OIDC issuer (conftest `jwks`).

Protocol assumptions (protocol.md §2.4, §3.6, §6, §10.10, §11; design.md "Auth"):
- The server trusts the issuer named by CLERK_JWT_ISSUER_DOMAIN, finds its keys by OIDC discovery,
  and requires the audience (applicationID) "convex" (RIPPLE_CONFORMANCE_AUDIENCE overrides it).
- `ctx.auth.getUserIdentity()` has subject, issuer, tokenIdentifier = "issuer|subject", name,
  email, pictureUrl (diagnostics:whoami returns it, or null).
- A refused Authenticate gets `AuthError{error, baseVersion, authUpdateAttempted:true}`; the error
  text says why (the words "expired", "audience", "signature", "issuer" are what this suite looks
  for). The official Python client does not raise on it: it reconnects and retries forever, so a
  call made with a bad token must simply not produce a result (§11). Each such test then checks
  with a good token that the server is still answering, so a timeout cannot come from a dead server.
- The HTTP API takes `Authorization: Bearer <JWT>`; a bad token is refused (non-2xx or error).
- A successful Authenticate produces a Transition whose endVersion.identity is bumped (§3.3).
"""

from __future__ import annotations

import os
import uuid

import pytest
from convex.http_client import ConvexHttpClient

from clients import CallTimeout, RemoteError, check_state_version
from harness import tamper_payload

REFUSAL_WINDOW = float(os.environ.get("RIPPLE_CONFORMANCE_REFUSAL_WINDOW", "6"))


def _sub():
    return f"user_{uuid.uuid4().hex[:12]}"


def _bad_tokens(jwks):
    good = jwks.make_token(_sub())
    return {
        "expired": (jwks.make_token(_sub(), exp_delta=-3600, iat_delta=-7200), "expir"),
        "wrong-audience": (jwks.make_token(_sub(), aud="not-the-app"), "audience"),
        "tampered-payload": (tamper_payload(good, sub="someone-else"), "signature"),
        "signed-by-another-key": (jwks.make_token(_sub(), key=jwks.rogue_key), "signature"),
        "unknown-issuer": (jwks.make_token(_sub(), iss="https://issuer.invalid"), "issuer"),
    }


BAD_TOKEN_KINDS = ["expired", "wrong-audience", "tampered-payload", "signed-by-another-key", "unknown-issuer"]


# --- good tokens ---------------------------------------------------------------------------------


def test_whoami_with_valid_token(jwks, client_factory):
    sub = _sub()
    token = jwks.make_token(sub, picture="https://example.com/avatar.png")
    client = client_factory(token)
    identity = client.query("diagnostics:whoami", {})
    assert isinstance(identity, dict), f"whoami returned {identity!r}"
    assert identity["subject"] == sub
    assert identity["issuer"] == jwks.base_url
    assert identity["tokenIdentifier"] == f"{jwks.base_url}|{sub}"
    assert identity["name"] == f"Test User {sub}"
    assert identity["email"] == f"{sub}@example.com"
    assert identity.get("pictureUrl") == "https://example.com/avatar.png"


def test_whoami_without_auth_is_null(client):
    assert client.query("diagnostics:whoami", {}) is None


def test_upsert_user_with_valid_token(jwks, client_factory):
    sub = _sub()
    client = client_factory(jwks.make_token(sub))
    user_id = client.mutation("users:upsertUser", {})
    assert isinstance(user_id, str) and user_id
    assert client.mutation("users:upsertUser", {}) == user_id, "a second upsert finds the same document"
    doc = client.query("users:getCurrentUser", {})
    assert doc["_id"] == user_id and doc["clerkId"] == sub


def test_clear_auth_returns_to_anonymous(jwks, client_factory):
    sub = _sub()
    client = client_factory(jwks.make_token(sub))
    assert client.query("diagnostics:whoami", {})["subject"] == sub
    client.clear_auth()
    assert client.query("diagnostics:whoami", {}) is None


def test_switching_tokens_switches_identity(jwks, client_factory):
    first, second = _sub(), _sub()
    client = client_factory(jwks.make_token(first))
    assert client.query("diagnostics:whoami", {})["subject"] == first
    client.set_auth(jwks.make_token(second))
    assert client.query("diagnostics:whoami", {})["subject"] == second


# --- bad tokens, official client -------------------------------------------------------------------


@pytest.mark.parametrize("kind", BAD_TOKEN_KINDS)
def test_bad_token_is_refused_by_python_client(jwks, client_factory, kind):
    token, _ = _bad_tokens(jwks)[kind]
    client = client_factory()
    client.set_auth(token)
    try:
        result = client.query("diagnostics:whoami", {}, timeout=REFUSAL_WINDOW)
    except CallTimeout:
        pass  # the client keeps retrying a refused Authenticate: refused (§11)
    except Exception:  # noqa: BLE001 - an error is a refusal too
        pass
    else:
        pytest.fail(f"a {kind} token was accepted: diagnostics:whoami returned {result!r}")

    # The server is still answering, so the silence above was a refusal, not an outage.
    good = client_factory(jwks.make_token(_sub()))
    assert isinstance(good.query("diagnostics:whoami", {}), dict)


def test_send_message_without_auth_is_unauthenticated(user, client):
    channel = user.create_channel()
    with pytest.raises(RemoteError) as info:
        client.mutation("messages:sendMessage", {"channelId": channel, "content": "nope"})
    assert "Unauthenticated" in info.value.message


@pytest.mark.parametrize("path,args", [("users:upsertUser", {}), ("channels:create", {"name": "x"})])
def test_mutations_needing_a_user_are_unauthenticated(client, path, args):
    with pytest.raises(RemoteError) as info:
        client.mutation(path, args)
    assert "Unauthenticated" in info.value.message


# --- bad tokens, raw protocol ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", BAD_TOKEN_KINDS)
def test_bad_token_gets_auth_error(jwks, raw_socket, kind):
    token, reason = _bad_tokens(jwks)[kind]
    sock = raw_socket()
    base = sock.authenticate(token)
    message, before = sock.recv_until(lambda m: m["type"] in ("AuthError", "FatalError"), timeout=20,
                                      description="AuthError")
    assert message["type"] == "AuthError", f"expected AuthError, got {message!r}"
    assert message["authUpdateAttempted"] is True
    assert message.get("baseVersion") == base and type(message.get("baseVersion")) is int
    assert isinstance(message["error"], str)
    assert reason in message["error"].lower(), f"the AuthError should say why ({reason!r}): {message['error']!r}"
    for earlier in before:
        if earlier["type"] == "Transition":
            assert earlier["endVersion"]["identity"] == 0, f"a refused token bumped the identity: {earlier!r}"


def test_malformed_token_gets_auth_error(raw_socket):
    sock = raw_socket()
    sock.authenticate("not-a-jwt")
    message, _ = sock.recv_until(lambda m: m["type"] in ("AuthError", "FatalError"), timeout=20, description="AuthError")
    assert message["type"] == "AuthError" and message["authUpdateAttempted"] is True


def test_valid_authenticate_bumps_identity(jwks, raw_socket):
    sock = raw_socket()
    sock.authenticate(jwks.make_token(_sub()))
    transition, before = sock.recv_until(
        lambda m: m["type"] in ("Transition", "AuthError", "FatalError") and (m["type"] != "Transition" or m["endVersion"]["identity"] >= 1),
        timeout=20,
        description="a Transition with endVersion.identity 1",
    )
    assert transition["type"] == "Transition", f"the token was refused: {transition!r}"
    assert check_state_version(transition["endVersion"])[1] == 1


def test_admin_key_is_accepted_and_wrong_admin_key_refused(raw_socket, admin_key):
    sock = raw_socket()
    sock.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "Admin", "value": admin_key})
    message, _ = sock.recv_until(
        lambda m: m["type"] in ("AuthError", "FatalError") or (m["type"] == "Transition" and m["endVersion"]["identity"] >= 1),
        timeout=20, description="a Transition with endVersion.identity 1",
    )
    assert message["type"] == "Transition", f"the admin key was refused: {message!r}"

    other = raw_socket()
    other.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "Admin", "value": admin_key + "x"})
    message, _ = other.recv_until(
        lambda m: m["type"] in ("AuthError", "FatalError") or (m["type"] == "Transition" and m["endVersion"]["identity"] >= 1),
        timeout=20, description="AuthError for a wrong admin key",
    )
    assert message["type"] == "AuthError", f"a wrong admin key was accepted: {message!r}"


# --- HTTP API ------------------------------------------------------------------------------------------


def test_http_bearer_token(jwks, server):
    sub = _sub()
    http = ConvexHttpClient(server.url)
    assert http.query("diagnostics:whoami", {}) is None
    http.set_auth(jwks.make_token(sub))
    identity = http.query("diagnostics:whoami", {})
    assert identity["subject"] == sub
    assert identity["tokenIdentifier"] == f"{jwks.base_url}|{sub}"


@pytest.mark.parametrize("kind", BAD_TOKEN_KINDS)
def test_http_bad_token_is_refused(jwks, server, kind):
    token, _ = _bad_tokens(jwks)[kind]
    http = ConvexHttpClient(server.url)
    http.set_auth(token)
    # pytest.fail raises a BaseException, which pytest.raises(Exception) does not swallow.
    with pytest.raises(Exception):
        result = http.query("diagnostics:whoami", {})
        pytest.fail(f"a {kind} token was accepted over HTTP: {result!r}")
