#!/usr/bin/env bash
# Holds the running API to infra/openapi.yaml: schemathesis, every check,
# against `warden serve` on the embedded store; before it, PyJWT verifies
# the server's tokens from its discovery document alone
# (infra/check_open_tokens.py), and a governed tool call end to end, its
# decision token and its arguments' hash included, and a token exchange
# with the delegated token's calls and revocations (infra/check_tool_calls.py).
# Run by infra/test.sh; also on its own.
#
# - builds target/debug/warden (`cargo build --bin warden`);
# - installs the pinned schemathesis into .venv on first run (its pins fit
#   moto's, cfn-lint's and openapi-spec-validator's);
# - starts `warden serve` on a free loopback port with a seed file, and
#   stops it on every exit path. The seed holds: a user with the roles admin
#   and approver and a user with none (`requester`), whose random passwords
#   are made here; `alice` with the password of the spec's login example, so
#   that example logs in; two workspaces, an agent of each maturity and a
#   webhook source, so requests reach past `404`; two tools (`send_email`,
#   complexity 2, and `pay_invoice`, complexity 4, in both workspaces) and a
#   `tools:call` API key for each of those agents, made here (development
#   only: a seed's keys are refused elsewhere), in
#   target/schemathesis/keys.json; and spare-1, an agent for the kill
#   switch alone (disabling one the other cases use would stop them);
# - `warden serve` signs decision tokens with a fixed test key
#   (WARDEN_DECISION_KEY_FILE, shared/testdata/test-signing-key-3.pem,
#   which signs nothing outside tests), access tokens with a key it
#   generates;
# - infra/schemathesis.toml binds those ids to the agent, workspace, action,
#   tool and webhook-source parameters in about half the valid cases
#   (spare-1 alone to the kill switch's);
# - infra/schemathesis_hooks.py logs the users in and hands every case a
#   live bearer token (the requester's for asking for agent runs, so that
#   the approver may approve the proposals; the admin's for everything
#   else), logging in again after a revocation or a 401, and the agent's
#   API key to the tool-call routes that take only the agent
#   (`POST /agents/{agent_id}/tool-calls`, `POST .../outcome`), and live
#   credentials in every valid `POST /auth/token` form.
#
# The local server's login limit per client IP is raised for this run only
# (WARDEN_LOGIN_IP_LIMIT, set on this one process): every request comes
# from 127.0.0.1, and schemathesis sends hundreds of logins. The per-account
# back-off stays as it is (the hook's user never fails a login). Nothing
# else is relaxed, and no deployed setting changes.
#
# WARDEN_ST_EXAMPLES (default 50) bounds the examples per operation and
# phase; WARDEN_ST_SEED (default 1) fixes the run, so a failure reproduces
# (`st replay` from target/schemathesis).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
SCHEMATHESIS_VERSION=4.32.5
PYJWT_VERSION=2.10.1
EXAMPLES=${WARDEN_ST_EXAMPLES:-50}
SEED=${WARDEN_ST_SEED:-1}
WORK="$ROOT/target/schemathesis"

# shellcheck source=infra/lib.sh
. "$ROOT/infra/lib.sh"

installed=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null || true)
if [ "$installed" != "$SCHEMATHESIS_VERSION" ]; then
  log "installing schemathesis==$SCHEMATHESIS_VERSION into .venv"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
# PyJWT verifies Warden's tokens as another team's service would
# (infra/check_open_tokens.py); `cryptography` comes with moto.
pyjwt=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("pyjwt"))' 2>/dev/null || true)
if [ "$pyjwt" != "$PYJWT_VERSION" ]; then
  log "installing pyjwt==$PYJWT_VERSION into .venv"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "pyjwt==$PYJWT_VERSION"
fi

log "cargo build --bin warden"
cargo build --bin warden

