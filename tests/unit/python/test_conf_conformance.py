"""The configuration readers agree: one fixture (conformance.conf), three readers.

- bash: `./userstream env` with US_CONFIG=the fixture (stack/lib/config.sh, the authority);
- C: conf_dump, which reads it through us_config exactly as every program does;
- Python: stack/lib/us_config.py (the environment, else `./userstream env`).

Each must give the same value for every key of the fixture, under the same environment
(overrides, empty variables, a port offset from the file or the environment), and refuse
each line of conformance_bad_lines.txt naming the same line with the same message.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("US_ROOT") or HERE.parents[2])
sys.path.insert(0, str(ROOT / "stack" / "lib"))

import us_config  # noqa: E402

FIXTURE = HERE / "conformance.conf"
KEY = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=")

ENVIRONMENTS = {
    "file offset": {},
    "environment": {
        "US_T_ENV": "from the environment",
        "US_T_ENV_EMPTY": "",  # empty counts as unset: the file's value
        "US_T_ENV_PORT": "2000",  # a port from the environment is final: not shifted
        "US_T_ONLY_ENV": "only in the environment",
    },
    "environment offset": {"US_PORT_OFFSET": "70"},
    "no offset": {"US_PORT_OFFSET": "0"},
}


def conf_dump() -> str:
    path = os.environ.get("US_CONF_DUMP") or str(ROOT / "build" / "tests" / "unit" / "conf_dump")
    if not Path(path).exists():
        pytest.skip(f"{path} is not built (./userstream build)")
    return path


def base_env(tmp_path: Path, conf: Path, extra: dict[str, str]) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": os.environ["PATH"], "HOME": str(home), "US_CONFIG": str(conf), **extra}


def keys_of(conf: Path, extra: dict[str, str]) -> list[str]:
    keys = [m.group(1) for m in map(KEY.match, conf.read_text().splitlines()) if m]
    return sorted(set(keys) | {k for k in extra if k.startswith("US_")})


def read_bash(env: dict[str, str]):
    p = subprocess.run([str(ROOT / "userstream"), "env"], env=env, capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr
    return us_config.parse_env_output(p.stdout), ""


def read_c(env: dict[str, str], keys: list[str]):
    p = subprocess.run([conf_dump(), *keys], env=env, capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr
    return dict(line.split("=", 1) for line in p.stdout.splitlines()), ""


def read_python(env: dict[str, str]):
    try:
        return us_config.load(env, root=ROOT), ""
    except us_config.ConfigError as e:
        return None, str(e)


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
def test_every_reader_gives_the_same_values(tmp_path, name):
    extra = ENVIRONMENTS[name]
    env = base_env(tmp_path, FIXTURE, extra)
    keys = keys_of(FIXTURE, extra)
    bash, err = read_bash(env)
    assert bash is not None, err
    c, err = read_c(env, keys)
    assert c is not None, err
    py, err = read_python(env)
    assert py is not None, err
    # the environment ./userstream exports is read back unchanged
    assert us_config.load({**bash, "US_CONFIG_EFFECTIVE": "1"}) == bash
    set_keys = [k for k in keys if k in bash]
    assert {k: c.get(k) for k in set_keys} == {k: bash[k] for k in set_keys}
    assert {k: py.get(k) for k in set_keys} == {k: bash[k] for k in set_keys}
    # keys that are set in neither (an empty value is set, to "")
    assert [k for k in keys if k not in bash] == [k for k in keys if k not in c] == []


def test_the_rules_by_example(tmp_path):
    """What the fixture's lines mean (the rules of docs/development.md)."""
    env = base_env(tmp_path, FIXTURE, ENVIRONMENTS["environment"])
    v, err = read_bash(env)
    assert v is not None, err
    home = env["HOME"]
    assert v["US_T_SPACES"] == "spaced out value"
    assert v["US_T_TRAILING"] == v["US_T_TAB_COMMENT"] == "value"
    assert (v["US_T_HASH_INSIDE"], v["US_T_HASH_FIRST"]) == ("a#b", "#not-a-comment")
    assert v["US_T_EMPTY"] == v["US_T_EMPTY_COMMENT"] == v["US_T_EMPTY_QUOTES"] == ""
    assert v["US_T_DQ"] == "double quoted # not a comment"
    assert v["US_T_SQ"] == 'single "quoted"' and v["US_T_DQ_COMMENT"] == "quoted"
    assert v["US_T_NESTED"] == "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    assert v["US_T_EQUALS"] == "a=b=c" and v["US_T_DOLLAR"] == "cost$5"
    assert v["US_T_DOLLAR_COMMENT"] == "x"
    assert v["US_T_TILDE"] == home + "/dir" and v["US_T_TILDE_QUOTED"] == home + "/quoted"
    assert v["US_T_TILDE_MIDDLE"] == "a~/b" and v["US_T_REPEATED"] == "second"
    assert v["US_T_ENV"] == "from the environment" and v["US_T_ENV_EMPTY"] == "from the file"
    assert v["US_T_ONLY_ENV"] == "only in the environment"
    assert v["US_REGISTRY_PORT"] == "8090" and v["US_T_SHIFTED_PORT"] == "6005"
    assert v["US_T_ENV_PORT"] == "2000" and v["US_T_ZERO_PORT"] == "0"
    assert v["US_T_CRLF"] == "crlf"
    assert v["US_KAFKA_BOOTSTRAP"] == "127.0.0.2:9097"  # derived from the shifted port


def where(message: str) -> str:
    """'PATH:LINE: reason' out of a reader's error message."""
    m = re.search(r"(\S+:\d+: .*)", message)
    assert m, f"no path:line in {message!r}"
    return m.group(1).strip()


BAD = [line for line in (HERE / "conformance_bad_lines.txt").read_text().splitlines()
       if line and not line.startswith("#")]


@pytest.mark.parametrize("bad", BAD)
def test_every_reader_refuses_the_same_line(tmp_path, bad):
    conf = tmp_path / "bad.conf"
    good = FIXTURE.read_text()
    conf.write_text(good + bad + "\n")
    lineno = good.count("\n") + 1
    env = base_env(tmp_path, conf, {})
    bash, bash_err = read_bash(env)
    c, c_err = read_c(env, keys_of(FIXTURE, {}))
    py, py_err = read_python(env)
    assert bash is None and c is None and py is None, (bash_err, c_err, py_err)
    assert where(bash_err) == where(c_err) == where(py_err)
    assert where(bash_err).startswith(f"{conf}:{lineno}: ")


@pytest.mark.parametrize("line", ["US_T_SHIFTED_PORT=abc", "US_PORT_OFFSET=abc"])
def test_a_bad_number_is_refused_by_every_reader(tmp_path, line):
    conf = tmp_path / "bad.conf"
    conf.write_text(FIXTURE.read_text() + line + "\n")
    env = base_env(tmp_path, conf, {})
    key = line.split("=")[0]
    results = [read_bash(env), read_c(env, keys_of(conf, {})), read_python(env)]
    for value, err in results:
        assert value is None and key in err, err
