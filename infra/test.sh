#!/usr/bin/env bash
# The one test command: formatting, lints, every test (including the ones
# that talk to a real DynamoDB-compatible server through the AWS SDK), and
# the SAM template's checks (cfn-lint, sam validate --lint, checkov), and the
# HTTP contract's (infra/openapi.yaml: redocly lint, every template route
# documented, schemathesis against warden serve, see infra/schemathesis.sh),
# and the console's browser tests (headless Chromium driving GET /console
# against warden serve, see infra/console.sh).
#
# On first run it creates .venv and installs moto's server and cfn-lint from
# PyPI, and the SAM CLI and checkov into .venv-sam and .venv-checkov
# (infra/console.sh adds selenium to .venv, and Debian's chromium and
# chromium-driver when they are missing). It
# starts moto on a free loopback port with dummy credentials, and stops it on
# every exit path.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
MOTO_VERSION=5.2.5
CFN_LINT_VERSION=1.58.0
OPENAPI_VALIDATOR_VERSION=0.9.0
REDOCLY_VERSION=2.77.0

# shellcheck source=infra/lib.sh
. "$ROOT/infra/lib.sh"

# rust-toolchain.toml pins the toolchain. rustup installs it on first use,
# unless automatic installs are off (RUSTUP_AUTO_INSTALL=0): install it here.
if command -v rustup >/dev/null 2>&1; then
  TOOLCHAIN=$(sed -n 's/^channel = "\(.*\)"$/\1/p' rust-toolchain.toml)
  if ! rustup toolchain list | grep -q "^$TOOLCHAIN-"; then
    log "installing the pinned Rust toolchain $TOOLCHAIN"
    rustup toolchain install "$TOOLCHAIN" --profile minimal --component rustfmt,clippy
  fi
fi

# A run in CI builds everything once: incremental caches (gigabytes under
# target/debug/incremental) only speed up the next build, which CI never has.
if [ -n "${CI:-}" ]; then
  export CARGO_INCREMENTAL=0
fi

# A fresh build of every test needs about 7 GB under target/ (see
# [profile.dev] in Cargo.toml). Say so before a linker dies of a full disk.
mkdir -p "$ROOT/target"
FREE_KB=$(df -Pk "$ROOT/target" | awk 'NR == 2 { print $4 }')
if [ "${FREE_KB:-0}" -lt $((8 * 1024 * 1024)) ]; then
  log "warning: only $((FREE_KB / 1024 / 1024)) GB free for target/; a fresh build of the whole suite needs about 7 GB"
fi

# Node.js runs the OpenAPI lint (npx @redocly/cli): say so now, not after
# the whole test suite.
if ! command -v npx >/dev/null 2>&1; then
  log "infra/test.sh needs Node.js (npx) for the OpenAPI lint; install Node.js 20 or later"
  exit 1
fi

if ! "$VENV/bin/python" -c "import moto, cfnlint, flask, openapi_spec_validator" >/dev/null 2>&1 \
   || [ "$("$VENV/bin/python" -c 'import moto; print(moto.__version__)' 2>/dev/null)" != "$MOTO_VERSION" ]; then
  log "installing moto[server]==$MOTO_VERSION, cfn-lint==$CFN_LINT_VERSION and openapi-spec-validator into .venv"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "moto[server]==$MOTO_VERSION" "cfn-lint==$CFN_LINT_VERSION" \
    "openapi-spec-validator==$OPENAPI_VALIDATOR_VERSION"
fi

# The SAM CLI (sam validate --lint) and checkov, pinned, each in its own
# venv: both pin boto3 and friends, differently from moto and from each
# other. Installed on first run (about 1.5 minutes each).
SAM_VENV="$ROOT/.venv-sam"
SAM_CLI_VERSION=1.170.0
CHECKOV_VENV="$ROOT/.venv-checkov"
CHECKOV_VERSION=3.3.30
installed() { "$1/bin/python" -c "import importlib.metadata as m; print(m.version('$2'))" 2>/dev/null || true; }
if [ "$(installed "$SAM_VENV" aws-sam-cli)" != "$SAM_CLI_VERSION" ]; then
  log "installing aws-sam-cli==$SAM_CLI_VERSION into .venv-sam"
  python3 -m venv "$SAM_VENV"
  "$SAM_VENV/bin/pip" install --quiet --disable-pip-version-check "aws-sam-cli==$SAM_CLI_VERSION"
fi
# cargo-lambda (it brings zig, the cross-linker) beside the SAM CLI, for
# `sam build`'s rust-cargolambda builds below.
CARGO_LAMBDA_VERSION=1.9.2
if [ "$(installed "$SAM_VENV" cargo-lambda)" != "$CARGO_LAMBDA_VERSION" ]; then
  log "installing cargo-lambda==$CARGO_LAMBDA_VERSION into .venv-sam"
  "$SAM_VENV/bin/pip" install --quiet --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
fi
if [ "$(installed "$CHECKOV_VENV" checkov)" != "$CHECKOV_VERSION" ]; then
  log "installing checkov==$CHECKOV_VERSION into .venv-checkov"
  python3 -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
fi

