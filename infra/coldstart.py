#!/usr/bin/env python3
"""Measures a Lambda binary's cold start on a local stand-in for the Lambda
Runtime API:

- init: from process start to its first
  `GET /2018-06-01/runtime/invocation/next` (what Lambda bills as Init);
- first request: from handing it one invocation (an API Gateway HTTP API,
  payload 2.0, event) to its `POST .../response` (the first request after a
  cold start, where clients and connections are first used);
- second request: the next invocation in the same process, warm, for
  comparison (--invocations 1 skips it);
- cold: start to first answer, what the first caller waits for beyond
  Lambda's own work.

Each run starts a fresh process and kills it after its last response. Run it
beside the hello-world `lambda_runtime` binary (infra/bench/hello, same
profile) to compare; infra/bench/coldstart.sh does the whole comparison on
moto.

    python3 infra/coldstart.py BINARY [RUNS] [--request 'POST /auth/login']
        [--body JSON] [--header 'name: value' ...] [--dump-response FILE]

Without --request only init is measured. Each run's event has its own
source IP (10.0.x.y), so per-IP rate limits do not trip over the runs.
The function's environment (WARDEN_*, AWS_*) is taken from the caller, so
point AWS_ENDPOINT_URL at the emulator and WARDEN_SIGNING_KEY_ARN at a KMS
key in it to include the real cold-start work (SDK setup, the key set read
and GetPublicKey, the first DynamoDB call).

What this cannot show: the emulator is plain HTTP on loopback, so opening a
connection costs one local TCP handshake (~0.1 ms). On Lambda the first call
to a regional endpoint opens a TLS connection: DNS lookup, TCP connect
(1 round trip), TLS 1.3 handshake (1 round trip, plus the certificate
chain's verification, which is CPU: a few ms at full speed, far more on a
small function's CPU share), then the request (1 round trip). A DynamoDB call
made during init (which runs with full CPU) leaves a pooled, warm connection
behind, so the first request pays 1 round trip instead of DNS + 3 round
trips + the handshake's CPU; the SDK's connection pool keeps it for later
requests while the environment lives (idle connections time out after 90 s,
the pool's default, so a long-idle function reconnects). Secrets Manager is
another endpoint: its connection is only used at init.
"""
import argparse
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time


class Run:
    """What one run's Runtime API saw; reset per run."""

    def __init__(self, number, event, invocations):
        self.number = number
        self.event = event
        self.invocations = invocations if event is not None else 0
        self.lock = threading.Lock()
        self.polled = threading.Event()
        self.answered = threading.Event()
        self.t_poll = None
        # Per invocation: when it was handed over, when it was answered.
        self.t_sent = []
        self.t_answers = []
        self.answers = []


current = None


def request_id(run, i):
    return f"coldstart-{run.number}-{i}"


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        run = current
        if run is None or not self.path.endswith("/runtime/invocation/next"):
            self.reply(404)
            return
        now = time.perf_counter()
        with run.lock:
            first = run.t_poll is None
            if first:
                run.t_poll = now
            i = len(run.t_sent)
            deliver = i < run.invocations
            if deliver:
                run.t_sent.append(now)
        if first:
            run.polled.set()
        if not deliver:
            # Init-only, or the poll after the last invocation: hold it.
            time.sleep(30)
            self.close_connection = True
            return
        body = json.dumps(run.event).encode()
        deadline = int(time.time() * 1000) + 10_000
        self.reply(200, body, [
            ("Content-Type", "application/json"),
            ("Lambda-Runtime-Aws-Request-Id", request_id(run, i)),
            ("Lambda-Runtime-Deadline-Ms", str(deadline)),
            ("Lambda-Runtime-Invoked-Function-Arn",
             "arn:aws:lambda:us-east-1:123456789012:function:coldstart"),
            ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
        ])

    def do_POST(self):
        body = self.read_body()
        run = current
        self.reply(202, b"{}", [("Content-Type", "application/json")])
        if run is None:
            return
        now = time.perf_counter()
        with run.lock:
            i = len(run.t_answers)
            if self.path.endswith(f"/invocation/{request_id(run, i)}/response"):
                outcome = "response"
            elif self.path.endswith(f"/invocation/{request_id(run, i)}/error"):
                outcome = "error"
            elif self.path.endswith("/init/error"):
                outcome = "init error"
            else:
                return
            run.t_answers.append(now)
            run.answers.append((outcome, body))
            done = outcome != "response" or len(run.t_answers) >= run.invocations
        if done:
            run.answered.set()

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A killed process's connections end abruptly; that is expected.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def api_gateway_event(request, body, headers, number):
    method, _, path = request.partition(" ")
    path, _, query = path.partition("?")
    ip = f"10.0.{number // 250}.{number % 250 + 1}"
    headers = {k.lower(): v for k, v in headers.items()}
    headers.setdefault("user-agent", "coldstart.py")
    if body is not None:
        headers.setdefault("content-type", "application/json")
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "coldstart",
            "domainName": "coldstart.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "coldstart",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": ip,
                "userAgent": headers["user-agent"],
            },
            "requestId": f"coldstart-{number}-{int(now * 1000)}",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": body,
        "isBase64Encoded": False,
    }


