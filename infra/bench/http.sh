#!/usr/bin/env bash
# Local API throughput: authenticated `GET /auth/sessions` on `warden serve`,
# next to a bare hyper server (infra/bench/bare) answering a fixed JSON body.
#
# The server runs on one core (SERVER_CPU, with TOKIO_WORKER_THREADS=1: the
# `warden` CLI's `#[tokio::main]` is tokio's multi-thread runtime, which that
# variable limits), wrk on another (CLIENT_CPU). Each target gets a fresh
# server, one login, a warm-up run, then RUNS measured runs; the summary gives
# requests/sec, latency avg/p99, non-2xx counts and each warden target's
# ratio to the bare server (mean over runs).
#
# Usage:
#   infra/bench/http.sh [LABEL=]PATH/TO/warden [[LABEL=]PATH/TO/warden ...]
# e.g.
#   infra/bench/http.sh before=/tmp/t-before/release/warden after=target/release/warden
#
# Requires wrk, curl, jq, taskset (util-linux) and cargo (for the bare server
# unless BARE_BIN is given). Every knob is an environment variable:
#   SERVER_CPU=0 CLIENT_CPU=1   cores for server and wrk
#   THREADS=1 CONNECTIONS=32    wrk -t / -c
#   DURATION=15 WARMUP=3 RUNS=2 seconds per run, warm-up seconds, measured runs
#   ROUNDS=1                    repeat the whole sequence (bare, then each
#                               warden) this many times; the means cover every
#                               round. Bare's own rate drifts by up to 10%
#                               between minutes on a shared machine, so
#                               several short rounds give a steadier ratio
#                               than one long one
#   PORT=18080 BARE_PORT=18099  listen ports (127.0.0.1)
#   MAX_LOAD=1.5 LOAD_WAIT=600  before each target, wait (up to LOAD_WAIT s)
#                               for the 1-min load average to drop below
#                               MAX_LOAD; the load seen is reported either way
#   BARE_BIN=...                a prebuilt bare server; else built (release,
#                               under `nice -n 19`) into BARE_TARGET_DIR
#                               (default infra/bench/bare/target)
#   WARDEN_SIGNING_KEY_FILE=... RSA key for `warden serve` (the test key)
#   OUT_DIR=...                 where logs and raw wrk output go (default mktemp)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=infra/bench/lib.sh
. "$here/lib.sh"

SERVER_CPU="${SERVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
THREADS="${THREADS:-1}"
CONNECTIONS="${CONNECTIONS:-32}"
DURATION="${DURATION:-15}"
WARMUP="${WARMUP:-3}"
RUNS="${RUNS:-2}"
ROUNDS="${ROUNDS:-1}"
PORT="${PORT:-18080}"
BARE_PORT="${BARE_PORT:-18099}"
MAX_LOAD="${MAX_LOAD:-1.5}"
LOAD_WAIT="${LOAD_WAIT:-600}"
BARE_TARGET_DIR="${BARE_TARGET_DIR:-$here/bare/target}"
export WARDEN_SIGNING_KEY_FILE="${WARDEN_SIGNING_KEY_FILE:-$here/../../shared/testdata/test-signing-key-1.pem}"
OUT_DIR="${OUT_DIR:-$(mktemp -d -t warden-bench-http.XXXXXX)}"
mkdir -p "$OUT_DIR"

if [ "$#" -eq 0 ]; then
    sed -n '2,30p' "$0" >&2
    exit 2
fi
for tool in wrk curl jq taskset; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}
trap cleanup EXIT INT TERM

load1() { cut -d' ' -f1 /proc/loadavg; }

# Waits until the 1-min load average is below MAX_LOAD (or LOAD_WAIT passes);
# prints the load average line it ends with.
wait_for_quiet() {
    local waited=0
    while awk -v l="$(load1)" -v m="$MAX_LOAD" 'BEGIN { exit !(l >= m) }'; do
        if [ "$waited" -ge "$LOAD_WAIT" ]; then
            echo "warning: load $(load1) still >= $MAX_LOAD after ${LOAD_WAIT}s; measuring anyway" >&2
            break
        fi
        sleep 10
        waited=$((waited + 10))
    done
    cut -d' ' -f1-3 /proc/loadavg
}

# Waits for `port` to accept connections (up to ~10 s).
wait_for_port() {
    local port="$1" i
    for i in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        if [ -n "$server_pid" ] && ! kill -0 "$server_pid" 2>/dev/null; then
            echo "server exited before listening on $port" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "nothing listening on $port" >&2
    return 1
}

# Parses one wrk --latency output file into "rps avg p99 non2xx sockerr".
parse_wrk() {
    awk '
        /^ *Latency +[0-9]/ && !avg { avg = $2 }
        / 99%/                      { p99 = $2 }
        /^Requests\/sec:/           { rps = $2 }
        /Non-2xx or 3xx responses:/ { non2xx = $NF }
        /Socket errors:/            { gsub(/,/, ""); sockerr = $4 + $6 + $8 + $10 }
        END { printf "%s %s %s %d %d\n", rps, avg, p99, non2xx, sockerr }
    ' "$1"
}

