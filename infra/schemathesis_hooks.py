"""Schemathesis hooks for infra/test.sh: fresh bearer tokens for `warden serve`.

Two seeded users log in at WARDEN_ST_URL:
- the requester (WARDEN_ST_REQUESTER / WARDEN_ST_REQUESTER_PASSWORD, no
  roles) asks for agent runs (`POST /agents/{agent_id}/runs`), so that the
  proposals those runs make can be approved: a user may not approve a run
  they asked for;
- the admin (WARDEN_ST_USERNAME / WARDEN_ST_PASSWORD, roles admin and
  approver) makes every other call, so the admin reports and the proposals
  answer more than 403.

The agent is the caller of the two tool-call routes that take only the
agent: `POST /agents/{agent_id}/tool-calls` is sent with the `tools:call`
API key of the path's agent (WARDEN_ST_KEYS, a JSON file mapping each
seeded agent to its key; an unseeded agent gets planner-1's key, and
`403`), and `POST /agents/tool-calls/{call_id}/outcome` with the key of the
call's agent (looked up as the admin; planner-1's when the call is
unknown). A person's own bearer token there would only be `403` (a person
is not the agent; an agent's delegated token is checked end to end by
infra/check_tool_calls.py). The listings and reads of tool calls are made
as the admin.

Each user's token is kept until it can no longer work, then the next case
of theirs logs in again:

- a call that revokes tokens answered 2xx (`POST /auth/revoke-all` kills
  every token of the user; `POST /auth/revoke` and
  `DELETE /auth/sessions/{sid}` may have hit our own session);
- a request that carried the token was answered 401;
- it expires within a minute.

`POST /auth/token` (the token exchange) takes credentials in its form,
which random strings never are: a case meant to be valid gets the admin's
live access token as `subject_token`, an agent's `tools:call` key as
`actor_token`, `scope` `tools:call` and no `audience` or `resource` (which
must name this server: the schema cannot say so), so that the exchange
succeeds (`200`) and its answer is held to the schema. Cases meant to be
invalid keep theirs, and are refused (`400`, RFC 6749's JSON error, or a
problem).

A listing's `next` is a cursor the server gave (base64url of a 26-character
id); the schema can say only "base64url". In a case meant to be valid, a
drawn `next` is replaced by a well-formed cursor (of an id that sorts
before any real one, so the page is empty); cases meant to be invalid keep
theirs, and the server must refuse them. `GET /audit`'s `next` is an event
id, which its schema's pattern says exactly: a drawn one is kept.

The admin endpoints (`GET /agents`, the kill switch, `GET /audit`,
`GET /security/health/uptime`) are made as the admin, like every call not
listed above. The kill switch would stop the seeded agents the other cases
need (their runs and tool calls would be refused from then on, and their
approvals voided), and schemathesis reaches their ids whatever the
configuration binds (a run disabled buyer-1 and student-1 so): every
`POST /agents/{agent_id}/disable` that names one of them names spare-1
instead, an agent seeded for the switch alone (infra/schemathesis.toml
also binds it to that operation's valid cases, so they reach `200`).
Enabling is left alone: the seeded agents are enabled, so it changes
nothing but its audit record.

Before the first case, the requester asks for a few runs with valid input
(`RUNS`, five times): proposals of the INTERN purchasing agent and runs of the
AUTONOMOUS planning agent, one of which fails its business rule. The
agents make a few tool calls too (`TOOL_CALLS`): allowed ones of the
AUTONOMOUS planner and proposals of the INTERN buyer. The listings then
have rows, so the links from `GET /agents/proposals`, `GET /agents/runs`
and `GET /agents/tool-calls` reach real proposals, jobs and calls instead
of `404`.

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
import urllib.error
import urllib.parse
import urllib.request
import uuid

import schemathesis

URL = os.environ["WARDEN_ST_URL"].rstrip("/")

# Operations after whose success the caller's token may be dead.
REVOKING = {
    ("POST", "/auth/revoke"),
    ("POST", "/auth/revoke-all"),
    ("DELETE", "/auth/sessions/{sid}"),
}

# Operations whose `next` is an event id (a ULID), exactly as their schema's
# pattern says: their drawn `next` needs no replacing.
EXACT_NEXT = {("GET", "/audit")}

# Operations made as the requester rather than the admin.
REQUESTED = {("POST", "/agents/{agent_id}/runs")}

# The token exchange, whose form carries the credentials.
EXCHANGE = ("POST", "/auth/token")

# Operations made as the agent, with its API key.
TOOL_CALL = ("POST", "/agents/{agent_id}/tool-calls")
OUTCOME = ("POST", "/agents/tool-calls/{call_id}/outcome")
KEYED = {TOOL_CALL, OUTCOME}

# The kill switch, and the agent it may stop (infra/schemathesis.sh seeds
# it for that alone).
DISABLE = ("POST", "/agents/{agent_id}/disable")
SPARE_AGENT = "spare-1"

# Each seeded agent's `tools:call` key (infra/schemathesis.sh).
with open(os.environ["WARDEN_ST_KEYS"], encoding="utf-8") as _f:
    KEYS: dict[str, str] = json.load(_f)
DEFAULT_AGENT = "planner-1"


class Login:
    """One seeded user's live access token, logging in again when needed."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self.lock = threading.Lock()
        self.token: str | None = None
        self.expires = 0.0
        self.logins = 0

    def token_now(self) -> str:
        with self.lock:
            if self.token is None or time.monotonic() > self.expires - 60:
                self._login()
            return self.token

    def forget(self, token: str | None = None) -> None:
        """Drop the kept token (only if it is still `token`, when given)."""
        with self.lock:
            if token is None or token == self.token:
                self.token = None

    def _login(self) -> None:
        body = json.dumps({"username": self.username, "password": self.password}).encode()
        request = urllib.request.Request(
            f"{URL}/auth/login",
            data=body,
            headers={"content-type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            pair = json.load(response)
        self.logins += 1
        self.token = pair["access_token"]
        self.expires = time.monotonic() + pair["expires_in"]


ADMIN = Login(os.environ["WARDEN_ST_USERNAME"], os.environ["WARDEN_ST_PASSWORD"])
REQUESTER = Login(os.environ["WARDEN_ST_REQUESTER"], os.environ["WARDEN_ST_REQUESTER_PASSWORD"])


def _post(path: str, token: str, payload: dict) -> dict:
    # A run of complexity 3 or 4 needs an Idempotency-Key; each run here is
    # a new one.
    request = urllib.request.Request(
        f"{URL}{path}",
        data=json.dumps(payload).encode(),
        headers={
            "content-type": "application/json",
            "authorization": f"Bearer {token}",
            "idempotency-key": str(uuid.uuid4()),
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


PURCHASE_LINES = [{"sku": "PAPER-A4", "quantity": 100, "unit_price_cents": 450}]
QUOTES = [
    {"vendor": "officeco", "sku": "PAPER-A4", "unit_price_cents": 520, "min_quantity": 1},
    {"vendor": "paperworld", "sku": "PAPER-A4", "unit_price_cents": 450, "min_quantity": 50},
]
MONTHS = [
    {"month": "2026-01", "revenue_cents": 5000000, "expenses_cents": 9000000},
    {"month": "2026-02", "revenue_cents": 5500000, "expenses_cents": 9500000},
]

# (agent, action, input, the status the run is answered with)
RUNS = [
    ("buyer-1", "compare_vendors",
     {"needs": [{"sku": "PAPER-A4", "quantity": 100, "current_vendor": "officeco"}], "quotes": QUOTES},
     "AWAITING_APPROVAL"),
    ("buyer-1", "draft_purchase_order",
     {"vendor": "paperworld", "currency": "EUR", "lines": PURCHASE_LINES, "quotes": QUOTES},
     "AWAITING_APPROVAL"),
    ("buyer-1", "submit_purchase_order",
     {"po_number": "PO-2026-0042", "vendor": "paperworld", "currency": "EUR", "lines": PURCHASE_LINES},
     "AWAITING_APPROVAL"),
    ("planner-1", "cash_runway", {"cash_cents": 120000000, "as_of": "2026-03-31", "months": MONTHS}, "PENDING"),
    # No month to average: the worker fails the job.
    ("planner-1", "cash_runway", {"cash_cents": 120000000, "as_of": "2026-03-31", "months": []}, "PENDING"),
]


def _request_runs() -> None:
    token = REQUESTER.token_now()
    for _ in range(5):
        for agent, action, input_, expected in RUNS:
            body = {"workspace_id": "acme", "action": action, "input": input_}
            status = _post(f"/agents/{agent}/runs", token, body)["status"]
            if status != expected:
                raise SystemExit(f"seeding runs: {agent} {action} answered {status}, not {expected}")


_request_runs()

# (agent, arguments, the decision answered)
TOOL_CALLS = [
    ("planner-1", {"to": "ana.lopez@example.com", "subject": "Runway update", "months": 14}, "allow"),
    ("planner-1", {"to": "board@example.com", "subject": "Forecast", "cc": ["cfo@example.com"]}, "allow"),
    ("buyer-1", {"to": "orders@paperworld.example", "po": "PO-2026-0042"}, "approval_required"),
    ("buyer-1", {"to": "orders@officeco.example", "po": "PO-2026-0043"}, "approval_required"),
]


def _request_tool_calls() -> None:
    for agent, arguments, expected in TOOL_CALLS:
        body = {"workspace_id": "acme", "tool": "send_email", "arguments": arguments}
        request = urllib.request.Request(
            f"{URL}/agents/{agent}/tool-calls",
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json", "x-api-key": KEYS[agent]},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            decision = json.load(response)["decision"]
        if decision != expected:
            raise SystemExit(f"seeding tool calls: {agent} answered {decision}, not {expected}")


_request_tool_calls()

# call id -> its agent, as the admin read it (None: no such call).
_CALL_AGENTS: dict[str, str | None] = {}


def _agent_of_call(call_id) -> str | None:
    if not isinstance(call_id, str) or not call_id:
        return None
    if call_id not in _CALL_AGENTS:
        request = urllib.request.Request(
            f"{URL}/agents/tool-calls/{urllib.parse.quote(call_id, safe='')}",
            headers={"authorization": f"Bearer {ADMIN.token_now()}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                _CALL_AGENTS[call_id] = json.load(response)["agent_id"]
        except (urllib.error.HTTPError, ValueError, KeyError):
            _CALL_AGENTS[call_id] = None
    return _CALL_AGENTS[call_id]


def _key(case) -> str:
    """The API key of the agent this case's call is made as."""
    params = case.path_parameters or {}
    if _operation(case) == TOOL_CALL:
        agent = params.get("agent_id")
    else:
        agent = _agent_of_call(params.get("call_id"))
    return KEYS.get(agent if isinstance(agent, str) else "", KEYS[DEFAULT_AGENT])


def _operation(case) -> tuple[str, str]:
    return (case.operation.method.upper(), case.operation.path)


def _user(case) -> Login:
    return REQUESTER if _operation(case) in REQUESTED else ADMIN


@atexit.register
def _report() -> None:
    for user in (ADMIN, REQUESTER):
        print(f"schemathesis hooks: {user.logins} logins of {user.username}", file=sys.stderr)


@schemathesis.auth(refresh_interval=None)
class WardenBearer:
    """A live access token of the user who makes this case's call, or the
    API key of the agent who makes it."""

    def get(self, case, ctx):
        if _operation(case) in KEYED:
            return ("key", _key(case))
        return ("bearer", _user(case).token_now())

    def set(self, case, data, ctx):
        kind, value = data
        case.headers = case.headers or {}
        # One credential per request: the agent endpoints answer 400 to both.
        for name in list(case.headers):
            if name.lower() in ("authorization", "x-api-key"):
                del case.headers[name]
        if kind == "key":
            case.headers["X-API-Key"] = value
        else:
            case.headers["Authorization"] = f"Bearer {value}"


@schemathesis.hook
def after_call(ctx, case, response):
    sent = (case.headers or {}).get("Authorization", "")
    token = sent[len("Bearer ") :] if sent.startswith("Bearer ") else None
    user = _user(case)
    if _operation(case) in REVOKING and 200 <= response.status_code < 300:
        user.forget()
    elif response.status_code == 401 and token:
        user.forget(token)


# base64url of "00000000000000000000000000": a cursor the listings accept.
CURSOR = base64.urlsafe_b64encode(b"0" * 26).rstrip(b"=").decode()


def _live_exchange(case) -> None:
    """A valid exchange: live credentials, the one scope, this server."""
    if not isinstance(case.body, dict):
        return
    case.body["subject_token"] = ADMIN.token_now()
    case.body["actor_token"] = KEYS[DEFAULT_AGENT]
    case.body["scope"] = "tools:call"
    case.body.pop("audience", None)
    case.body.pop("resource", None)


@schemathesis.hook
def before_call(ctx, case, kwargs):
    meta = case.meta
    positive = meta is None or meta.generation.mode.is_positive
    if positive and case.query and "next" in case.query and _operation(case) not in EXACT_NEXT:
        case.query["next"] = CURSOR
    if positive and _operation(case) == EXCHANGE:
        _live_exchange(case)
    params = case.path_parameters or {}
    if _operation(case) == DISABLE and params.get("agent_id") in KEYS:
        # Never a seeded agent the other cases need.
        params["agent_id"] = SPARE_AGENT
