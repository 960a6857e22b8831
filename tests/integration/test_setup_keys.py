"""What keys the installed venv and engines (no stack needed): a copy of the
stack scripts with changed pins must name new directories, and nothing else."""

import os
import re
import shutil
import subprocess

import pytest
import us_config  # stack/lib, on sys.path by conftest.py

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def copy(tmp_path):
    """A copy of the entry point, configuration and stack/ with its own empty cache."""
    root = tmp_path / "wt"
    root.mkdir()
    shutil.copy2(os.path.join(ROOT, "userstream"), root / "userstream")
    shutil.copy2(os.path.join(ROOT, "userstream.conf"), root / "userstream.conf")
    shutil.copytree(os.path.join(ROOT, "stack"), root / "stack")
    env = {k: v for k, v in os.environ.items() if not k.startswith("US_") and k != "PGPASSFILE"}
    env.update(US_CACHE=str(tmp_path / "cache"), US_HOME=str(tmp_path / "home"))
    return root, env


def us_env(root, env, key):
    out = subprocess.run([str(root / "userstream"), "env"], env=env, capture_output=True,
                         text=True, check=True, timeout=60).stdout
    return us_config.parse_env_output(out)[key]


def append(path, text):
    with open(path, "a") as f:
        f.write(text)


def test_venv_is_keyed_by_the_pins_pip_reads(copy):
    root, env = copy
    first = us_env(root, env, "US_VENV")
    assert re.fullmatch(re.escape(env["US_CACHE"]) + r"/venv-[0-9a-f]{12}", first)
    req = root / "stack" / "python" / "requirements.txt"
    append(req, "# a comment only\n\n")
    assert us_env(root, env, "US_VENV") == first
    append(req, "six==1.16.0  # a new pin\n")
    assert us_env(root, env, "US_VENV") != first
    # set in the environment, it is taken as it is
    assert us_env(root, dict(env, US_VENV="/elsewhere/venv"), "US_VENV") == "/elsewhere/venv"


def test_setup_never_reinstalls_a_venv_of_other_pins(copy):
    root, env = copy
    venv = root.parent / "old-venv"
    (venv / "bin").mkdir(parents=True)
    os.symlink("/usr/bin/python3", venv / "bin" / "python")
    (venv / ".userstream-stamp").write_text("0123456789ab\n")
    p = subprocess.run([str(root / "userstream"), "setup"], env=dict(env, US_VENV=str(venv)),
                       capture_output=True, text=True, timeout=300)
    assert p.returncode != 0
    assert "not reinstalled in place" in p.stdout
    assert sorted(os.listdir(venv)) == [".userstream-stamp", "bin"]


def engine_dirs(root, env):
    """us_engine_dir of every POM in stack/maven/, by name."""
    script = ('source stack/lib/util.sh && source stack/lib/config.sh && source stack/lib/setup.sh'
              ' && us_config_load && for p in stack/maven/*.xml; do n=${p##*/}; n=${n%.xml};'
              ' echo "$n $(us_engine_dir "$n")"; done')
    p = subprocess.run(["bash", "-c", script], cwd=root, env=dict(env, US_ROOT=str(root)),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return dict(line.split(" ", 1) for line in p.stdout.splitlines())


def test_an_engine_is_keyed_by_its_pom_and_the_pins_it_uses(copy):
    root, env = copy
    before = engine_dirs(root, env)
    assert set(before) >= {"kafka", "cassandra", "apicurio", "spark-jars"}
    versions = root / "stack" / "versions.env"
    text = versions.read_text()
    versions.write_text(re.sub(r"(?m)^SPARK_VERSION=.*$", "SPARK_VERSION=3.5.6", text))
    after = engine_dirs(root, env)
    assert [n for n in before if before[n] != after[n]] == ["spark-jars"]
    versions.write_text(re.sub(r"(?m)^MAVEN_DEPENDENCY_PLUGIN_VERSION=.*$",
                               "MAVEN_DEPENDENCY_PLUGIN_VERSION=3.6.0", text))
    after = engine_dirs(root, env)
    assert all(before[n] != after[n] for n in before)


def test_a_pom_property_without_a_pin_is_named(copy):
    root, env = copy
    pom = root / "stack" / "maven" / "kafka.xml"
    pom.write_text(pom.read_text().replace("${kafka.version}", "${kafka.verison}", 1))
    p = subprocess.run([str(root / "userstream"), "setup", "--check"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode != 0
    assert "add KAFKA_VERISON=... to stack/versions.env" in p.stderr
