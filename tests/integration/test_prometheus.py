"""The stack's Prometheus (stack/services/95-prometheus.sh, issue 9 part 5).

Every scraped process has a target, and a target is healthy exactly when its
service runs: the console (through its Bearer token), the source (its own
metrics port), the relay, Kafka and
Cassandra (the JMX exporter agent in their JVMs), Spark's master, worker and the
job's driver (PrometheusServlet). The console's alert rules are loaded and
evaluated, and "service down" fires for exactly the targets that are down.
The source, the relay and the console are started for the test when they are not running
(the session stack starts engines only) and stopped again afterwards.
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
import urllib.request

import pytest

DEADLINE_S = 180
JOBS = {"prometheus", "console", "source", "relay", "kafka", "cassandra", "spark_master", "spark_applications",
        "spark_worker", "spark_driver", "spark_executors"}
ALERTS = {"UserstreamWalRetained", "UserstreamWalLimit", "UserstreamLagGrowing", "UserstreamDeadLetters",
          "UserstreamServiceDown", "UserstreamSparkSlow", "UserstreamConsoleAlert"}


def running(stack) -> set[str]:
    """Services supervisord runs (`status` would also run every readiness check:
    slow on a busy machine; a target's health is the readiness that matters here)."""
    conf = os.path.join(stack["US_HOME"], "supervisor", "supervisord.conf")
    p = stack.run([os.path.join(stack["US_VENV"], "bin", "supervisorctl"), "-c", conf, "status"], check=False)
    return {parts[0] for parts in map(str.split, p.stdout.splitlines()) if len(parts) > 1 and parts[1] == "RUNNING"}


@pytest.fixture(scope="module")
def prom(stack):
    started = []
    try:
        up = running(stack)
        assert "prometheus" in up, "the prometheus service is not running"
        for svc in ("source", "relay", "console"):
            if svc not in up:
                stack.us("restart", svc, timeout=300)
                started.append(svc)
        yield f"http://{stack['US_BIND']}:{stack['US_PROMETHEUS_PORT']}"
    finally:
        for svc in reversed(started):
            stack.us("stop", svc, check=False, timeout=120)


def api(base: str, path: str, **query: str) -> dict:
    url = base + path + ("?" + urllib.parse.urlencode(query) if query else "")
    with urllib.request.urlopen(url, timeout=30) as r:
        doc = json.load(r)
    assert doc["status"] == "success", doc
    return doc["data"]


def poll(what: str, fn):
    """fn() -> (done, detail); polled until done or DEADLINE_S (data, not timing)."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        done, detail = fn()
        if done:
            return detail
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: {detail}")
        time.sleep(2)


def test_every_scraped_process_has_a_target_healthy_while_its_service_runs(prom, stack):
    up = running(stack)
    for svc in ("source", "relay", "console", "kafka", "cassandra", "spark_master", "spark_worker"):
        assert svc in up, f"{svc} is not running"

    def check():
        targets = api(prom, "/api/v1/targets", state="active")["activeTargets"]
        health = {t["labels"]["job"]: (t["labels"]["service"], t["health"], t["lastError"]) for t in targets}
        wrong = {job: h for job, h in health.items() if (h[1] == "up") != (h[0] in up)}
        return set(health) == JOBS and not wrong, {"jobs": sorted(health), "wrong": wrong}

    poll("targets", check)


def test_each_target_brings_its_own_numbers(prom, stack):
    """The console's pipeline numbers (so its Bearer token was accepted), the
    relay's, MBeans of Kafka and Cassandra read by the JMX exporter agent, Spark's
    (with the streaming query's own when the job runs)."""
    queries = {
        "console": 'count(userstream_console_value{service="console"})',
        "source": 'count({service="source",__name__=~"userstream_source_.+"})',
        "relay": 'count({service="relay",__name__=~"userstream_relay_.+"})',
        "kafka": 'count({service="kafka",__name__=~"kafka_server_.+"})',
        "cassandra": 'count({service="cassandra",__name__=~"org_apache_cassandra_metrics_.+"})',
        "spark_master": 'count({job="spark_master",__name__=~"metrics_master_.+"})',
        "spark_worker": 'count({job="spark_worker",__name__=~"metrics_worker_.+"})',
    }
    if "spark_job" in running(stack):
        queries["spark_job"] = 'count({job="spark_driver",__name__=~"metrics_.+_driver_spark_streaming_.+"})'

    def check():
        counts = {}
        for name, q in queries.items():
            result = api(prom, "/api/v1/query", query=q)["result"]
            counts[name] = float(result[0]["value"][1]) if result else 0
        return all(v > 0 for v in counts.values()), counts

    poll("series per target", check)


def test_the_console_alert_rules_are_loaded_and_service_down_names_the_down_targets(prom, stack):
    def check():
        groups = api(prom, "/api/v1/rules", type="alert")["groups"]
        rules = {r["name"]: r for g in groups if g["name"] == "userstream" for r in g["rules"]}
        bad = {n: r.get("lastError") for n, r in rules.items() if r["health"] != "ok"}
        if set(rules) != ALERTS or bad:
            return False, {"rules": sorted(rules), "not ok": bad}
        targets = api(prom, "/api/v1/targets", state="active")["activeTargets"]
        down = {t["labels"]["job"] for t in targets if t["health"] == "down"}
        alerting = {a["labels"]["job"] for a in rules["UserstreamServiceDown"]["alerts"]}
        return alerting == down, {"down targets": sorted(down), "service_down alerts": sorted(alerting)}

    poll("rules", check)
