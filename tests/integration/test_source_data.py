"""The committed data lists of userstream-source are what the pinned
generator produces (src/source/data/gen_data.py --check). Skipped where the
generator's packages (src/source/data/requirements.txt) are not installed."""
import importlib.metadata
import pathlib
import subprocess
import sys

import pytest

DATA = pathlib.Path(__file__).resolve().parents[2] / "src" / "source" / "data"


def pins():
    out = {}
    for line in (DATA / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, ver = line.split("==")
            out[name.strip()] = ver.split()[0]
    return out


def test_committed_lists_are_reproducible():
    for name, ver in pins().items():
        try:
            if importlib.metadata.version(name) != ver:
                pytest.skip(f"{name} {ver} is not installed")
        except importlib.metadata.PackageNotFoundError:
            pytest.skip(f"{name} is not installed (pip install -r {DATA}/requirements.txt)")
    r = subprocess.run([sys.executable, str(DATA / "gen_data.py"), "--check"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


def test_lists_are_not_empty_and_well_formed():
    for f in sorted(DATA.glob("*.tsv")):
        kinds = set()
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("#"):
                continue
            fields = line.split("\t")
            assert 2 <= len(fields) <= 3 and all(fields), f"{f.name}:{n}"
            kinds.add(fields[0])
        expected = ({"tz", "password", "adjective", "animal"} if f.name == "common.tsv"
                    else {"male", "female", "last", "street", "city", "state"})
        assert kinds == expected, f.name
