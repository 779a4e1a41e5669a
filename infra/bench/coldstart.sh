#!/usr/bin/env bash
# Cold starts on moto: init and first-request time of the login function
# (POST /auth/login) and the revoke function (GET /auth/sessions, the
# bearer-token check's DynamoDB reads) against the hello-world
# `lambda_runtime` binary (infra/bench/hello), all release builds for this
# machine, each run a fresh process (infra/coldstart.py).
#
# It starts moto (infra/moto_server.py) on a free loopback port, creates the
# tables (`warden tables create`), the signing key in moto's KMS (RSA_2048),
# the API-key pepper in its Secrets Manager and one user, and runs the
# functions in production mode with WARDEN_SIGNING_KEY_ARN, so init includes
# the SDK setup, the key set read and GetPublicKey (and the pepper read for
# login, which also serves introspection), and every login one kms:Sign.
# moto is plain HTTP on loopback: see infra/coldstart.py for what TLS adds on
# Lambda and what a DynamoDB call made at init saves the first request.
#
# Usage:
#   infra/bench/coldstart.sh            # build what is missing, then measure
# Knobs (environment):
#   RUNS=20                 fresh processes per target
#   BIN_DIR=target/release  where login and revoke are (built if missing)
#   WARDEN_CLI=...          the warden command (default target/debug/warden,
#                           built if missing)
#   HELLO_TARGET_DIR=...    the hello crate's target dir
#                           (default infra/bench/hello/target)
#   NO_BUILD=1              use the binaries as they are
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
RUNS="${RUNS:-20}"
BIN_DIR="${BIN_DIR:-$root/target/release}"
WARDEN_CLI="${WARDEN_CLI:-$root/target/debug/warden}"
HELLO_TARGET_DIR="${HELLO_TARGET_DIR:-$here/hello/target}"
VENV="${VENV:-$root/.venv}"
HELLO_BIN="$HELLO_TARGET_DIR/release/hello"

if [ -z "${NO_BUILD:-}" ]; then
    [ -x "$BIN_DIR/login" ] && [ -x "$BIN_DIR/revoke" ] \
        || (cd "$root" && cargo build --release -p warden-login -p warden-revoke)
    [ -x "$WARDEN_CLI" ] || (cd "$root" && cargo build -p warden-cli --bin warden)
    (cd "$here/hello" && CARGO_TARGET_DIR="$HELLO_TARGET_DIR" cargo build --release --quiet)
fi

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
    AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
port="$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
endpoint="http://127.0.0.1:$port"
moto_log="$(mktemp -t warden-coldstart-moto.XXXXXX)"
"$VENV/bin/python" "$root/infra/moto_server.py" 127.0.0.1 "$port" >"$moto_log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; rm -f "$moto_log" "${response:-}"' EXIT
for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.1
done

"$WARDEN_CLI" tables create --endpoint "$endpoint" >/dev/null
read -r key_arn pepper_arn < <("$VENV/bin/python" - "$endpoint" <<'EOF'
import secrets, sys, boto3
kms = boto3.client("kms", endpoint_url=sys.argv[1])
key = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY",
                     Tags=[{"TagKey": "warden:signing", "TagValue": "coldstart"}])
sm = boto3.client("secretsmanager", endpoint_url=sys.argv[1])
pepper = sm.create_secret(Name="warden/pepper", SecretString=secrets.token_urlsafe(48))
print(key["KeyMetadata"]["Arn"], pepper["ARN"])
EOF
)
password="coldstart-$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(18))')"
printf '%s\n' "$password" | "$WARDEN_CLI" users add coldstart --role admin --endpoint "$endpoint" >/dev/null

export AWS_ENDPOINT_URL="$endpoint" WARDEN_ENV=production WARDEN_SIGNING_KEY_ARN="$key_arn" \
    WARDEN_API_KEY_PEPPER_ARN="$pepper_arn" WARDEN_ISSUER=https://auth.example.com \
    WARDEN_LOGIN_IP_LIMIT=1000/60 RUST_LOG="${RUST_LOG:-warn}"
login_body="{\"username\":\"coldstart\",\"password\":\"$password\"}"
response="$(mktemp -t warden-coldstart-response.XXXXXX)"

# One login for a token the revoke runs present (its session stays live).
"$VENV/bin/python" "$root/infra/coldstart.py" "$BIN_DIR/login" 1 \
    --request 'POST /auth/login' --body "$login_body" --dump-response "$response" >/dev/null
token="$("$VENV/bin/python" -c 'import json, sys; print(json.loads(json.load(open(sys.argv[1]))["body"])["access_token"])' "$response")"

echo "cold starts on moto ($endpoint), $RUNS fresh processes each, $(uname -m) release builds"
"$VENV/bin/python" "$root/infra/coldstart.py" "$HELLO_BIN" "$RUNS" --label "hello-world" \
    --request 'POST /auth/login' --body "$login_body"
"$VENV/bin/python" "$root/infra/coldstart.py" "$BIN_DIR/login" "$RUNS" --label "login (POST /auth/login)" \
    --request 'POST /auth/login' --body "$login_body"
"$VENV/bin/python" "$root/infra/coldstart.py" "$BIN_DIR/revoke" "$RUNS" --label "revoke (GET /auth/sessions)" \
    --request 'GET /auth/sessions' --header "authorization: Bearer $token"
