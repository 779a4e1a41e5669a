#!/usr/bin/env python3
"""Measures a Lambda binary's init time: from process start to its first
`GET /2018-06-01/runtime/invocation/next` on a local stand-in for the Lambda
Runtime API. Run it beside a hello-world `lambda_runtime` binary built with
the same profile to compare.

    python3 infra/coldstart.py target/release/login [runs]

The function's environment (WARDEN_*, AWS_*) is taken from the caller, so
point AWS_ENDPOINT_URL at the emulator and WARDEN_JWT_SECRET_ARN at a secret
in it to include the real cold-start work (SDK setup, secret fetch).
"""
import http.server
import os
import statistics
import subprocess
import sys
import threading
import time

first_poll = threading.Event()


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            first_poll.set()
            # Hold the poll: the measurement ends here.
            time.sleep(5)
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    binary = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{server.server_address[1]}"
    env.setdefault("AWS_LAMBDA_FUNCTION_NAME", "coldstart")
    env.setdefault("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
    env.setdefault("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    env.setdefault("AWS_LAMBDA_LOG_STREAM_NAME", "coldstart")
    env.setdefault("AWS_LAMBDA_LOG_GROUP_NAME", "coldstart")
    times = []
    for _ in range(runs):
        first_poll.clear()
        start = time.perf_counter()
        proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not first_poll.wait(10):
            proc.kill()
            sys.exit(f"{binary} never polled for an invocation: {proc.stderr.read().decode()[-2000:]}")
        times.append((time.perf_counter() - start) * 1000)
        proc.kill()
        proc.wait()
    print(f"{os.path.basename(binary)}: init median {statistics.median(times):.1f} ms, "
          f"min {min(times):.1f} ms, max {max(times):.1f} ms over {runs} runs")


if __name__ == "__main__":
    main()
