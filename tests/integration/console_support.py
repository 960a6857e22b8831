"""Helpers of the console's integration and browser tests: a userstream-console
process of our own against the session's stack, an HTTP client with a
session cookie, and a minimal W3C WebDriver client for chromedriver.

The console under test runs from the build tree with a password and a
metrics token made here (mode 0600), on the stack's US_CONSOLE_PORT when that
is free (so `./userstream counts` reads it), else on another free port.
"""

from __future__ import annotations

import base64
import contextlib
import http.cookiejar
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONSOLE_BIN = os.path.join(ROOT, "build", "src", "console", "userstream-console")


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are answers to check, not to follow."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Console:
    """A running userstream-console of the test, and a logged-in client."""

    def __init__(self, stack, extra_env=None, port=None):
        self.stack = stack
        self.dir = tempfile.mkdtemp(prefix="console-it-")
        self.password = secrets.token_urlsafe(24)
        self.token = secrets.token_urlsafe(24)
        self.password_file = self._secret("console-password", self.password)
        self.token_file = self._secret("console-metrics-token", self.token)
        bind = stack["US_BIND"]
        want = int(stack["US_CONSOLE_PORT"])
        self.port = port or (want if port_free(bind, want) else free_port(bind))
        self.url = f"http://{bind}:{self.port}"
        env = dict(stack.env)
        env.update({"US_CONSOLE_PORT": str(self.port), "US_CONSOLE_PASSWORD_FILE": self.password_file,
                    "US_CONSOLE_METRICS_TOKEN_FILE": self.token_file, "US_CONSOLE_COUNT_INTERVAL_S": "1",
                    "US_CONSOLE_SCAN_INTERVAL_S": "5", "US_CONSOLE_LOGIN_DELAY_MS": "1000"})
        env.update(extra_env or {})
        self.env = env
        self.log = open(os.path.join(self.dir, "console.log"), "w")
        self.proc = subprocess.Popen([CONSOLE_BIN], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.jar = http.cookiejar.CookieJar()
        self.opener = self.new_opener()
        self._wait_up()

    def new_opener(self, jar=None):
        self.jar = jar if jar is not None else http.cookiejar.CookieJar()
        return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def _secret(self, name, value):
        path = os.path.join(self.dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value)
        return path

    def _wait_up(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"console exited {self.proc.returncode}: {self.read_log()}")
            try:
                if self.request("GET", "/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"console did not answer /health: {self.read_log()}")

    def read_log(self) -> str:
        with open(os.path.join(self.dir, "console.log")) as f:
            return f.read()

    def request(self, method, path, data=None, headers=None, cookies=True):
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        opener = self.opener if cookies else urllib.request.build_opener(_NoRedirect())
        try:
            with opener.open(req, timeout=330) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)

    def login(self, password=None):
        body = urllib.parse.urlencode({"password": password or self.password}).encode()
        return self.request("POST", "/login", data=body)

    def get_json(self, path):
        status, body, _ = self.request("GET", path)
        assert status == 200, (path, status, body[:500])
        return json.loads(body)

    def wait_round(self, after: float | None = None, timeout=120):
        """The pipeline document of a round that started after `after`."""
        after = time.time() if after is None else after
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            doc = self.get_json("/api/pipeline")
            if doc.get("time", 0) > after:
                return doc
            time.sleep(0.5)
        raise AssertionError("no collection round")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class WebDriver:
    """The few W3C WebDriver commands the browser test needs, spoken to
    chromedriver over HTTP (the protocol Selenium speaks too)."""

    def __init__(self, chromium: str, chromedriver: str, profile_dir: str):
        self.port = free_port("127.0.0.1")
        self.proc = subprocess.Popen([chromedriver, f"--port={self.port}"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                self._call("GET", "/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                f"--user-data-dir={profile_dir}", "--window-size=1440,1000"]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}}
        self.session = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            # Generous: on a loaded machine a starved browser answers late.
            with urllib.request.urlopen(req, timeout=600) as r:
                return json.loads(r.read() or b"{}").get("value")
        except urllib.error.HTTPError as e:
            raise AssertionError(f"webdriver {method} {path}: {e.code} {e.read()[:500]!r}") from None

    def cmd(self, method, path, body=None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def get(self, url):
        self.cmd("POST", "/url", {"url": url})

    def find(self, css):
        v = self.cmd("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(v.values()))

    def find_all(self, css):
        return [next(iter(v.values())) for v in self.cmd("POST", "/elements", {"using": "css selector", "value": css})]

    def type(self, elem, text):
        self.cmd("POST", f"/element/{elem}/value", {"text": text})

    def click(self, elem):
        self.cmd("POST", f"/element/{elem}/click", {})

    def text(self, elem) -> str:
        return self.cmd("GET", f"/element/{elem}/text")

    def keys(self, text):
        """Key presses sent to the page (the keyboard shortcuts, which a
        focused form field keeps for itself: focus leaves it first)."""
        self.script("if (document.activeElement) document.activeElement.blur();")
        actions = [{"type": "keyDown", "value": ch} for ch in text] + [{"type": "keyUp", "value": ch} for ch in text]
        self.cmd("POST", "/actions", {"actions": [{"type": "key", "id": "kbd", "actions": actions}]})
        self.cmd("DELETE", "/actions")

    def script(self, js, *args):
        return self.cmd("POST", "/execute/sync", {"script": js, "args": list(args)})

    def url(self) -> str:
        return self.cmd("GET", "/url")

    def screenshot(self, path):
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.cmd("GET", "/screenshot")))

    def browser_log(self) -> list[dict]:
        return self.cmd("POST", "/se/log", {"type": "browser"}) or []

    def wait(self, what, fn, timeout=300, every=0.5):
        deadline = time.monotonic() + timeout
        while True:
            try:
                got = fn()
            except AssertionError:
                got = None
            if got:
                return got
            if time.monotonic() > deadline:
                shown = self.script("return document.getElementById('banners')?.innerText || ''")
                raise AssertionError(f"browser: {what} not reached after {timeout}s; the page says: {shown!r}")
            time.sleep(every)

    def close(self):
        try:
            self.cmd("DELETE", "")
        except Exception:  # noqa: BLE001 - the driver may be gone already
            pass
        self.proc.terminate()
        self.proc.wait(timeout=20)


@contextlib.contextmanager
def pipeline_with_a_load(stack, users_per_page: int = 500, pages: int = 2):
    """What the console watches: the source, the relay and the Spark job
    running as the stack's services, and one load through them (the isolated
    test stack starts with none of them). Stopped again afterwards, so later modules (test_e2e's
    `run`) start from the same state as without this module."""
    from loadtest_support import ingest_for, unique

    started = []
    try:
        for svc in ("source", "relay", "spark_job"):
            stack.us("restart", svc, timeout=900)
            started.append(svc)
        with ingest_for(stack) as ing:
            rc, summary, err = ing.load("--seed", unique("console"), "--pages", str(pages),
                                        "--results", str(users_per_page), "--run-id", unique("console-run"))
            assert rc == 0, err
        yield
    finally:
        for svc in reversed(started):
            stack.us("stop", svc, check=False, timeout=300)
