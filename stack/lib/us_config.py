"""us_config: the effective configuration for the project's Python code.

The Spark job, the Airflow DAGs, the tests and the benchmarks all read the
configuration through this module, and it never reads userstream.conf itself:
`./userstream` (stack/lib/config.sh) is the one reader of the file and the one
place the derived values are computed; this module takes its result.

1. A process that ./userstream started (every service, so the Spark driver and
   every Airflow task; a test run by `./userstream test`) has the whole
   effective configuration in its environment, marked by US_CONFIG_EFFECTIVE=1.
   It is taken as it is: nothing to run, nothing to parse, so it also works
   where the repository's ./userstream is not (a deployed Airflow or Spark
   cluster given the output of `./userstream env` as its environment).
2. Otherwise (a shell, a test run by hand) `<repository>/userstream env` runs
   with this environment and its output is read: the KEY=value lines that
   us_config_print writes (values plain, or whole in '...' or "...").

Why not parse userstream.conf in Python as well: a second parser and a third
copy of the derived values is how the readers drifted apart before (see
docs/development.md, "Configuration rules").
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Mapping, Optional

REPO = Path(__file__).resolve().parents[2]
MARKER = "US_CONFIG_EFFECTIVE"

_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(?:'([^']*)'|\"([^\"$`\\\\]*)\"|([A-Za-z0-9_./:,@%+=-]*))$")


class ConfigError(Exception):
    pass


def _keys(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("US_") or k in ("PGPASSFILE", "JAVA_HOME")}


def parse_env_output(text: str, source: str = "./userstream env") -> dict[str, str]:
    """The KEY=value lines of `./userstream env`; anything else is an error."""
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        m = _LINE.match(line)
        if not m:
            raise ConfigError(f"{source}:{n}: not a line of `userstream env`: {line[:80]!r}")
        out[m.group(1)] = next(g for g in m.groups()[1:] if g is not None)
    return out


def load(env: Optional[Mapping[str, str]] = None, root: Optional[os.PathLike] = None) -> dict[str, str]:
    """The effective configuration (US_*, PGPASSFILE, JAVA_HOME) as a flat dict of strings."""
    env = os.environ if env is None else env
    if env.get(MARKER) == "1":
        return _keys(env)
    script = Path(root or REPO) / "userstream"
    if not script.exists():
        raise ConfigError(
            f"no configuration: the environment does not hold it ({MARKER} is not set) "
            f"and {script} does not exist; export the output of `./userstream env`"
        )
    p = subprocess.run([str(script), "env"], env=dict(env), capture_output=True, text=True, check=False)
    if p.returncode != 0:
        msg = p.stderr.strip().splitlines()
        raise ConfigError(msg[-1].replace("userstream: error: ", "", 1) if msg else f"{script} env failed (exit {p.returncode})")
    return parse_env_output(p.stdout)


def require(conf: Mapping[str, str], key: str) -> str:
    """conf[key], or a ConfigError that says where keys come from."""
    if key not in conf:
        raise ConfigError(f"{key} is not set (userstream.conf holds every key with its default)")
    return conf[key]