results="$OUT_DIR/results.tsv"
: >"$results"

# Runs the warm-up and the measured runs against `url` with optional header.
# Appends "label run rps avg p99 non2xx sockerr load" rows to $results
# (run numbered within the round, $round).
measure() {
    local label="$1" url="$2" header="${3:-}" load run out
    local -a hdr=()
    if [ -n "$header" ]; then hdr=(-H "$header"); fi
    load="$(wait_for_quiet)"
    echo "[$label] load average before runs: $load"
    taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" "${hdr[@]}" "$url" \
        >"$OUT_DIR/$label.warmup.txt"
    for run in $(seq 1 "$RUNS"); do
        load="$(cut -d' ' -f1-3 /proc/loadavg)"
        out="$OUT_DIR/$label.round$round.run$run.txt"
        taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
            "${hdr[@]}" "$url" >"$out"
        echo "[$label] run $run (load before: $load):"
        sed 's/^/    /' "$out"
        printf '%s\t%s\t%s\t%s\n' "$label" "$round.$run" "$(parse_wrk "$out" | tr ' ' '\t')" "$load" >>"$results"
    done
}

if [ -z "${BARE_BIN:-}" ]; then
    echo "building the bare server in $here/bare ..."
    CARGO_TARGET_DIR="$BARE_TARGET_DIR" nice -n 19 \
        cargo build --release --quiet --manifest-path "$here/bare/Cargo.toml"
    BARE_BIN="$BARE_TARGET_DIR/release/warden-bench-bare"
fi

for round in $(seq 1 "$ROUNDS"); do
    echo "--- round $round of $ROUNDS"
    # --- bare hyper server ---------------------------------------------------

    TOKIO_WORKER_THREADS=1 taskset -c "$SERVER_CPU" "$BARE_BIN" "127.0.0.1:$BARE_PORT" \
        >"$OUT_DIR/bare.server.log" 2>&1 &
    server_pid=$!
    wait_for_port "$BARE_PORT"
    code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$BARE_PORT/auth/sessions")"
    [ "$code" = 200 ] || { echo "bare server answered $code" >&2; exit 1; }
    measure bare "http://127.0.0.1:$BARE_PORT/auth/sessions"
    cleanup

    # --- each warden binary -------------------------------------------------
    labels=()
    for arg in "$@"; do
        if [[ "$arg" == *=* ]]; then label="${arg%%=*}"; bin="${arg#*=}"; else label="warden$(( ${#labels[@]} + 1 ))"; bin="$arg"; fi
        labels+=("$label")
        [ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 1; }
        log="$OUT_DIR/$label.server.log"
        TOKIO_WORKER_THREADS=1 taskset -c "$SERVER_CPU" "$bin" serve --addr "127.0.0.1:$PORT" \
            >"$log" 2>&1 &
        server_pid=$!
        wait_for_port "$PORT"
        # One login per server (the limit is 5 per IP per minute); tokens live 15
        # minutes, far longer than WARMUP + RUNS * DURATION at the defaults.
        token="$(admin_token "$label" "$log" "$PORT" 50 0.1)"
        url="http://127.0.0.1:$PORT/auth/sessions"
        code="$(curl -s -o "$OUT_DIR/$label.sessions.json" -w '%{http_code}' -H "Authorization: Bearer $token" "$url")"
        [ "$code" = 200 ] || { echo "[$label] GET /auth/sessions answered $code" >&2; exit 1; }
        echo "[$label] $bin: GET /auth/sessions -> 200 $(head -c 120 "$OUT_DIR/$label.sessions.json")"
        measure "$label" "$url" "Authorization: Bearer $token"
        cleanup
    done
done

# --- summary -----------------------------------------------------------------
echo
echo "server on CPU $SERVER_CPU (TOKIO_WORKER_THREADS=1), wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s on CPU $CLIENT_CPU; raw output in $OUT_DIR"
echo
echo "| target | run | req/s | latency avg | latency p99 | non-2xx | socket errors | load avg before |"
echo "|---|---|---|---|---|---|---|---|"
awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8 }' "$results"
echo
awk -F'\t' '
    { sum[$1] += $3; n[$1]++; if (!($1 in seen)) { order[++k] = $1; seen[$1] = 1 } }
    END {
        bare = sum["bare"] / n["bare"]
        printf "bare mean: %.0f req/s\n", bare
        for (i = 1; i <= k; i++) {
            l = order[i]; if (l == "bare") continue
            m = sum[l] / n[l]
            printf "%s mean: %.0f req/s, ratio to bare %.3f\n", l, m, m / bare
        }
    }
' "$results"