rm -rf "$WORK"
mkdir -p "$WORK"
secret() { "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(24))'; }
PASSWORD=$(secret)
REQUESTER_PASSWORD=$(secret)
# A `tools:call` key per seeded agent, `wdn_<26-character key id>_<secret>`,
# for the seed and, by agent id, for the checks and the hooks.
KEYS="$WORK/keys.json"
(umask 077 && "$VENV/bin/python" - >"$KEYS" <<'PY'
import json, secrets
alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
agents = ["buyer-1", "planner-1", "student-1", "outsider-1"]
keys = {
    agent: "wdn_" + "".join(secrets.choice(alphabet) for _ in range(26)) + "_" + secrets.token_urlsafe(32)
    for agent in agents
}
print(json.dumps(keys))
PY
)
SEED_KEYS=$("$VENV/bin/python" -c '
import json, sys
keys = json.load(open(sys.argv[1]))
print(",\n    ".join(
    json.dumps({"key": key, "owner": agent, "scopes": ["tools:call"], "rate_limit_per_hour": 1000000})
    for agent, key in keys.items()
))' "$KEYS")
# The ids here are the values of infra/schemathesis.toml's dictionaries.
cat >"$WORK/seed.json" <<EOF
{
  "users": [
    {"username": "schemathesis", "password": "$PASSWORD", "roles": ["admin", "approver"]},
    {"username": "requester", "password": "$REQUESTER_PASSWORD", "roles": []},
    {"username": "alice", "password": "correct horse battery staple", "roles": []}
  ],
  "workspaces": [{"workspace_id": "acme", "name": "Acme", "members": ["requester", "alice"]}, {"workspace_id": "globex", "name": "Globex"}],
  "agents": [
    {"agent_id": "buyer-1", "agent_type": "purchasing", "maturity": "INTERN", "workspaces": ["acme"]},
    {"agent_id": "planner-1", "agent_type": "planning", "maturity": "AUTONOMOUS", "workspaces": ["acme"]},
    {"agent_id": "student-1", "agent_type": "sales", "maturity": "STUDENT", "workspaces": ["acme"]},
    {"agent_id": "outsider-1", "agent_type": "tax", "maturity": "SUPERVISED", "workspaces": ["globex"]},
    {"agent_id": "spare-1", "agent_type": "logistics", "maturity": "AUTONOMOUS", "workspaces": ["globex"]}
  ],
  "tools": [
    {"name": "send_email", "complexity": 2, "workspaces": ["acme", "globex"]},
    {"name": "pay_invoice", "complexity": 4, "workspaces": ["acme", "globex"]}
  ],
  "api_keys": [
    $SEED_KEYS
  ],
  "webhook_sources": [{"name": "github", "scheme": "github", "secrets": ["$("$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(32))')"]}]
}
EOF

PORT=$(free_port "$VENV/bin/python")
URL="http://127.0.0.1:$PORT"
log "starting warden serve on 127.0.0.1:$PORT (log: target/schemathesis/serve.log)"
WARDEN_LOGIN_IP_LIMIT=1000000/60 WARDEN_RUN_LIMIT_PER_MINUTE=1000000 \
  WARDEN_DECISION_KEY_FILE="$ROOT/shared/testdata/test-signing-key-3.pem" \
  "$ROOT/target/debug/warden" serve --addr "127.0.0.1:$PORT" \
  --seed "$WORK/seed.json" >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!

trap 'stop_pid "$SERVE_PID"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_ready "warden serve" "$URL/health" "$SERVE_PID" "$WORK/serve.log" 150 "$VENV/bin/python"

log "open tokens: PyJWT verifies a login token from $URL/.well-known/openid-configuration alone; forgeries and revoked tokens are refused"
"$VENV/bin/python" "$ROOT/infra/check_open_tokens.py" "$URL" schemathesis "$PASSWORD" requester "$REQUESTER_PASSWORD"

log "governed tool calls: a call allowed, and one approved then allowed; PyJWT verifies each decision token from $URL/tools/jwks.json and the arguments' JCS hash; refusals, approvals used once, outcomes once; a delegated token (POST /auth/token) calls for the requester and dies with each revocation"
"$VENV/bin/python" "$ROOT/infra/check_tool_calls.py" "$URL" schemathesis "$PASSWORD" "$KEYS" requester "$REQUESTER_PASSWORD"

log "schemathesis $SCHEMATHESIS_VERSION: $URL against infra/openapi.yaml ($EXAMPLES examples per operation, seed $SEED)"
# From target/schemathesis, where it keeps its crash cache (.schemathesis/).
# /example/{proxy} is not served locally: it exists only in a stack deployed
# with ProtectedBackendUrl, in front of a backend of one's own.
(
  cd "$WORK"
  SCHEMATHESIS_HOOKS="$ROOT/infra/schemathesis_hooks.py" \
  WARDEN_ST_URL="$URL" WARDEN_ST_USERNAME=schemathesis WARDEN_ST_PASSWORD="$PASSWORD" \
  WARDEN_ST_REQUESTER=requester WARDEN_ST_REQUESTER_PASSWORD="$REQUESTER_PASSWORD" \
  WARDEN_ST_KEYS="$KEYS" \
    "$VENV/bin/schemathesis" --config-file "$ROOT/infra/schemathesis.toml" \
      run "$ROOT/infra/openapi.yaml" \
      --url "$URL" \
      --checks all \
      --max-examples "$EXAMPLES" \
      --seed "$SEED" \
      --workers 1 \
      --exclude-path-regex '^/example/' \
      --generation-database none \
      --no-color \
      --report junit --report-dir "$WORK"
)
