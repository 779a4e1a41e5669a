#!/usr/bin/env bash
# The console (GET /console) in a real browser: infra/check_console.py
# drives headless Chromium through its WebDriver (selenium, in .venv)
# against `warden serve` on the embedded store, as an approver, an admin
# and a user of another workspace would use it: sign in, approve a proposal
# and see its job reach SUCCESS, reject one with a reason, the kill switch
# and its refused run, the XSS and invisible-character cases (no alert, no
# element, no request), workspace isolation, health and its uptime chart,
# the audit trail and its pagination, sessions and sign-out, a refused
# access token refreshed once and the page going on, a phone's
# screen; across all of it, every request went to the server and nowhere
# else, and each page with its data loads in under 200 ms. Each test saves
# a screenshot in target/console-screenshots/ (wiped at start).
# Run by infra/test.sh; also on its own.
#
# - installs Debian's `chromium` and `chromium-driver` when
#   /usr/bin/chromium or /usr/bin/chromedriver is missing (apt-get, as root
#   or through sudo; with `fonts-liberation`, the one font package chromium
#   recommends, so that text has the same metrics on every machine and the
#   screenshots show it), and the pinned selenium into .venv when missing;
#   Selenium never downloads a browser or a driver (the network is closed):
#   the check names both binaries;
# - builds target/debug/warden (`cargo build --bin warden`);
# - starts `warden serve` on a free loopback port with a seed file
#   (target/console/seed.json) and stops it on every exit path. The seed
#   holds: `console-admin` (roles admin and approver); `approver-a`
#   (approver) and `requester-a` (no role), members of workspace `alpha`;
#   `approver-b` (approver), member of workspace `beta` only; in `alpha`
#   the agents `buyer-a` (purchasing, INTERN: every run is a proposal) and
#   `planner-a` (planning, AUTONOMOUS: every run runs), in `beta`
#   `buyer-b` (purchasing, INTERN); the tool `pay_invoice` (complexity 4,
#   so that an INTERN's call waits for approval); and for each agent an API
#   key with scopes `agents:run` and `tools:call`, made here (development
#   only: a seed's keys are refused elsewhere), for `requester-a` (for
#   `approver-b` in `beta`), so that the approver, not the requester,
#   approves what the keys ask for. The passwords are random, made here,
#   and handed to the check in target/console/accounts.json (mode 600),
#   never on a command line.
#
# The local server's login limit per client IP is raised for this run only
# (WARDEN_LOGIN_IP_LIMIT, set on this one process): every browser and every
# API call of the check comes from 127.0.0.1, and the check signs in more
# than 5 times a minute (five people, several browsers, a second session).
# The per-account back-off stays as it is (no login of the check fails).
# Nothing else is relaxed, and no deployed setting changes.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
SELENIUM_VERSION=4.51.0
CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver
WORK="$ROOT/target/console"
SHOTS="$ROOT/target/console-screenshots"

# shellcheck source=infra/lib.sh
. "$ROOT/infra/lib.sh"

if [ ! -x "$CHROMIUM" ] || [ ! -x "$CHROMEDRIVER" ]; then
  log "installing Debian's chromium and chromium-driver (apt-get)"
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
  elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    log "infra/console.sh needs $CHROMIUM and $CHROMEDRIVER: run as root, install sudo, or install the Debian packages chromium and chromium-driver"
    exit 1
  fi
  "${SUDO[@]}" apt-get update
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends chromium chromium-driver fonts-liberation
  if [ ! -x "$CHROMIUM" ] || [ ! -x "$CHROMEDRIVER" ]; then
    log "apt-get installed chromium and chromium-driver, but $CHROMIUM or $CHROMEDRIVER is still missing"
    exit 1
  fi
fi

installed=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("selenium"))' 2>/dev/null || true)
if [ "$installed" != "$SELENIUM_VERSION" ]; then
  log "installing selenium==$SELENIUM_VERSION into .venv"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "selenium==$SELENIUM_VERSION"
fi

log "cargo build --bin warden"
cargo build --bin warden

rm -rf "$WORK" "$SHOTS"
mkdir -p "$WORK" "$SHOTS"
# The seed and the accounts the check signs in with: random passwords, and
# an `agents:run` + `tools:call` key per agent, `wdn_<26-character key
# id>_<secret>`, made here. Written with umask 077: they are secrets.
(umask 077 && "$VENV/bin/python" - "$WORK/seed.json" "$WORK/accounts.json" <<'PY'
import json, secrets, sys

seed_path, accounts_path = sys.argv[1], sys.argv[2]
alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32


def key():
    return "wdn_" + "".join(secrets.choice(alphabet) for _ in range(26)) + "_" + secrets.token_urlsafe(32)


users = {
    "console-admin": ["admin", "approver"],
    "approver-a": ["approver"],
    "requester-a": [],
    "approver-b": ["approver"],
}
passwords = {name: secrets.token_urlsafe(24) for name in users}
# agent id: (type, maturity, workspace, the person its key is for)
agents = {
    "buyer-a": ("purchasing", "INTERN", "alpha", "requester-a"),
    "planner-a": ("planning", "AUTONOMOUS", "alpha", "requester-a"),
    "buyer-b": ("purchasing", "INTERN", "beta", "approver-b"),
}
keys = {agent: key() for agent in agents}
seed = {
    "users": [
        {"username": name, "password": passwords[name], "roles": roles}
        for name, roles in users.items()
    ],
    "workspaces": [
        {"workspace_id": "alpha", "name": "Alpha", "members": ["approver-a", "requester-a"]},
        {"workspace_id": "beta", "name": "Beta", "members": ["approver-b"]},
    ],
    "agents": [
        {"agent_id": agent, "agent_type": kind, "maturity": maturity, "workspaces": [workspace]}
        for agent, (kind, maturity, workspace, _) in agents.items()
    ],
    "tools": [{"name": "pay_invoice", "complexity": 4, "workspaces": ["alpha", "beta"]}],
    "api_keys": [
        {
            "key": keys[agent],
            "owner": agent,
            "scopes": ["agents:run", "tools:call"],
            "rate_limit_per_hour": 100000,
            "for": for_user,
        }
        for agent, (_, _, _, for_user) in agents.items()
    ],
}
accounts = {
    "passwords": passwords,
    "keys": keys,
    "workspaces": {agent: workspace for agent, (_, _, workspace, _) in agents.items()},
}
with open(seed_path, "w") as f:
    json.dump(seed, f, indent=2)
with open(accounts_path, "w") as f:
    json.dump(accounts, f, indent=2)
PY
)

PORT=$(free_port "$VENV/bin/python")
URL="http://127.0.0.1:$PORT"
log "starting warden serve on 127.0.0.1:$PORT (log: target/console/serve.log)"
# The login limit per client IP only: see the comment at the top.
WARDEN_LOGIN_IP_LIMIT=1000/60 \
  "$ROOT/target/debug/warden" serve --addr "127.0.0.1:$PORT" \
  --seed "$WORK/seed.json" >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!

trap 'stop_pid "$SERVE_PID"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_ready "warden serve" "$URL/health" "$SERVE_PID" "$WORK/serve.log" 150 "$VENV/bin/python"

log "console in headless Chromium ($("$CHROMIUM" --version 2>/dev/null || echo chromium)): $URL/console; screenshots in target/console-screenshots/"
"$VENV/bin/python" "$ROOT/infra/check_console.py" \
  --url "$URL" --accounts "$WORK/accounts.json" --screenshots "$SHOTS" \
  --chromium "$CHROMIUM" --chromedriver "$CHROMEDRIVER"
