"""Governed tool calls, checked the way an agent and a tool server would:
over HTTP only, with PyJWT (and `cryptography`), which share no code with
Warden, knowing only the issuer.

Run by infra/schemathesis.sh against the `warden serve` it starts, right
after infra/check_open_tokens.py and before schemathesis:

    python infra/check_tool_calls.py URL ADMIN PASSWORD KEYS_JSON PERSON PERSON_PASSWORD

KEYS_JSON maps each seeded agent to its `tools:call` API key
(`{"planner-1": "wdn_...", ...}`). The seed (infra/schemathesis.sh) has
`planner-1` AUTONOMOUS and `buyer-1` INTERN in `acme`, `student-1` STUDENT
in `acme`, `outsider-1` SUPERVISED in `globex` only, and the tool
`send_email` (complexity 2) in both workspaces; ADMIN has the roles admin
and approver and is a member of no workspace; PERSON has no role and is a
member of `acme` only.

It checks:
- `<issuer>/tools/jwks.json` is public and cacheable, and shares no key
  with the access tokens' `jwks_uri`;
- an AUTONOMOUS agent's call is allowed (`200`): PyJWT verifies its
  `decision_token` from that key set alone (RS256, `aud` `tool:<name>`,
  `iss`, header exactly `{"alg", "typ": "tool-call+jwt", "kid"}`, `exp`
  at most 60 s after `iat`, `jti` the `call_id`), and the SHA-256 of the
  arguments' JCS form (RFC 8785) computed here, from arguments sent in
  another key order and spacing, is the token's and the answer's
  `arguments_sha256` (numbers written `1E21` and `0.1` included);
- the decision token is refused as an access token (`401` `invalid`, and
  `{"active": false}` from introspection), and by the access-token key set;
- the outcome is kept once (`204`, then `409`; another agent `404`), and
  the call reads `ALLOWED` with it;
- an INTERN agent's call needs approval (`202` with `Location`), an
  identical call answers the same proposal, the approver sees it in
  `GET /agents/proposals` (`kind` `tool_call`, the arguments, their hash),
  approves it (`200` `APPROVED`), the agent's next identical call is
  allowed with that `proposal_id` and `call_id`, and the one after is
  `403` `approval_used`; the proposal lists as `USED`;
- a rejected call's identical call is `403` `approval_rejected`;
- the other refusals carry their `reason` (`tool_not_allowed`,
  `maturity`, `workspace`); another agent's key and a person's token are
  `403`; non-I-JSON arguments are `400`; an Idempotency-Key replays the
  same call and refuses another body (`409`);
- agents acting for people (RFC 8693): PERSON's token and planner-1's key
  exchange at `POST /auth/token` for a delegated token (`200`, exactly
  the five members, `no-store`) that PyJWT verifies from `jwks_uri` (`sub`
  the person, `act` the agent and key, `parent_jti`, `agent_gen`, no
  roles, never past the subject token); the exchange's refusals are RFC
  6749 JSON errors (`unsupported_grant_type`, `invalid_scope`,
  `invalid_target`, `invalid_request` for a delegated subject), a repeated
  parameter a problem; introspection shows its `act`; the delegated token
  makes a call (`200`, the decision token's `sub` `user:<id>`), reads it
  and reports its outcome, and is `403` elsewhere (`scope="warden"`), for
  another agent, and `404` in a workspace the person is not a member of
  (the admin's delegated token in `acme` too); it is `401` `revoked` once
  the person revokes it, once its subject token is revoked, and once its
  session ends.
Exits 1 with the failed check on stdout.
"""

import hashlib
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import jwt

WORKSPACE = "acme"
TOOL = "send_email"
# Values whose JCS form Python's json module writes the same way (RFC 8785
# sorts member names by UTF-16 code units: for these BMP names, the same
# order as Python's): nesting, non-ASCII text, null, booleans, an exact
# decimal and 2^53.
ARGUMENTS = {
    "to": "ana.lopez@example.com",
    "subject": "Café ☕ — invoice INV-2026-0042",
    "amount": 19.99,
    "count": 3,
    "big": 9007199254740992,
    "flags": [True, False, None],
    "note": None,
    "nested": {"z": 1, "a": {"y": "é", "b": []}},
}


