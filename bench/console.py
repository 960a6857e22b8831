"""The console's own cost and speed (issue 9, "Measure"), against a running stack:

- the page's time to first render: headless Chromium (Debian's chromium and
  chromedriver, the browser test's WebDriver client) logs in and loads the
  landing page N times; per load the navigation timing (DOMContentLoaded, load),
  the first contentful paint, and when the first /api/pipeline answer arrived
  (the first numbers on the page);
- userstream-console's RSS and CPU (/proc, utime + stime) while that page stays
  open, polling as it does, and the pipeline runs at a steady rate
  (bench/e2e.py latency --rate R --seconds S, run beside it).

Usage (a stack started with `./userstream run`, ingestion DAG paused):

    eval "$(./userstream env | sed 's/^/export /')"
    $US_VENV/bin/python bench/console.py --rate 1000 --seconds 60 --loads 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from console_support import WebDriver  # noqa: E402 - the browser test's WebDriver client

TICK = os.sysconf("SC_CLK_TCK")


def env(key: str) -> str:
    v = os.environ.get(key)
    if not v:
        raise SystemExit(f"{key} is not set: eval \"$(./userstream env | sed 's/^/export /')\" first")
    return v


def console_pid() -> int:
    out = subprocess.run([os.path.join(ROOT, "userstream"), "status"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        f = line.split()
        if f[:1] == ["console"] and len(f) > 2 and f[2].isdigit():
            return int(f[2])
    raise SystemExit("the console is not running (./userstream status)")


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


TIMING_JS = """
const nav = performance.getEntriesByType('navigation')[0];
const fcp = performance.getEntriesByName('first-contentful-paint')[0];
const api = performance.getEntriesByType('resource').find((e) => e.name.includes('/api/pipeline'));
return {dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, fcp: fcp ? fcp.startTime : null,
        data: api ? api.responseEnd : null, stages: document.querySelectorAll('#flow li').length};
"""


def first_renders(drv: WebDriver, url: str, loads: int) -> list[dict]:
    out = []
    for _ in range(loads):
        drv.get(url + "/")
        drv.wait("the pipeline view's stages", lambda: drv.script("return document.querySelectorAll('#flow li').length"))
        out.append(drv.script(TIMING_JS))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--loads", type=int, default=5)
    a = ap.parse_args()
    url = f"http://{env('US_BIND')}:{env('US_CONSOLE_PORT')}"
    with open(os.path.join(env("US_SECRETS_DIR"), "console-password")) as f:
        password = f.read().strip()
    pid = console_pid()
    with tempfile.TemporaryDirectory(prefix="console-bench-") as profile:
        drv = WebDriver("/usr/bin/chromium", "/usr/bin/chromedriver", profile)
        try:
            drv.get(url + "/login")
            drv.type(drv.find("input[type=password]"), password)
            drv.click(drv.find("button[type=submit]"))
            drv.wait("logged in", lambda: drv.url().rstrip("/") == url)
            renders = first_renders(drv, url, a.loads)
            # the page stays open (it polls) while the pipeline runs at the rate
            samples, stop = [], threading.Event()

            def sample():
                while not stop.wait(1.0):
                    samples.append(rss_mb(pid))

            t = threading.Thread(target=sample, daemon=True)
            c0, w0 = cpu_s(pid), time.monotonic()
            t.start()
            load = subprocess.run([sys.executable, os.path.join(HERE, "e2e.py"), "latency", "--rate", str(a.rate),
                                   "--seconds", str(a.seconds)], capture_output=True, text=True)  # fmt: skip
            stop.set()
            t.join()
            c1, w1 = cpu_s(pid), time.monotonic()
        finally:
            drv.close()
    if load.returncode != 0:
        raise SystemExit(f"bench/e2e.py latency failed:\n{load.stdout}\n{load.stderr}")
    print(load.stdout.strip())
    print(f"\nconsole pid {pid}, page open, pipeline at {a.rate} users/s for {a.seconds} s:")
    print(f"  CPU {c1 - c0:.2f} s over {w1 - w0:.1f} s = {100 * (c1 - c0) / (w1 - w0):.2f} % of one core")
    print(f"  RSS {min(samples):.1f}-{max(samples):.1f} MB ({len(samples)} samples)")
    print(f"\nlanding page, {len(renders)} loads (ms from navigation start; median, max):")
    for key, label in (("dcl", "DOMContentLoaded"), ("fcp", "first contentful paint"), ("load", "load event"),
                       ("data", "first /api/pipeline answer")):  # fmt: skip
        vals = [r[key] for r in renders if r.get(key) is not None]
        if vals:
            print(f"  {label:28s} {statistics.median(vals):7.1f} {max(vals):7.1f}")


if __name__ == "__main__":
    main()