# Dummy credentials: nothing here ever talks to AWS itself.
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_DEFAULT_REGION=us-east-1
export AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN

PORT=$(free_port "$VENV/bin/python")
mkdir -p target
MOTO_LOG="$ROOT/target/moto.log"
log "starting moto on 127.0.0.1:$PORT (log: target/moto.log)"
# moto's server, handling one request at a time (see infra/moto_server.py).
"$VENV/bin/python" "$ROOT/infra/moto_server.py" 127.0.0.1 "$PORT" >"$MOTO_LOG" 2>&1 &
MOTO_PID=$!

trap 'stop_pid "$MOTO_PID"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_ready moto "http://127.0.0.1:$PORT/moto-api/" "$MOTO_PID" "$MOTO_LOG" 100 "$VENV/bin/python"

export WARDEN_TEST_AWS_ENDPOINT="http://127.0.0.1:$PORT"
# Tests that need the emulator fail, rather than skip, when it is missing.
export WARDEN_REQUIRE_AWS_TESTS=1

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
log "cargo test"
TEST_LOG="$ROOT/target/test-output.log"
# The black-box suite writes here what every action was sent and answered.
export WARDEN_ACTION_EXAMPLES="$ROOT/target/action-examples.json"
rm -f "$WARDEN_ACTION_EXAMPLES"
cargo test --workspace 2>&1 | tee "$TEST_LOG"
log "cfn-lint template.yaml"
"$VENV/bin/cfn-lint" template.yaml
# What moto cannot enforce (it runs neither key policies nor IAM): the
# signing key, its policy, the functions' KMS and SSM grants, the issuer.
log "template.yaml: signing key, key policy, IAM and issuer rules"
"$VENV/bin/python" infra/check_template.py template.yaml
# Offline: SAM's own translation of the template, then cfn-lint on it; no
# AWS call (the dummy credentials above), no telemetry.
log "sam validate --lint"
SAM_CLI_TELEMETRY=0 "$SAM_VENV/bin/sam" validate --lint --template-file template.yaml
# What `sam deploy` would ask (SAM's own check of every API event's
# authentication), the parameters samconfig.toml and the README answer, and
# infra/moto-stack.yaml's outputs against template.yaml's.
log "sam deploy asks nothing: authentication, parameters, samconfig.toml; the stack outputs the CLI reads"
SAM_CLI_TELEMETRY=0 "$SAM_VENV/bin/python" infra/check_deploy.py
# One function built as `sam build` builds it for a deploy (cargo lambda,
# arm64, release), with samconfig.toml's settings, standard input closed:
# a question (a beta feature to accept) or a failing build stops here.
log "sam build ConsoleFunction (release, arm64, through cargo lambda; no prompt)"
PATH="$SAM_VENV/bin:$PATH" SAM_CLI_TELEMETRY=0 \
  "$SAM_VENV/bin/sam" build ConsoleFunction --build-dir target/sam-build </dev/null
test -s target/sam-build/ConsoleFunction/bootstrap
# Every skipped check is in infra/checkov.yaml, with its reason.
log "checkov template.yaml"
"$CHECKOV_VENV/bin/checkov" -f template.yaml --framework cloudformation --config-file infra/checkov.yaml
# The JWT-authorizer example, a plain CloudFormation template of its own;
# its skipped checks are in infra/examples/checkov.yaml, with their reasons.
log "cfn-lint infra/examples/jwt-authorizer.yaml"
"$VENV/bin/cfn-lint" infra/examples/jwt-authorizer.yaml
log "checkov infra/examples/jwt-authorizer.yaml"
"$CHECKOV_VENV/bin/checkov" -f infra/examples/jwt-authorizer.yaml --framework cloudformation \
  --config-file infra/examples/checkov.yaml
log "infra/openapi.yaml is valid OpenAPI 3.1"
"$VENV/bin/openapi-spec-validator" infra/openapi.yaml
log "every action's request and job match infra/openapi.yaml"
"$VENV/bin/python" infra/check_action_examples.py infra/openapi.yaml "$WARDEN_ACTION_EXAMPLES"
# redocly.yaml: the one rule turned off, and why.
log "redocly lint infra/openapi.yaml"
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
  npx --yes "@redocly/cli@$REDOCLY_VERSION" lint infra/openapi.yaml
log "infra/openapi.yaml documents every route of template.yaml"
"$VENV/bin/python" infra/check_routes.py template.yaml infra/openapi.yaml
# warden serve on the embedded store, against the spec (installs the pinned
# schemathesis into .venv on first run; stops the server on every exit path).
"$ROOT/infra/schemathesis.sh"
log "console in a real browser: sign in, approve (job SUCCESS) and reject, the kill switch, XSS and invisible characters run nothing, workspace isolation, health chart, audit, sessions and sign-out, a token refreshed after a 401, a phone's screen, no request off the server, every page under 200 ms (screenshots: target/console-screenshots/)"
# Installs chromium, chromium-driver and selenium when missing; stops its
# warden serve and every browser on every exit path.
"$ROOT/infra/console.sh"
log "all checks passed"
# One closing line with the totals of every test binary above.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$TEST_LOG"
