"""userstream-source's data lists are generated at build time by
src/source/data/gen_data.py from pinned PyPI packages (never committed):
the generator is deterministic, and the lists the build compiled in are what
it produces, well formed."""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
GEN = ROOT / "src" / "source" / "data" / "gen_data.py"
BUILT = ROOT / "build" / "src" / "source" / "data"


def generate(out: pathlib.Path):
    r = subprocess.run([sys.executable, str(GEN), "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


def test_generation_is_deterministic_and_matches_the_build(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    generate(a)
    generate(b)
    names = sorted(p.name for p in a.glob("*.tsv"))
    assert len(names) == 22  # common.tsv + one file per nationality (21)
    for n in names:
        assert (a / n).read_bytes() == (b / n).read_bytes(), n
    r = subprocess.run([sys.executable, str(GEN), "--out", str(BUILT), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, f"the build's lists differ from the generator's: {r.stderr}"


def test_no_generated_list_in_the_source_tree():
    assert not list((ROOT / "src" / "source" / "data").glob("*.tsv"))


def test_lists_are_not_empty_and_well_formed():
    # the build's own lists: the test above checks they are the generator's
    files = sorted(BUILT.glob("*.tsv"))
    assert len(files) == 22
    for f in files:
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
