"""bench/stack_cpu.py: CPU-seconds of every process of a running stack, by service.

A stack's processes are those whose environment carries US_STACK_HOME=<US_HOME>
(supervisord passes it to every program it starts, stack/lib/supervisor.sh) and
their descendants (PostgreSQL's backends rewrite their environment). Each is
assigned to the supervisord program it descends from (`supervisorctl status`
names the programs' pids); a Spark executor (CoarseGrainedExecutorBackend, a
child of the worker) and everything under it (the PySpark workers) count as
"spark_executor", not as the worker. A bench may add roots of its own
(`extra`: name -> pid), e.g. a ceiling tool's client or driver.

CPU = utime + stime of /proc/PID/stat (all threads, children excluded: a
process's reaped children are not added twice), in seconds of
os.sysconf("SC_CLK_TCK") ticks. The table is sampled every `interval` seconds in
a thread, so a process that starts during the window counts from zero and one
that exits loses at most its last interval; pids are keyed with their start
time, so a reused pid is a new process.

    cpu = StackCpu(cfg).start()
    ...                                   # the work being measured
    used = cpu.stop()                     # {"cassandra": 12.3, "spark_executor": ..., ...}
    per_100k(used, users)                 # the same, per 100,000 users, + "spark_stage"
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from typing import Mapping, Optional

TICK = os.sysconf("SC_CLK_TCK")
EXECUTOR_MAIN = b"CoarseGrainedExecutorBackend"
# The Spark stage of issue 13: the job's driver, its executors and Cassandra.
SPARK_STAGE = ("spark_job", "spark_executor", "cassandra")


def read_stat(pid: int) -> Optional[tuple[int, int, int]]:
    """(ppid, utime + stime in ticks, start time in ticks) of pid, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(b")") + 2 :].split()  # comm may hold spaces and parentheses
    return int(rest[1]), int(rest[11]) + int(rest[12]), int(rest[19])


