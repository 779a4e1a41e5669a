"""Warden's tokens, verified the way another team's service would: with
PyJWT (and `cryptography`), an implementation that shares no code with
Warden, knowing only the issuer's discovery document.

Run by infra/schemathesis.sh against the `warden serve` it starts, before
schemathesis (which revokes tokens as it goes):

    python infra/check_open_tokens.py URL ADMIN PASSWORD USER USER_PASSWORD

It checks, over HTTP only:
- GET /.well-known/openid-configuration names the issuer (this server's
  origin) and a jwks_uri under it; PyJWKClient fetches only that key set;
- a token from POST /auth/login decodes with RS256, `aud` and `iss`
  checked, its header exactly {"alg", "typ": "at+jwt", "kid"} and its claims
  RFC 9068's;
- forgeries are refused by Warden (401 `invalid` on GET /auth/sessions, and
  `{"active": false}` from introspection): HS256 with the public key as the
  HMAC secret, `alg: none`, an unknown kid, a claim changed after signing;
- introspection answers `active: true` for a live token and
  `{"active": false}` at once after its revocation, and after revoke-all.
Exits 1 with the failed check on stdout.
"""

import base64
import hashlib
import hmac
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

import jwt
from cryptography.hazmat.primitives import serialization

AUDIENCE = "warden-api"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def request(url, method="GET", body=None, headers=None, form=None):
    """(status, headers, parsed JSON body) of one request."""
    headers = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["content-type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.headers, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read() or b"null")


def check(condition, what, detail=""):
    """Passes or exits 1; `detail` (which may hold a token) is shown only
    on failure."""
    if not condition:
        print(f"FAILED: {what} {detail}")
        sys.exit(1)
    print(f"ok: {what}")


def login(base, username, password):
    status, headers, body = request(
        f"{base}/auth/login", "POST", {"username": username, "password": password}
    )
    check(status == 200, f"login of {username}", f"({status} {body})")
    check(headers.get("cache-control") == "no-store", "a token answer is not cached")
    return body


def main():
    base, admin, admin_password, user, user_password = sys.argv[1:6]
    status, headers, discovery = request(f"{base}/.well-known/openid-configuration")
    check(status == 200, "the discovery document is served")
    issuer = discovery["issuer"]
    check(issuer == base, f"the issuer is this server's origin ({issuer})")
    check(
        discovery["jwks_uri"] == f"{issuer}/.well-known/jwks.json",
        "jwks_uri is under the issuer",
    )
    check(
        headers.get("access-control-allow-origin") == "*",
        "the discovery document is readable from any origin",
    )
    jwks_client = jwt.PyJWKClient(discovery["jwks_uri"])

    pair = login(base, user, user_password)
    token = pair["access_token"]
    signing_key = jwks_client.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        signing_key.key,
        algorithms=["RS256"],
        audience=AUDIENCE,
        issuer=issuer,
        options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]},
    )
    check(True, "PyJWT verifies a login token from the published key set")
    header = jwt.get_unverified_header(token)
    check(
        header == {"alg": "RS256", "typ": "at+jwt", "kid": signing_key.key_id},
        f"the header is exactly alg, typ, kid ({header})",
    )
    for claim in ["client_id", "scope", "roles", "gen", "sid"]:
        check(claim in claims, f"the token carries {claim}")
    check(claims["client_id"] == "warden" and claims["scope"] == "warden", "client_id and scope")
    try:
        jwt.decode(token, signing_key.key, algorithms=["RS256"], audience="other-api", issuer=issuer)
        check(False, "a wrong audience is refused by the verifier")
    except jwt.InvalidAudienceError:
        check(True, "a wrong audience is refused by the verifier")

    admin_token = login(base, admin, admin_password)["access_token"]

    def introspect(candidate):
        status, _, body = request(
            f"{base}/auth/introspect",
            "POST",
            form={"token": candidate},
            headers={"authorization": f"Bearer {admin_token}"},
        )
        check(status == 200, "introspection answers", f"({status} {body})")
        return body

    def sessions_status(candidate):
        status, headers, body = request(
            f"{base}/auth/sessions", headers={"authorization": f"Bearer {candidate}"}
        )
        return status, headers.get("www-authenticate", ""), body

    live = introspect(token)
    check(live["active"] is True and live["sub"] == claims["sub"], "a live token is active")
    check(live["username"] == user and live["token_type"] == "Bearer", "introspection names the user")

    # Forgeries.
    head, body, _ = token.split(".")
    public_pem = signing_key.key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    jwk_n = jwks_client.get_jwk_set().keys[0]._jwk_data["n"].encode()

    def hs256(secret: bytes) -> str:
        forged_head = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": signing_key.key_id}).encode())
        signing_input = f"{forged_head}.{body}".encode()
        mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
        return f"{forged_head}.{body}.{b64(mac)}"

    admin_claims = dict(claims, roles=["admin"])
    forgeries = {
        "HS256 with the public key (PEM) as secret": hs256(public_pem),
        "HS256 with the modulus as secret": hs256(jwk_n),
        "alg none": f"{b64(json.dumps({'alg': 'none', 'typ': 'at+jwt'}).encode())}.{body}.",
        "an unknown kid": ".".join(
            [
                b64(json.dumps({"alg": "RS256", "typ": "at+jwt", "kid": "not-in-the-key-set"}).encode()),
                body,
                token.split(".")[2],
            ]
        ),
        "a claim changed after signing": ".".join(
            [head, b64(json.dumps(admin_claims).encode()), token.split(".")[2]]
        ),
    }
    for what, forged in forgeries.items():
        status, challenge, problem = sessions_status(forged)
        check(
            status == 401 and 'error_description="invalid"' in challenge and problem["detail"] == "invalid",
            f"{what} is refused as invalid ({status} {challenge})",
        )
        check(introspect(forged) == {"active": False}, f"{what} is inactive")

    # Revocation, at once.
    status, _, _ = request(
        f"{base}/auth/revoke",
        "POST",
        {"token": token},
        headers={"authorization": f"Bearer {token}"},
    )
    check(status == 200, "the token is revoked")
    check(introspect(token) == {"active": False}, "a revoked token is inactive at once")
    status, challenge, _ = sessions_status(token)
    check(status == 401 and 'error_description="revoked"' in challenge, "a revoked token is refused as revoked")

    second = login(base, user, user_password)["access_token"]
    check(introspect(second)["active"] is True, "a new login is active")
    status, _, _ = request(f"{base}/auth/revoke-all", "POST", {}, headers={"authorization": f"Bearer {second}"})
    check(status == 200, "revoke-all")
    check(introspect(second) == {"active": False}, "after revoke-all the token is inactive at once")
    print("open tokens: every check passed")


if __name__ == "__main__":
    main()
