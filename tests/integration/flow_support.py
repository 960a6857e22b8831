"""Waiting for the pipeline in integration tests: polling a condition on data
until it holds (never a fixed sleep), and whether a supervised program runs.
No tests here."""
from __future__ import annotations

import time

import pytest

FLOW_TIMEOUT = 900  # seconds a converging pipeline may take on a loaded CI machine


def wait_until(what, fn, timeout=FLOW_TIMEOUT, every=3.0, show=None):
    """Polls fn() until it returns a true value, and returns that; on timeout
    fails with `what` and show() (the state that did not converge), else the
    last value."""
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not reached after {timeout}s; state: {show() if show else got}")
        time.sleep(every)


def running(stack, name: str) -> bool:
    """Whether `./userstream status` shows the service RUNNING."""
    out = stack.us("status", check=False).stdout
    return any(line.split()[:1] == [name] and " RUNNING" in line for line in out.splitlines())
