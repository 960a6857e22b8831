"""The console's page in a real browser: headless Chromium (Debian chromium +
chromium-driver, stack/packages/apt.txt) driven through chromedriver's
WebDriver protocol. It logs in, checks that the pipeline view shows the
numbers `./userstream counts` gives, opens a topic and a message, looks at
the registry, saves a screenshot of each view, and checks the browser
console has no error.

Screenshots go to build-it-logs/console-screens/ (with the isolated test
stack: its logs directory, which the session copies to build-it-logs/).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time

import pytest

from console_support import ROOT, Console, WebDriver, pipeline_with_a_load

STAGE_KEYS = {"fetched": "fetched", "staged": "staged", "rejected": "rejected", "kafka": "kafka",
              "spark": "spark_processed", "cassandra": "cassandra", "dlq": "dlq_distinct"}  # fmt: skip


def find_binary(*names):
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    pytest.fail(f"none of {names} is installed (stack/packages/apt.txt: chromium, chromium-driver; ./userstream setup)")


@pytest.fixture(scope="module")
def screens(stack):
    if os.environ.get("US_TEST_USE_RUNNING") == "1":
        d = os.path.join(ROOT, "build-it-logs", "console-screens")
    else:
        d = os.path.join(stack["US_HOME"], "logs", "console-screens")
    os.makedirs(d, exist_ok=True)
    return d


@pytest.fixture(scope="module")
def browser(stack):
    with pipeline_with_a_load(stack, users_per_page=200, pages=1):
        yield from _browser(stack)


def _browser(stack):
    console = Console(stack)
    profile = tempfile.mkdtemp(prefix="console-chromium-")
    wd = None
    try:
        wd = WebDriver(find_binary("chromium", "chromium-browser"), find_binary("chromedriver"), profile)
        yield console, wd
    finally:
        if wd:
            wd.close()
        console.close()
        shutil.rmtree(profile, ignore_errors=True)


def page_counts(wd) -> dict:
    got = wd.script("""
        const out = {};
        for (const li of document.querySelectorAll('#flow li[data-stage]'))
            out[li.dataset.stage] = li.querySelector('.count').textContent;
        return out;""")
    return {STAGE_KEYS[k]: (None if v == "—" else int(v.replace(",", ""))) for k, v in got.items() if k in STAGE_KEYS}


def cli_counts(stack, console) -> dict:
    p = stack.us("counts", "--json", check=False,
                 env={"US_CONSOLE_PORT": str(console.port), "US_CONSOLE_PASSWORD_FILE": console.password_file})
    doc = json.loads(p.stdout)
    return {k: doc.get(k) for k in STAGE_KEYS.values()}


def test_the_page_logs_in_shows_the_counts_and_browses_kafka(stack, browser, screens):
    console, wd = browser
    wd.get(console.url + "/")
    wd.wait("the login page", lambda: wd.url().endswith("/login"), timeout=300)
    wd.screenshot(os.path.join(screens, "0-login.png"))
    wd.type(wd.find("#password"), "wrong")
    wd.click(wd.find("#login button"))
    wd.wait("the wrong password said", lambda: "Wrong" in wd.text(wd.find("#login-error")), timeout=300)
    wd.script("document.getElementById('password').value = '';")
    wd.type(wd.find("#password"), console.password)
    wd.click(wd.find("#login button"))
    wd.wait("the pipeline view", lambda: wd.url().rstrip("/") == console.url and
            len(wd.find_all("#flow li[data-stage]")) == 9, timeout=300)  # fmt: skip

    # The numbers on the page equal `./userstream counts` once the pipeline
    # holds still between the two readings.
    deadline, seen = time.monotonic() + 300, []
    while True:
        cli = cli_counts(stack, console)
        time.sleep(3)
        page = page_counts(wd)
        seen.append((cli, page))
        if page == cli and cli_counts(stack, console) == cli:
            break
        assert time.monotonic() < deadline, f"page and counts never agreed: {seen[-3:]}"
    wd.wait("the charts", lambda: len(wd.find_all(".chart canvas")) >= 3, timeout=300)
    wd.screenshot(os.path.join(screens, "1-pipeline.png"))

    # Kafka, from the keyboard: "2".
    wd.keys("2")
    topic = stack["US_KAFKA_TOPIC_USERS"]
    wd.wait("the topic list", lambda: any(wd.text(b) == topic for b in wd.find_all("#topics button")), timeout=300)
    wd.screenshot(os.path.join(screens, "2-kafka.png"))
    wd.click(next(b for b in wd.find_all("#topics button") if wd.text(b) == topic))
    wd.wait("the partitions", lambda: len(wd.find_all("#partitions tbody tr")) > 0, timeout=300)
    part = wd.script("""
        for (const tr of document.querySelectorAll('#partitions tbody tr')) {
            const c = tr.querySelectorAll('td');
            if (c[5].textContent !== c[4].textContent) return c[0].textContent;
        }
        return null;""")
    if part is not None:
        wd.script("document.getElementById('b-partition').value = arguments[0];", part)
        wd.click(wd.find("#browse button"))
        wd.wait("the messages", lambda: len(wd.find_all("#messages tbody tr")) > 0, timeout=300)
        wd.click(wd.find("#messages tbody tr details summary"))
        text = wd.text(wd.find("#messages tbody tr details pre"))
        assert "user_id" in text, text
    wd.screenshot(os.path.join(screens, "3-kafka-message.png"))

    # The registry: "3".
    wd.keys("3")
    subject = topic + "-value"
    wd.wait("the subjects", lambda: any(wd.text(b) == subject for b in wd.find_all("#subjects button")), timeout=300)
    wd.click(next(b for b in wd.find_all("#subjects button") if wd.text(b) == subject))
    wd.wait("the schema text", lambda: "user_id" in wd.text(wd.find("#schema-text")), timeout=300)
    wd.screenshot(os.path.join(screens, "4-registry.png"))

    # Every error of the page's JavaScript or of a resource it loaded counts,
    # except the 401 of the wrong password typed above on purpose.
    # Airflow: "4".
    wd.keys("4")
    wd.wait("the DAG runs", lambda: any("userstream_ingest" in wd.text(r) for r in wd.find_all("#dag-runs tbody tr")),
            timeout=300)  # fmt: skip
    wd.screenshot(os.path.join(screens, "5-airflow.png"))

    errors = [e for e in wd.browser_log() if e.get("level") == "SEVERE"
              and not (e.get("source") == "network" and "/login - " in e["message"] and "401" in e["message"])]
    assert errors == [], errors
