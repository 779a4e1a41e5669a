# Shared by infra/test.sh and infra/schemathesis.sh (sourced, not run):
# starting a local server in the background, waiting for it, stopping it.

log() { printf '==> %s\n' "$*" >&2; }

# Prints a free loopback port, asked of the OS through `python`.
free_port() {
  "$1" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until `url` answers (through `python`, every 0.2 s, at most `tries`
# times) while the process `pid` lives. If it exits first, prints its
# `logfile` and fails, naming it `what`.
wait_ready() {
  local what="$1" url="$2" pid="$3" logfile="$4" tries="$5" python="$6"
  for _ in $(seq 1 "$tries"); do
    if "$python" -c "import urllib.request; urllib.request.urlopen('$url', timeout=1)" >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$logfile" >&2
      log "$what exited before it was ready"
      exit 1
    fi
    sleep 0.2
  done
}

# Stops the background process `pid` if it still runs, and reaps it.
stop_pid() {
  if kill -0 "$1" 2>/dev/null; then
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
