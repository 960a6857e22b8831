"""userstream.conf holds every key with its default.

- every setting of every program (its --print-config) is in the file: as a line, as a
  commented "# KEY=default" line, or as "# KEY (derived: ...)"; where the program has a
  built-in default, the file shows the same one;
- every `${US_X:-default}` of the stack scripts has the same default in the file;
- every key the Python parts require (the Spark job, the DAGs) is in `./userstream env`.
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
BUILD = Path(os.environ.get("US_BUILD_DIR") or ROOT / "build")
sys.path.insert(0, str(ROOT / "stack" / "lib"))

import us_config  # noqa: E402

CONF = (ROOT / "userstream.conf").read_text()


def documented() -> dict[str, str | None]:
    """KEY -> the value the file shows (None: derived, no literal default)."""
    out: dict[str, str | None] = {}
    for line in CONF.splitlines():
        m = re.match(r"^\s*#?\s*(US_[A-Z0-9_]+)=(.*)$", line)
        if m:
            value = m.group(2)
            value = re.split(r"\s+#", value, maxsplit=1)[0].strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            out[m.group(1)] = value
        for m in re.finditer(r"\b(US_[A-Z0-9_]+) \(derived: ([^)]*)\)", line):
            out.setdefault(m.group(1), m.group(2) if re.fullmatch(r"[a-z]+", m.group(2)) else None)
    return out


@pytest.mark.parametrize("program", ["source", "load", "relay", "console"])
def test_every_program_setting_is_in_the_file(program):
    binary = BUILD / "src" / program / f"userstream-{program}"
    if not binary.exists():
        pytest.skip(f"{binary} is not built")
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
    p = subprocess.run([str(binary), "--print-config"], env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    doc = documented()
    for line in p.stdout.splitlines():
        m = re.match(r"^(US_[A-Z0-9_]+)=(.*?)  # (\w+)$", line)
        assert m, line
        key, default, origin = m.groups()
        assert key in doc, f"{key} (userstream-{program}) is missing from userstream.conf"
        if origin == "default" and doc[key] is not None:
            assert doc[key] == default, f"{key}: userstream.conf says {doc[key]!r}, userstream-{program} {default!r}"


def test_every_script_default_is_the_file_default():
    doc = documented()
    seen = 0
    for path in sorted((ROOT / "stack").rglob("*")):
        if not path.is_file() or path.suffix not in ("", ".sh"):
            continue
        text = path.read_text(errors="replace")
        for m in re.finditer(r"\$\{(US_[A-Z0-9_]+):-([^}]*)\}", text):
            key, default = m.groups()
            if key in ("US_CONFIG", "US_STACK_HOME", "US_SETUP_CHECK", "US_WAIT_ALIVE"):
                continue  # set by the commands themselves, not configuration
            seen += 1
            assert key in doc, f"{key} ({path.relative_to(ROOT)}) is missing from userstream.conf"
            assert doc[key] == default, f"{key}: {path.relative_to(ROOT)} says {default!r}, userstream.conf {doc[key]!r}"
    assert seen > 0


def test_every_key_python_requires_is_set():
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
    conf = us_config.load(env, root=ROOT)
    sources = [ROOT / "spark" / "userstream_spark" / "config.py", *sorted((ROOT / "airflow" / "dags").glob("*.py"))]
    wanted = set()
    for path in sources:
        wanted |= set(re.findall(r"(?:(?<![.\w])get|require)\((?:\w+, )?\"(US_[A-Z0-9_]+)\"", path.read_text()))
    assert len(wanted) > 20
    assert sorted(wanted - set(conf)) == []