def _marked(pid: int, marker: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return marker in f.read().split(b"\0")
    except OSError:
        return False


def _is_executor(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return EXECUTOR_MAIN in f.read()
    except OSError:
        return False


def supervised_pids(cfg: Mapping[str, str]) -> dict[int, str]:
    """pid -> program name of every running supervisord program of the stack,
    and supervisord itself."""
    conf = os.path.join(cfg["US_HOME"], "supervisor", "supervisord.conf")
    ctl = os.path.join(cfg["US_VENV"], "bin", "supervisorctl")
    out = {}
    p = subprocess.run([ctl, "-c", conf, "status"], capture_output=True, text=True)
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[1] == "RUNNING" and parts[2] == "pid":
            out[int(parts[3].rstrip(","))] = parts[0].split(":")[-1]
    p = subprocess.run([ctl, "-c", conf, "pid"], capture_output=True, text=True)
    if p.stdout.strip().isdigit():
        out[int(p.stdout.strip())] = "supervisord"
    return out


class StackCpu:
    def __init__(self, cfg: Mapping[str, str], interval: float = 1.0, extra: Optional[Mapping[str, int]] = None):
        self.cfg = cfg
        self.interval = interval
        self.marker = f"US_STACK_HOME={cfg['US_HOME']}".encode()
        self.roots = dict(supervised_pids(cfg))
        self.extra = {}
        for name, pid in (extra or {}).items():
            self.add(name, pid)
        self.first: dict[tuple[int, int], int] = {}  # (pid, start) -> ticks when first seen
        self.last: dict[tuple[int, int], int] = {}
        self.group: dict[tuple[int, int], str] = {}
        self.outside: set[tuple[int, int]] = set()  # processes seen that are not the stack's
        self.baseline = True
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.wall = 0.0
        self.me = os.getpid()

    def add(self, name: str, pid: int) -> None:
        """Counts pid and its descendants as `name` (a bench's own tool)."""
        self.extra[pid] = name
        if hasattr(self, "outside"):
            self.outside.clear()  # they may have been seen before they were named

    def refresh(self) -> None:
        """Reads the programs' pids again (after a bench restarted one): its
        processes, counted as "supervisord" or "other" until now, move to the
        program (with the CPU they used since they were first seen)."""
        self.roots = dict(supervised_pids(self.cfg))
        self.outside.clear()

    def _classify(self, pid: int, stats: dict) -> Optional[str]:
        """The group of pid, or None when it is not part of the stack (or the bench's tools)."""
        chain, p = [], pid
        while p > 1 and p in stats:
            chain.append(p)
            if p in self.extra:
                break
            if p in self.roots:
                break
            p = stats[p][0]
        top = chain[-1] if chain else pid
        name = self.extra.get(top) or self.roots.get(top)
        if name is None:
            # Not under a known program: a marked process (or a child of one)
            # the last `status` did not list (a restarted program).
            if not any(_marked(q, self.marker) for q in chain):
                return None
            name = "other"
        if name == "spark_worker" and any(_is_executor(q) for q in chain):
            return "spark_executor"
        return name

    def sample(self) -> None:
        stats = {}
        for d in os.listdir("/proc"):
            if d.isdigit() and int(d) != self.me:
                st = read_stat(int(d))
                if st is not None:
                    stats[int(d)] = st
        for pid, (_, ticks, start) in stats.items():
            key = (pid, start)
            if key in self.outside:
                continue
            if key not in self.group:
                g = self._classify(pid, stats)
                if g is None:
                    self.outside.add(key)
                    continue
                self.group[key] = g
                self.first[key] = ticks if self.baseline else 0
            elif self.group[key] in ("spark_worker", "other", "supervisord"):
                # Seen between the worker's fork and the executor's exec, or a
                # restarted program (a child of supervisord, or marked) before
                # refresh(): look again.
                self.group[key] = self._classify(pid, stats) or self.group[key]
            self.last[key] = ticks
        self.baseline = False

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> "StackCpu":
        self.t0 = time.time()
        self.sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        """CPU-seconds per group since start()."""
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.sample()
        self.wall = time.time() - self.t0
        out: dict[str, float] = {}
        for key, g in self.group.items():
            out[g] = out.get(g, 0.0) + (self.last[key] - self.first[key]) / TICK
        return dict(sorted(out.items()))


def per_100k(used: Mapping[str, float], users: int) -> dict[str, float]:
    """CPU-seconds per 100,000 users, per group, + spark_stage (driver + executors
    + Cassandra) and stack_total (every group of the stack, the bench's own tools
    excluded: those are reported beside it)."""
    f = 100000.0 / max(1, users)
    out = {g: round(s * f, 2) for g, s in used.items()}
    out["spark_stage"] = round(sum(used.get(g, 0.0) for g in SPARK_STAGE) * f, 2)
    return out


def table(title: str, used: Mapping[str, float], users: int, wall: float) -> str:
    """A plain-text table: group, CPU-seconds, per 100k users, share of the wall time."""
    f = 100000.0 / max(1, users)
    rows = sorted(used.items(), key=lambda kv: -kv[1])
    stage = sum(used.get(g, 0.0) for g in SPARK_STAGE)
    lines = [f"{title}: {users} users, {wall:.1f} s wall",
             f"  {'process group':<24} {'CPU s':>8} {'per 100k':>9} {'cores':>6}"]  # fmt: skip
    for g, s in rows:
        lines.append(f"  {g:<24} {s:8.1f} {s * f:9.1f} {s / max(wall, 1e-9):6.2f}")
    lines.append(f"  {'Spark stage (' + '+'.join(SPARK_STAGE) + ')':<24}")
    lines.append(f"  {'':<24} {stage:8.1f} {stage * f:9.1f} {stage / max(wall, 1e-9):6.2f}"
                 f"   = {stage * 1000.0 / max(1, users):.3f} ms CPU per user")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """stack_cpu.py [SECONDS]: the stack's CPU by group over SECONDS (default 10).
    stack_cpu.py --users N -- CMD ARGS...: the same over CMD's run, per 100,000
    of the N users (or rows) CMD moves: CPU per unit of work for a bench that
    does not report it (e.g. an older tree's e2e.py); CMD's own processes are
    not the stack's and are not counted."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "stack", "lib"))
    import us_config

    if argv and argv[0] == "--users":
        if len(argv) < 4 or argv[2] != "--" or not argv[1].isdigit():
            print("usage: stack_cpu.py --users N -- CMD [ARGS...]", file=sys.stderr)
            return 2
        users = int(argv[1])
        c = StackCpu(us_config.load()).start()
        rc = subprocess.run(argv[3:]).returncode
        u = c.stop()
        print(table(f"stack during {' '.join(argv[3:5])}", u, users, c.wall), file=sys.stderr)
        total = round(sum(u.values()) * 100000.0 / max(1, users), 2)
        print(json.dumps({"bench": "stack_cpu", "users": users, "wall_s": round(c.wall, 1), "rc": rc,
                          "cpu_s_per_100k": {**per_100k(u, users), "stack_total": total}}), flush=True)
        return rc
    secs = float(argv[0]) if argv else 10.0
    c = StackCpu(us_config.load()).start()
    time.sleep(secs)
    u = c.stop()
    print(table(f"idle stack over {secs:.0f} s", u, 100000, c.wall))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