def jcs_sha256(value) -> str:
    """Lowercase hex SHA-256 of the JCS form of value (simple values: see
    ARGUMENTS)."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def shuffled(value, indent=None) -> str:
    """The same JSON value as other text: members in reverse order, spaced."""

    def reverse(v):
        if isinstance(v, dict):
            return {k: reverse(v[k]) for k in reversed(list(v))}
        if isinstance(v, list):
            return [reverse(x) for x in v]
        return v

    return json.dumps(reverse(value), indent=indent, ensure_ascii=True)


def request(url, method="GET", body=None, headers=None, form=None, raw=None):
    """(status, headers, parsed JSON body or None) of one request."""
    headers = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    if raw is not None:
        data = raw.encode()
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


def main():
    base, admin, admin_password, keys_path, person, person_password = sys.argv[1:7]
    with open(keys_path, encoding="utf-8") as f:
        keys = json.load(f)
    planner, buyer = keys["planner-1"], keys["buyer-1"]

    status, _, discovery = request(f"{base}/.well-known/openid-configuration")
    check(status == 200, "the discovery document is served")
    issuer = discovery["issuer"]

    # The decision key set: public, and no access-token key in it.
    decision_jwks_uri = f"{issuer}/tools/jwks.json"
    status, headers, decision_set = request(decision_jwks_uri)
    check(status == 200 and decision_set["keys"], f"{decision_jwks_uri} is served", f"({status})")
    check(headers.get("cache-control") == "public, max-age=300", "the decision key set is cacheable")
    check(headers.get("access-control-allow-origin") == "*", "the decision key set is readable from any origin")
    _, _, access_set = request(discovery["jwks_uri"])
    decision_kids = {k["kid"] for k in decision_set["keys"]}
    access_kids = {k["kid"] for k in access_set["keys"]}
    check(not decision_kids & access_kids, "the decision key is not an access-token key")
    decision_keys = jwt.PyJWKClient(decision_jwks_uri)
    access_keys = jwt.PyJWKClient(discovery["jwks_uri"])

    status, _, pair = request(f"{base}/auth/login", "POST", {"username": admin, "password": admin_password})
    check(status == 200, f"login of {admin}", f"({status} {pair})")
    admin_token = pair["access_token"]
    as_admin = {"authorization": f"Bearer {admin_token}"}

    def call(agent, key, arguments=None, raw=None, tool=TOOL, workspace=WORKSPACE, headers=None):
        h = {"x-api-key": key, **(headers or {})}
        url = f"{base}/agents/{agent}/tool-calls"
        if raw is None:
            text = shuffled(arguments, indent=2)
            raw = f'{{"arguments": {text}, "tool": {json.dumps(tool)}, "workspace_id": {json.dumps(workspace)}}}'
        return request(url, "POST", raw=raw, headers=h)

    def verify(token, expected_hash, call_id, agent, proposal_id=None, caller="key:"):
        """PyJWT, from the decision key set alone, as a tool server would."""
        signing_key = decision_keys.get_signing_key_from_jwt(token)
        header = jwt.get_unverified_header(token)
        check(
            header == {"alg": "RS256", "typ": "tool-call+jwt", "kid": signing_key.key_id},
            f"the decision token's header is exactly alg, typ tool-call+jwt, kid ({header})",
        )
        claims = jwt.decode(
            token,
            signing_key.key,
            algorithms=["RS256"],
            audience=f"tool:{TOOL}",
            issuer=issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
        )
        check(True, f"PyJWT verifies the decision token from {decision_jwks_uri} (aud tool:{TOOL}, iss)")
        check(claims["jti"] == call_id, "jti is the call id")
        check(claims["tool"] == TOOL and claims["workspace_id"] == WORKSPACE, "the token names the tool and workspace")
        check(claims["act"] == {"sub": f"agent:{agent}"}, f"act names the agent ({claims['act']})")
        check(claims["sub"].startswith(caller), f"sub is the caller, {caller}... ({claims['sub']})")
        check(0 < claims["exp"] - claims["iat"] <= 60, "the token lives at most 60 s")
        check(claims["exp"] > time.time(), "the token is live")
        check(
            claims["arguments_sha256"] == expected_hash,
            "the token's arguments_sha256 is the SHA-256 of the arguments' JCS form, computed here",
            f"({claims['arguments_sha256']} != {expected_hash})",
        )
        check(claims.get("proposal_id") == proposal_id, f"the token's proposal_id is {proposal_id}")
        try:
            jwt.decode(token, signing_key.key, algorithms=["RS256"], audience="tool:another_tool", issuer=issuer)
            check(False, "a tool server for another tool refuses it (aud)")
        except jwt.InvalidAudienceError:
            check(True, "a tool server for another tool refuses it (aud)")
        return claims

    # 1. Allowed at once: planner-1 is AUTONOMOUS, send_email complexity 2.
    expected = jcs_sha256(ARGUMENTS)
    status, _, allowed = call("planner-1", planner, ARGUMENTS)
    check(status == 200 and allowed["decision"] == "allow", "an AUTONOMOUS agent's call is allowed", f"({status} {allowed})")
    check(set(allowed) == {"decision", "call_id", "arguments_sha256", "decision_token"}, f"the answer's members ({sorted(allowed)})")
    check(allowed["arguments_sha256"] == expected, "the answer's arguments_sha256 is the JCS hash computed here")
    token = allowed["decision_token"]
    verify(token, expected, allowed["call_id"], "planner-1")

    # Numbers as JCS writes them: 1E21 -> 1e+21, 0.1 -> 0.1, -0 -> 0.
    numbers = {"e": 1e21, "tenth": 0.1, "zero": 0}
    raw = '{"workspace_id": "acme", "tool": "send_email", "arguments": {"zero": -0, "tenth": 0.1, "e": 1E21}}'
    status, _, numbered = call("planner-1", planner, raw=raw)
    check(status == 200, "a call with 1E21, 0.1 and -0 is allowed", f"({status} {numbered})")
    check(numbered["arguments_sha256"] == jcs_sha256(numbers), "numbers are hashed in their JCS form")

    # 2. Never an access token.
    status, headers, problem = request(f"{base}/auth/sessions", headers={"authorization": f"Bearer {token}"})
    challenge = headers.get("www-authenticate", "")
    check(
        status == 401 and 'error_description="invalid"' in challenge,
        f"the decision token is refused as a bearer token ({status} {challenge})",
    )
    status, _, _ = request(
        f"{base}/agents/tool-calls?workspace_id={WORKSPACE}", headers={"authorization": f"Bearer {token}"}
    )
    check(status == 401, f"the decision token does not read tool calls ({status})")
    status, _, inactive = request(f"{base}/auth/introspect", "POST", form={"token": token}, headers=as_admin)
    check(status == 200 and inactive == {"active": False}, "introspection finds the decision token inactive")
    try:
        access_keys.get_signing_key_from_jwt(token)
        check(False, "the access-token key set has no key for a decision token")
    except jwt.PyJWKClientError:
        check(True, "the access-token key set has no key for a decision token")

    # 3. The outcome, once, by its own agent.
    outcome_url = f"{base}/agents/tool-calls/{allowed['call_id']}/outcome"
    status, _, _ = request(outcome_url, "POST", {"status": "succeeded"}, headers={"x-api-key": buyer})
    check(status == 404, f"another agent cannot report the outcome ({status})")
    status, _, _ = request(outcome_url, "POST", {"status": "succeeded", "detail": "sent"}, headers={"x-api-key": planner})
    check(status == 204, f"the outcome is kept ({status})")
    status, _, again = request(outcome_url, "POST", {"status": "failed"}, headers={"x-api-key": planner})
    check(status == 409, f"a second outcome is refused ({status} {again})")
    status, _, record = request(f"{base}/agents/tool-calls/{allowed['call_id']}", headers={"x-api-key": planner})
    check(
        status == 200
        and record["status"] == "ALLOWED"
        and record["decision"] == "allow"
        and record["arguments_sha256"] == expected
        and record["outcome"]["status"] == "succeeded"
        and record["outcome"]["detail"] == "sent",
        "the call reads ALLOWED, with its outcome",
        f"({status} {record})",
    )

    # 4. Idempotency: the same call again, another body refused.
    idem = {"idempotency-key": f"check-tool-calls-{time.time_ns()}"}
    args = {"to": "idem@example.com", "n": 1}
    status, _, first = call("planner-1", planner, args, headers=idem)
    check(status == 200, f"an idempotent call is allowed ({status})")
    status, _, replay = call("planner-1", planner, args, headers=idem)
    check(status == 200 and replay["call_id"] == first["call_id"], "the same Idempotency-Key answers the same call")
    status, _, _ = call("planner-1", planner, {"to": "idem@example.com", "n": 2}, headers=idem)
    check(status == 409, f"the same Idempotency-Key with another body is 409 ({status})")

    # 5. An approval, bound to the exact call, used once: buyer-1 is INTERN.
    proposal_args = {"to": "vendor@example.com", "po": "PO-2026-0042", "total_cents": 45000}
    proposal_hash = jcs_sha256(proposal_args)
    status, headers, pending = call("buyer-1", buyer, proposal_args)
    check(status == 202 and pending["decision"] == "approval_required", "an INTERN agent's call needs approval", f"({status} {pending})")
    call_id, proposal_id = pending["call_id"], pending["proposal_id"]
    check(headers.get("location") == f"/agents/tool-calls/{call_id}", f"Location names the call ({headers.get('location')})")
    status, _, same = call("buyer-1", buyer, proposal_args)
    check(
        status == 202 and same["proposal_id"] == proposal_id and same["call_id"] == call_id,
        "an identical call answers the same proposal",
    )
    status, _, waiting = request(f"{base}/agents/tool-calls/{call_id}", headers={"x-api-key": buyer})
    check(status == 200 and waiting["status"] == "AWAITING_APPROVAL", f"the call awaits approval ({waiting})")
    status, _, _ = request(f"{base}/agents/tool-calls/{call_id}/outcome", "POST", {"status": "succeeded"}, headers={"x-api-key": buyer})
    check(status == 404, f"no outcome for a call not allowed ({status})")

    def find_proposal(pid, status_filter):
        after = None
        while True:
            query = {"status": status_filter, "limit": 100, **({"next": after} if after else {})}
            code, _, page = request(f"{base}/agents/proposals?{urllib.parse.urlencode(query)}", headers=as_admin)
            check(code == 200, f"the approver lists {status_filter} proposals", f"({code} {page})")
            for item in page["proposals"]:
                if item["proposal_id"] == pid:
                    return item
            after = page["next"]
            if after is None:
                return None

    item = find_proposal(proposal_id, "PENDING")
    check(item is not None, "the approver sees the tool-call proposal")
    check(
        item["kind"] == "tool_call"
        and item["call_id"] == call_id
        and item["tool"] == TOOL
        and item["complexity"] == 2
        and item["arguments"] == proposal_args
        and item["arguments_sha256"] == proposal_hash
        and item["agent_maturity"] == "INTERN"
        and not {"job_id", "action", "input"} & set(item),
        "the proposal shows exactly what will be allowed",
        f"({item})",
    )
    status, _, approved = request(f"{base}/agents/proposals/{proposal_id}/approve", "POST", {}, headers=as_admin)
    check(
        status == 200 and approved == {"proposal_id": proposal_id, "call_id": call_id, "status": "APPROVED"},
        "approving a tool call answers 200 APPROVED",
        f"({status} {approved})",
    )
    status, _, used = call("buyer-1", buyer, proposal_args)
    check(
        status == 200 and used["decision"] == "allow" and used["proposal_id"] == proposal_id and used["call_id"] == call_id,
        "the identical call after approval is allowed, keeping the proposal's call id",
        f"({status} {used})",
    )
    verify(used["decision_token"], proposal_hash, call_id, "buyer-1", proposal_id)
    status, _, refused = call("buyer-1", buyer, proposal_args)
    check(status == 403 and refused.get("reason") == "approval_used", "the approval is used once", f"({status} {refused})")
    item = find_proposal(proposal_id, "USED")
    check(item is not None and item["status"] == "USED", "the proposal lists as USED")

    # 6. A rejection refuses the identical call.
    rejected_args = {"to": "vendor@example.com", "po": "PO-2026-0043", "total_cents": 99000}
    status, _, pending = call("buyer-1", buyer, rejected_args)
    check(status == 202, f"another exact call needs its own approval ({status})")
    status, _, rejected = request(
        f"{base}/agents/proposals/{pending['proposal_id']}/reject", "POST", {"reason": "not this vendor"}, headers=as_admin
    )
    check(
        status == 200 and rejected == {"proposal_id": pending["proposal_id"], "call_id": pending["call_id"], "status": "REJECTED"},
        "rejecting a tool call answers 200 REJECTED",
        f"({status} {rejected})",
    )
    status, _, refused = call("buyer-1", buyer, rejected_args)
    check(status == 403 and refused.get("reason") == "approval_rejected", "the rejected call is refused", f"({status} {refused})")
    status, _, record = request(f"{base}/agents/tool-calls/{pending['call_id']}", headers={"x-api-key": buyer})
    check(status == 200 and record["status"] == "REJECTED", f"the call reads REJECTED ({record})")

    # 7. The other refusals.
    status, _, refused = call("planner-1", planner, {"x": 1}, tool="no_such_tool")
    check(status == 403 and refused.get("reason") == "tool_not_allowed", "an unknown tool is tool_not_allowed", f"({status} {refused})")
    status, _, refused = call("student-1", keys["student-1"], {"x": 1})
    check(status == 403 and refused.get("reason") == "maturity", "a STUDENT is refused by maturity", f"({status} {refused})")
    status, _, refused = call("outsider-1", keys["outsider-1"], {"x": 1})
    check(status == 403 and refused.get("reason") == "workspace", "a workspace the agent is not in is refused", f"({status} {refused})")
    status, _, refused = call("planner-1", buyer, {"x": 1})
    check(status == 403 and "reason" not in refused, f"another agent's key is refused ({status} {refused})")
    status, _, refused = request(
        f"{base}/agents/planner-1/tool-calls",
        "POST",
        {"workspace_id": WORKSPACE, "tool": TOOL, "arguments": {"x": 1}},
        headers=as_admin,
    )
    check(status == 403, f"a person is not the agent ({status} {refused})")
    for what, raw in {
        "a number that is not exactly a double": '{"workspace_id": "acme", "tool": "send_email", "arguments": {"amount": 9007199254740993}}',
        "a duplicate member name": '{"workspace_id": "acme", "tool": "send_email", "arguments": {"a": {"b": 1, "b": 2}}}',
    }.items():
        status, _, problem = call("planner-1", planner, raw=raw)
        check(status == 400 and "arguments." in problem["detail"], f"{what} is 400, naming its path", f"({status} {problem})")

    # 8. Agents acting for people: a delegated token (RFC 8693).
    delegated_checks(base, discovery, access_keys, verify, as_admin, planner, person, person_password)
    print("governed tool calls: every check passed")


EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
API_KEY = "urn:warden:params:oauth:token-type:api_key"


def delegated_checks(base, discovery, access_keys, verify, as_admin, planner, person, person_password):
    """A person's token and planner-1's key exchanged for a delegated token,
    which calls tools for the person and dies with each revocation."""
    issuer = discovery["issuer"]
    check(discovery["token_endpoint"] == f"{issuer}/auth/token", "the discovery document names the token endpoint")

    def login():
        status, _, pair = request(f"{base}/auth/login", "POST", {"username": person, "password": person_password})
        check(status == 200, f"login of {person}", f"({status} {pair})")
        return pair

    def exchange(subject, actor=planner, **extra):
        form = {
            "grant_type": EXCHANGE,
            "subject_token": subject,
            "subject_token_type": ACCESS_TOKEN,
            "actor_token": actor,
            "actor_token_type": API_KEY,
            **extra,
        }
        return request(f"{base}/auth/token", "POST", form=form)

    def access_claims(token):
        key = access_keys.get_signing_key_from_jwt(token)
        return jwt.decode(token, key.key, algorithms=["RS256"], audience="warden-api", issuer=issuer)

    def tool_call(token, agent="planner-1", workspace=WORKSPACE, arguments=None):
        body = {"workspace_id": workspace, "tool": TOOL, "arguments": arguments or {"to": "ana@example.com"}}
        return request(
            f"{base}/agents/{agent}/tool-calls", "POST", body, headers={"authorization": f"Bearer {token}"}
        )

    def revoked(status, headers):
        challenge = headers.get("www-authenticate", "")
        return status == 401 and 'error="invalid_token", error_description="revoked"' in challenge

    pair = login()
    subject = pair["access_token"]
    person_claims = access_claims(subject)
    as_person = {"authorization": f"Bearer {subject}"}

    status, headers, answer = exchange(subject)
    check(status == 200, "a person's token and an agent's key are exchanged for a delegated token", f"({status} {answer})")
    check(
        set(answer) == {"access_token", "issued_token_type", "token_type", "expires_in", "scope"}
        and answer["issued_token_type"] == ACCESS_TOKEN
        and answer["token_type"] == "Bearer"
        and answer["scope"] == "tools:call"
        and 0 < answer["expires_in"] <= 900,
        "the exchange answers exactly RFC 8693's members",
        f"({answer})",
    )
    check(headers.get("cache-control") == "no-store", "the delegated token is not cached")
    delegated = answer["access_token"]
    claims = access_claims(delegated)
    check(True, f"PyJWT verifies the delegated token from {discovery['jwks_uri']}")
    check(
        claims["sub"] == person_claims["sub"]
        and claims["act"] == {"sub": "agent:planner-1", "key_id": planner.split("_")[1]}
        and claims["client_id"] == "agent:planner-1"
        and claims["roles"] == []
        and claims["scope"] == "tools:call"
        and claims["sid"] == person_claims["sid"]
        and claims["parent_jti"] == person_claims["jti"]
        and isinstance(claims.get("agent_gen"), int)
        and claims["exp"] <= person_claims["exp"],
        "sub is the person, act the agent and its key, no roles, its parent and the agent's generation",
        f"({claims})",
    )

    # The exchange's refusals: RFC 6749's JSON error, not a problem.
    for what, extra, error in [
        ("another grant type", {"grant_type": "password"}, "unsupported_grant_type"),
        ("a scope wider than a person's token delegates", {"scope": "agents:run"}, "invalid_scope"),
        ("another audience", {"audience": "another-api"}, "invalid_target"),
        ("another resource", {"resource": "https://elsewhere.example"}, "invalid_target"),
    ]:
        status, headers, refusal = exchange(subject, **extra)
        check(
            status == 400
            and headers.get("content-type") == "application/json"
            and set(refusal) == {"error", "error_description"}
            and refusal["error"] == error,
            f"{what} is {error}",
            f"({status} {refusal})",
        )
    status, _, refusal = exchange(delegated)
    check(status == 400 and refusal.get("error") == "invalid_request", "a delegated token is never exchanged again", f"({status} {refusal})")
    status, _, refusal = exchange(subject, actor="wdn_01JD3V2Q8C4M6N9P1R5T7W0XYZ_not-a-key-of-this-server")
    check(status == 400 and refusal.get("error") == "invalid_request", "an unknown actor key is invalid_request", f"({status} {refusal})")
    # A repeated parameter: the form cannot be read (a problem).
    form = urllib.parse.urlencode([("grant_type", EXCHANGE), ("grant_type", EXCHANGE)]).encode()
    req = urllib.request.Request(
        f"{base}/auth/token", data=form, method="POST", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    try:
        urllib.request.urlopen(req, timeout=10)
        check(False, "a repeated parameter is refused")
    except urllib.error.HTTPError as error:
        check(
            error.code == 400 and error.headers.get("content-type") == "application/problem+json",
            "a repeated parameter is a 400 problem",
            f"({error.code} {error.headers.get('content-type')})",
        )

    # Introspection describes it, with its actor.
    status, _, described = request(f"{base}/auth/introspect", "POST", form={"token": delegated}, headers=as_admin)
    check(
        status == 200 and described["active"] and described["act"] == claims["act"] and described["client_id"] == "agent:planner-1",
        "introspection shows the delegated token's act",
        f"({status} {described})",
    )

    # The agent calls a tool for the person.
    arguments = {"to": "ana@example.com", "subject": "for a person"}
    status, _, allowed = tool_call(delegated, arguments=arguments)
    check(status == 200 and allowed["decision"] == "allow", "the delegated token's call is allowed", f"({status} {allowed})")
    verify(allowed["decision_token"], jcs_sha256(arguments), allowed["call_id"], "planner-1", caller=f"user:{claims['sub']}")
    as_agent_for_person = {"authorization": f"Bearer {delegated}"}
    status, _, record = request(f"{base}/agents/tool-calls/{allowed['call_id']}", headers=as_agent_for_person)
    check(status == 200 and record["status"] == "ALLOWED", f"the delegated token reads the call it made ({status})")
    status, _, _ = request(
        f"{base}/agents/tool-calls/{allowed['call_id']}/outcome", "POST", {"status": "succeeded"}, headers=as_agent_for_person
    )
    check(status == 204, f"the delegated token reports the outcome ({status})")

    # Everywhere else it is refused.
    status, headers, _ = request(f"{base}/auth/sessions", headers=as_agent_for_person)
    check(
        status == 403 and headers.get("www-authenticate") == 'Bearer error="insufficient_scope", scope="warden"',
        "a delegated token is 403 insufficient_scope on another route",
        f"({status} {headers.get('www-authenticate')})",
    )
    status, _, _ = request(f"{base}/agents/tool-calls?workspace_id={WORKSPACE}", headers=as_agent_for_person)
    check(status == 403, f"a delegated token does not list tool calls ({status})")
    status, _, refused = tool_call(delegated, agent="buyer-1")
    check(status == 403, f"a delegated token calls only for its own agent ({status} {refused})")
    status, _, refused = tool_call(delegated, workspace="globex")
    check(status == 404, f"a workspace its person is not a member of is 404 ({status} {refused})")
    status, _, admin_answer = exchange(as_admin["authorization"].split(" ", 1)[1])
    check(status == 200, f"an admin's token is exchanged too ({status})")
    status, _, refused = tool_call(admin_answer["access_token"])
    check(status == 404, f"an admin's role does not pass into a delegated token: acme is 404 ({status} {refused})")

    # It dies with its person's revocation, its subject token's, its session's.
    status, _, revoked_count = request(f"{base}/auth/revoke", "POST", {"token": delegated}, headers=as_person)
    check(status == 200 and revoked_count == {"revoked": 1}, f"the person revokes the delegated token ({revoked_count})")
    status, headers, _ = tool_call(delegated)
    check(revoked(status, headers), f"a revoked delegated token is 401 revoked ({status} {headers.get('www-authenticate')})")

    status, _, second = exchange(subject)
    check(status == 200, f"a second delegated token ({status})")
    status, _, revoked_count = request(f"{base}/auth/revoke", "POST", {"token": subject}, headers=as_person)
    check(status == 200 and revoked_count == {"revoked": 1}, f"the person revokes their own token ({revoked_count})")
    status, headers, _ = tool_call(second["access_token"])
    check(revoked(status, headers), f"revoking its subject token revokes the delegated token ({status})")

    pair = login()
    status, _, third = exchange(pair["access_token"])
    check(status == 200, f"a third delegated token ({status})")
    status, _, _ = request(
        f"{base}/auth/sessions/{pair['session_id']}",
        "DELETE",
        headers={"authorization": f"Bearer {pair['access_token']}"},
    )
    check(status == 204, f"the person ends the session ({status})")
    status, headers, _ = tool_call(third["access_token"])
    check(revoked(status, headers), f"ending its session revokes the delegated token ({status})")
    print("agents acting for people: every check passed")


if __name__ == "__main__":
    main()
