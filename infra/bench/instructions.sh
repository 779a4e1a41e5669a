#!/usr/bin/env bash
# User-space instructions per request, under callgrind: an authenticated
# `GET /auth/sessions` on `warden serve` (each binary given), next to the bare
# hyper server (infra/bench/bare). Instruction counts do not drift with the
# machine's load the way requests per second do (http.sh), so they tell
# whether a change to the request path made it cheaper; they leave out the
# kernel's TCP work, which is most of what bare costs.
#
# Caveat: under valgrind the CPU reports no SHA extensions, so sha2 runs its
# portable code and HMAC-SHA256 counts several times what it costs natively.
#
# Usage:
#   infra/bench/instructions.sh [LABEL=]PATH/TO/warden [...]
#
# Requires valgrind (callgrind_control, callgrind_annotate), wrk, curl, jq.
# Knobs: DURATION=10 (seconds measured per target), PORT=18182,
# BARE_PORT=18198, BARE_BIN (else infra/bench/bare/target/release/...,
# built if missing).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=infra/bench/lib.sh
. "$here/lib.sh"
DURATION="${DURATION:-10}"
PORT="${PORT:-18182}"
BARE_PORT="${BARE_PORT:-18198}"
BARE_BIN="${BARE_BIN:-$here/bare/target/release/warden-bench-bare}"
export WARDEN_SIGNING_KEY_FILE="${WARDEN_SIGNING_KEY_FILE:-$here/../../shared/testdata/test-signing-key-1.pem}"
OUT_DIR="$(mktemp -d -t warden-bench-instructions.XXXXXX)"

if [ "$#" -eq 0 ]; then
    sed -n '2,18p' "$0" >&2
    exit 2
fi
for tool in valgrind callgrind_control callgrind_annotate wrk curl jq; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
if [ ! -x "$BARE_BIN" ]; then
    CARGO_TARGET_DIR="$here/bare/target" cargo build --release --quiet \
        --manifest-path "$here/bare/Cargo.toml"
fi

pid=""
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; pid=""; }
trap cleanup EXIT INT TERM

# Measures the running server `pid` (callgrind output prefix `out`) under
# wrk on `url` with optional `header`; prints "requests instructions".
measure() {
    local out="$1" url="$2" header="${3:-X-Bench: 1}" n ir
    wrk -t1 -c4 -d2s -H "$header" "$url" >/dev/null
    callgrind_control -i on "$pid" >/dev/null 2>&1
    n="$(wrk -t1 -c4 -d"${DURATION}s" -H "$header" "$url" | awk '/requests in/ {print $1}')"
    callgrind_control -i off "$pid" >/dev/null 2>&1
    callgrind_control -d "$pid" >/dev/null 2>&1
    sleep 1
    ir="$(for f in "$out"*; do callgrind_annotate "$f" 2>/dev/null; done |
        awk '/PROGRAM TOTALS/ && $1 ~ /^[0-9]/ { gsub(",", "", $1); s += $1 } END { print s + 0 }')"
    echo "$n $ir"
}

report() { # label requests instructions
    awk -v l="$1" -v n="$2" -v i="$3" 'BEGIN { printf "%-12s %8d requests  %14d instructions  %8.0f per request\n", l, n, i, i / n }'
}

TOKIO_WORKER_THREADS=1 valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$OUT_DIR/bare.cg" "$BARE_BIN" "127.0.0.1:$BARE_PORT" \
    >"$OUT_DIR/bare.log" 2>&1 &
pid=$!
sleep 3
read -r n ir < <(measure "$OUT_DIR/bare.cg" "http://127.0.0.1:$BARE_PORT/auth/sessions")
report bare "$n" "$ir"
cleanup

for arg in "$@"; do
    if [[ "$arg" == *=* ]]; then label="${arg%%=*}"; bin="${arg#*=}"; else label="$(basename "$arg")"; bin="$arg"; fi
    log="$OUT_DIR/$label.log"
    TOKIO_WORKER_THREADS=1 valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file="$OUT_DIR/$label.cg" "$bin" serve --addr "127.0.0.1:$PORT" \
        >"$log" 2>&1 &
    pid=$!
    token="$(admin_token "$label" "$log" "$PORT" 600 0.5)"
    read -r n ir < <(measure "$OUT_DIR/$label.cg" "http://127.0.0.1:$PORT/auth/sessions" "Authorization: Bearer $token")
    report "$label" "$n" "$ir"
    cleanup
done
echo "callgrind output in $OUT_DIR"
