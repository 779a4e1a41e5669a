"""Schemathesis hooks for infra/test.sh: fresh bearer tokens for `warden serve`.

Every case that takes a bearer token gets the access token of the seeded
user named by WARDEN_ST_USERNAME / WARDEN_ST_PASSWORD (roles admin and
approver, so the admin reports and the proposals answer more than 403),
logging in at WARDEN_ST_URL. The token is kept until it can no longer
work, then the next case logs in again:

- a call that revokes tokens answered 2xx (`POST /auth/revoke-all` kills
  every token of the user; `POST /auth/revoke` and
  `DELETE /auth/sessions/{sid}` may have hit our own session);
- a request that carried our token was answered 401;
- it expires within a minute.

A listing's `next` is a cursor the server gave (base64url of a 26-character
id); the schema can say only "base64url". In a case meant to be valid, a
drawn `next` is replaced by a well-formed cursor (of an id that sorts
before any real one, so the page is empty); cases meant to be invalid keep
theirs, and the server must refuse them.

The server's login limit per client IP must allow one login per case at
worst (infra/schemathesis.sh raises WARDEN_LOGIN_IP_LIMIT for its local
server).
"""

import atexit
import base64
import json
import os
import sys
import threading
import time
import urllib.request

import schemathesis

URL = os.environ["WARDEN_ST_URL"].rstrip("/")
USERNAME = os.environ["WARDEN_ST_USERNAME"]
PASSWORD = os.environ["WARDEN_ST_PASSWORD"]

# Operations after whose success our token may be dead.
REVOKING = {
    ("POST", "/auth/revoke"),
    ("POST", "/auth/revoke-all"),
    ("DELETE", "/auth/sessions/{sid}"),
}

_lock = threading.Lock()
_token = {"value": None, "expires": 0.0}
LOGINS = {"count": 0}


def _login() -> str:
    body = json.dumps({"username": USERNAME, "password": PASSWORD}).encode()
    request = urllib.request.Request(
        f"{URL}/auth/login",
        data=body,
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        pair = json.load(response)
    LOGINS["count"] += 1
    _token["value"] = pair["access_token"]
    _token["expires"] = time.monotonic() + pair["expires_in"]
    return _token["value"]


@atexit.register
def _report() -> None:
    print(f"schemathesis hooks: {LOGINS['count']} logins of {USERNAME}", file=sys.stderr)


def _forget(token: str | None = None) -> None:
    with _lock:
        if token is None or token == _token["value"]:
            _token["value"] = None


@schemathesis.auth(refresh_interval=None)
class WardenBearer:
    """A live access token of the seeded user, logging in again when needed."""

    def get(self, case, ctx):
        with _lock:
            if _token["value"] is None or time.monotonic() > _token["expires"] - 60:
                return _login()
            return _token["value"]

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        # One credential per request: the agent endpoints answer 400 to both.
        for name in list(case.headers):
            if name.lower() in ("authorization", "x-api-key"):
                del case.headers[name]
        case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.hook
def after_call(ctx, case, response):
    sent = (case.headers or {}).get("Authorization", "")
    token = sent[len("Bearer ") :] if sent.startswith("Bearer ") else None
    operation = (case.operation.method.upper(), case.operation.path)
    if operation in REVOKING and 200 <= response.status_code < 300:
        _forget()
    elif response.status_code == 401 and token:
        _forget(token)


# base64url of "00000000000000000000000000": a cursor the listings accept.
CURSOR = base64.urlsafe_b64encode(b"0" * 26).rstrip(b"=").decode()


@schemathesis.hook
def before_call(ctx, case, kwargs):
    meta = case.meta
    positive = meta is None or meta.generation.mode.is_positive
    if positive and case.query and "next" in case.query:
        case.query["next"] = CURSOR