def tail(log):
    log.seek(0)
    return log.read()[-4000:].decode(errors="replace")


def summary(name, values):
    return (f"{name} median {statistics.median(values):.1f} ms, "
            f"min {min(values):.1f}, max {max(values):.1f}")


def main():
    global current
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("binary")
    p.add_argument("runs", nargs="?", type=int, default=10)
    p.add_argument("--request", help="'METHOD /path' of one API Gateway HTTP API event")
    p.add_argument("--body", help="the event's body (JSON text)")
    p.add_argument("--header", action="append", default=[], help="'name: value', repeatable")
    p.add_argument("--dump-response", help="write the last run's function response here")
    p.add_argument("--label", help="name in the output (default: the binary's)")
    p.add_argument("--invocations", type=int, default=2,
                   help="invocations per process (default 2: the first request, "
                        "then a warm one for comparison)")
    args = p.parse_args()

    env = dict(os.environ)
    env.setdefault("AWS_LAMBDA_FUNCTION_NAME", "coldstart")
    env.setdefault("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
    env.setdefault("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    env.setdefault("AWS_LAMBDA_LOG_STREAM_NAME", "coldstart")
    env.setdefault("AWS_LAMBDA_LOG_GROUP_NAME", "coldstart")
    headers = {}
    for h in args.header:
        k, _, v = h.partition(":")
        headers[k.strip()] = v.strip()

    inits, firsts, warms, colds, statuses = [], [], [], [], []
    for n in range(args.runs):
        event = (api_gateway_event(args.request, args.body, headers, n)
                 if args.request else None)
        run = Run(n, event, max(1, args.invocations))
        current = run
        # A Runtime API of its own per run: a killed process's last poll,
        # still in flight, cannot take the next run's invocation.
        server = Server(("127.0.0.1", 0), RuntimeApi)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{server.server_address[1]}"
        start = time.perf_counter()
        log = tempfile.TemporaryFile()
        proc = subprocess.Popen([args.binary], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            if not run.polled.wait(10):
                sys.exit(f"{args.binary} never polled for an invocation: {tail(log)}")
            inits.append((run.t_poll - start) * 1000)
            if event is not None:
                if not run.answered.wait(20):
                    sys.exit(f"{args.binary} never answered the invocations: {tail(log)}")
                for outcome, body in run.answers:
                    if outcome != "response":
                        sys.exit(f"{args.binary}: {outcome}: {body.decode(errors='replace')}")
                    try:
                        statuses.append(json.loads(body).get("statusCode"))
                    except (ValueError, AttributeError):
                        statuses.append(None)
                firsts.append((run.t_answers[0] - run.t_sent[0]) * 1000)
                colds.append((run.t_answers[0] - start) * 1000)
                if len(run.t_answers) > 1:
                    warms.append((run.t_answers[1] - run.t_sent[1]) * 1000)
                if args.dump_response:
                    with open(args.dump_response, "wb") as f:
                        f.write(run.answers[0][1])
        finally:
            proc.kill()
            proc.wait()
            log.close()
            server.shutdown()
            server.server_close()
            current = None

    label = args.label or os.path.basename(args.binary)
    parts = [summary("init", inits)]
    if firsts:
        parts += [summary("first request", firsts)]
        if warms:
            parts += [summary("second request", warms)]
        parts += [summary("cold (start to first answer)", colds)]
        codes = sorted({str(s) for s in statuses})
        parts.append(f"status {'/'.join(codes)}")
    print(f"{label}: " + "; ".join(parts) + f" over {args.runs} runs")


if __name__ == "__main__":
    main()
