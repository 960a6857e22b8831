"""Compatibility of userstream-source with randomuser.me 1.4.

Every request of ../shared/randomuser-golden/INDEX.tsv (responses of the real
upstream generator) is sent to our server and the answers are compared for
what must match: status, content type, JSON shape, key order, value types,
the per-nationality formats of phone, cell, id and postcode, the info block,
and the exact layout of every format. Values differ by design (our data is
our own). The per-nationality rules below are checked against the golden
records too, so they describe upstream, not just us. Skipped when the golden
directory is absent; nothing is copied from it."""
import csv
import io
import json
import re

import pytest

from test_source_util import GOLDEN, Server

pytestmark = pytest.mark.skipif(not (GOLDEN / "INDEX.tsv").exists(),
                                reason="../shared/randomuser-golden is absent")

INT5 = (int, 10000, 99999)
# nat: phone, cell, (id.name, id.value regex or None for null), postcode
NAT_RULES = {
    "AU": (r"0\d-\d{4}-\d{4}", r"04\d\d-\d{3}-\d{3}", ("TFN", r"\d{9}"), (int, 200, 9999)),
    "BR": (r"\(\d\d\) \d{4}-\d{4}", None, ("CPF", r"\d{3}\.\d{3}\.\d{3}-\d\d"), INT5),
    "CA": (r"[A-Z]\d\d [A-Z]\d\d-\d{4}", None, ("SIN", r"\d{9}"), r"[A-Z]\d[A-Z] \d[A-Z]\d"),
    "CH": (r"07[5-9] \d{3} \d\d \d\d", None, ("AVS", r"756\.\d{4}\.\d{4}\.\d\d"),
           (int, 1000, 9999)),
    "DE": (r"0\d{3}-\d{7}", r"017\d-\d{7}", ("SVNR", r"\d\d \d{4}(\d\d|10\d) \S \d{3}"), INT5),
    "DK": (r"\d{8}", r"\d{8}", ("CPR", r"\d{4}(\d\d|10\d)-\d{4}"), INT5),
    "ES": (r"9\d\d-\d{3}-\d{3}", r"6\d\d-\d{3}-\d{3}", ("DNI", r"\d{8}-[A-Z]"), INT5),
    "FI": (r"0[2-9]-\d{3}-\d{3}", r"04\d-\d{3}-\d\d-\d\d", ("HETU", r"NaNNA\d{3}undefined"), INT5),
    "FR": (r"0[1-5]-\d\d-\d\d-\d\d-\d\d", r"06-\d\d-\d\d-\d\d-\d\d",
           ("INSEE", r"[12](\d\d|10\d)(0\d|1[01])\d{8} \d\d"), INT5),
    "GB": (r"01\d{3} \d{5,6}|011\d{4} \d{3} \d{4}|01\d1 \d{3} \d{4}|01\d{4} \d{4,5}"
           r"|02\d \d{4} \d{4}", r"07\d{3} \d{6}",
           ("NINO", r"[ABCEGHJ-PRSTW-Z][ABCEGHJ-NPRSTW-Z] \d\d \d\d \d\d [A-Z]"),
           r"[A-Z]{1,2}\d[A-Z\d]? \d[ABD-HJLNP-UW-Z]{2}"),
    "IE": (r"0[1-7]1-\d{3}-\d{4}", r"081-\d{3}-\d{4}", ("PPS", r"\d{7}T"), INT5),
    "IN": (r"[789]\d{9}", None, ("UIDAI", r"\d{12}"), INT5),
    "IR": (r"0\d\d-\d{8}", r"09\d\d-\d{3}-\d{4}", ("", None), INT5),
    "MX": (r"\(6\d\d\) \d{3} \d{4}", None, ("NSS", r"\d\d \d\d \d\d \d{4} \d"), INT5),
    "NL": (r"\(0\d\d\) \d{7}|\(0\d{3}\) \d{6}", r"\(06\) \d{8}", ("BSN", r"\d{8}"),
           r"\d{4} [A-Z]{2}"),
    "NO": (r"[235678]\d{7}", r"[49]\d{7}", ("FN", r"\d{11}"), r"\d{4}"),
    "NZ": (r"\(\d{3}\)-\d{3}-\d{4}", None, ("", None), INT5),
    "RS": (r"0[123]\d-\d{4}-\d{3}", r"06\d-\d{4}-\d{3}", ("SID", r"\d{9}"), INT5),
    "TR": (r"\(\d{3}\)-\d{3}-\d{4}", None, ("", None), INT5),
    "UA": (r"\(0(66|67|68|96|97|98|99)\) [A-Z]\d\d-\d{4}", None, ("", None), INT5),
    "US": (r"\([2-9]\d\d\) [2-9]\d\d-\d{4}", None, ("SSN", r"\d{3}-\d\d-\d{4}"), INT5),
    "LEGO": (r"\(\d{3}\)-\d{3}-\d{4}", None, ("SN", r"\d{12}"), INT5),
}
COUNTRIES = {"AU": "Australia", "BR": "Brazil", "CA": "Canada", "CH": "Switzerland",
             "DE": "Germany", "DK": "Denmark", "ES": "Spain", "FI": "Finland", "FR": "France",
             "GB": "United Kingdom", "IE": "Ireland", "IN": "India", "IR": "Iran",
             "MX": "Mexico", "NL": "Netherlands", "NO": "Norway", "NZ": "New Zealand",
             "RS": "Serbia", "TR": "Turkey", "UA": "Ukraine", "US": "United States"}
COMMON = {
    "location.coordinates.latitude": r"-?\d{1,2}\.\d{4}",
    "location.coordinates.longitude": r"-?\d{1,3}\.\d{4}",
    "location.timezone.offset": r"[-+]?\d{1,2}:\d\d",
    "email": r"[a-z0-9.'_-]+@example\.com",
    "login.uuid": r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
    "login.username": r"[a-z]+\d{3}",
    "login.salt": r"[A-Za-z0-9]{8}",
    "login.md5": r"[0-9a-f]{32}",
    "login.sha1": r"[0-9a-f]{40}",
    "login.sha256": r"[0-9a-f]{64}",
    "dob.date": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",
    "registered.date": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",
    "picture.large": r"https://randomuser\.me/api/portraits/(men|women|lego)/\d+\.jpg",
    "picture.medium": r"https://randomuser\.me/api/portraits/med/(men|women|lego)/\d+\.jpg",
    "picture.thumbnail": r"https://randomuser\.me/api/portraits/thumb/(men|women|lego)/\d+\.jpg",
}


def index():
    rows = []
    for line in (GOLDEN / "INDEX.tsv").read_text().splitlines()[1:]:
        name, request = line.split("\t")
        rows.append((name, request))
    return rows


def flat(obj, prefix=""):
    """(dotted path, value) in key order."""
    for k, v in obj.items():
        p = prefix + k
        if isinstance(v, dict):
            yield from flat(v, p + ".")
        else:
            yield p, v


def shape(obj):
    """Key order and JSON types, without values."""
    if isinstance(obj, dict):
        return [(k, shape(v)) for k, v in obj.items()]
    if isinstance(obj, list):
        return [shape(v) for v in obj]
    return type(obj).__name__


def check_user(u, quirks=True):
    """The rules every record obeys, upstream's and ours."""
    f = dict(flat(u))
    nat = f.get("nat")
    for path, rx in COMMON.items():
        if path in f:
            assert re.fullmatch(rx, f[path]), (path, f[path])
    if "gender" in f and "name.title" in f:
        titles = {"male": {"Mr", "Monsieur"}, "female": {"Miss", "Mrs", "Ms", "Mademoiselle", "Madame"}}
        assert f["name.title"] in titles[f["gender"]]
    if nat is None:
        return
    phone, cell, (id_name, id_rx), postcode = NAT_RULES[nat]
    if "phone" in f:
        assert re.fullmatch(phone, f["phone"]), (nat, "phone", f["phone"])
    if "cell" in f:
        assert re.fullmatch(cell or phone, f["cell"]), (nat, "cell", f["cell"])
    if "id.name" in f:
        assert f["id.name"] == id_name, (nat, f["id.name"])
        if id_rx is None:
            assert f["id.value"] is None
        else:
            assert isinstance(f["id.value"], str) and re.fullmatch(id_rx, f["id.value"]), (nat, f["id.value"])
    if "location.postcode" in f:
        pc = f["location.postcode"]
        if isinstance(postcode, tuple):
            assert type(pc) is int and postcode[1] <= pc <= postcode[2], (nat, pc)
        else:
            assert isinstance(pc, str) and re.fullmatch(postcode, pc), (nat, pc)
    if "location.city" in f:
        assert ("location.country" in f) == (nat != "LEGO")
        if nat != "LEGO":
            assert f["location.country"] == COUNTRIES[nat]
        assert type(f["location.street.number"]) is int and 1 <= f["location.street.number"] <= 9999


@pytest.fixture(scope="module")
def server():
    with Server() as s:
        yield s


def golden_signatures():
    """Per nationality: the shape of a full upstream record."""
    sigs = {}
    for name, _ in index():
        if name.endswith(".json") and name[:2] not in ("10", "11", "13"):
            for u in json.loads((GOLDEN / name).read_text())["results"]:
                sigs.setdefault(u["nat"], shape(u))
    return sigs


def test_golden_records_obey_the_rules():
    """The rules are upstream's: every golden record satisfies them."""
    count = 0
    for name, _ in index():
        if name.endswith(".json") and not name.startswith("13"):
            for u in json.loads((GOLDEN / name).read_text())["results"]:
                check_user(u)
                count += 1
    assert count > 100
    assert set(golden_signatures()) == set(NAT_RULES)


@pytest.mark.parametrize("name,request_path", index())
def test_same_shape_as_upstream(server, name, request_path):
    status, headers, body = server.get(request_path)
    golden = (GOLDEN / name).read_bytes()
    assert status == 200
    ext = name.rsplit(".", 1)[1]
    ctype = {"json": "application/json", "csv": "text/csv", "xml": "text/xml",
             "yaml": "text/x-yaml"}[ext]
    assert headers["content-type"] == ctype + "; charset=utf-8"
    assert headers["access-control-allow-origin"] == "*"
    assert headers["cache-control"] == "no-cache"
    if ext == "csv":
        return compare_csv(golden.decode(), body.decode())
    if ext == "xml":
        return compare_xml(golden.decode(), body.decode())
    if ext == "yaml":
        return compare_yaml(golden.decode(), body.decode())
    text, gtext = body.decode(), golden.decode()
    if gtext.startswith("cb("):
        assert text.startswith("cb(") and text.endswith(");")
        text, gtext = text[3:-2], gtext[3:-2]
    ours, theirs = json.loads(text), json.loads(gtext)
    indent = 2 if "format=pretty" in request_path else None
    seps = (",", ": ") if indent else (",", ":")
    # Byte layout: exactly JSON.stringify's (compact, or 2-space indent).
    assert text == json.dumps(ours, ensure_ascii=False, indent=indent, separators=seps)
    assert gtext == json.dumps(theirs, ensure_ascii=False, indent=indent, separators=seps)
    compare_json(theirs, ours, request_path)


def compare_json(theirs, ours, request_path):
    assert list(ours) == list(theirs)
    if "info" in theirs:
        assert shape(ours["info"]) == shape(theirs["info"])
        assert ours["info"] == theirs["info"]  # seed, results, page, version
    assert len(ours["results"]) == len(theirs["results"])
    sigs = golden_signatures()
    partial = "inc=" in request_path or "exc=" in request_path
    for u in ours["results"]:
        check_user(u)
        if partial:
            assert [k for k, _ in shape(u)] == [k for k, _ in shape(theirs["results"][0])]
        else:
            assert shape(u) == sigs[u["nat"]], u["nat"]
    if "password=" in request_path:
        for u in ours["results"]:
            assert re.fullmatch(r"[A-Za-z0-9]{10,12}", u["login"]["password"])


def compare_csv(golden, ours):
    g = list(csv.reader(io.StringIO(golden)))
    o = list(csv.reader(io.StringIO(ours)))
    assert o[0] == g[0]  # header
    assert len(o) == len(g) and not ours.endswith("\n")
    assert all(len(row) == len(g[0]) for row in o)


def xml_skeleton(text):
    return [re.sub(r">[^<]*<", "><", line) for line in text.split("\n")]


def compare_xml(golden, ours):
    assert ours.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<user>\n')
    assert not ours.endswith("\n")
    assert xml_skeleton(ours) == xml_skeleton(golden)


def yaml_skeleton(text):
    out = []
    for line in text.split("\n"):
        m = re.match(r"( *)(-|[a-z]+:)(.*)", line)
        if not m:
            out.append(line)
            continue
        rest = m.group(3)
        if rest.startswith(" {"):
            rest = "{" + ",".join(re.findall(r"([a-z]+): ", rest)) + "}"
        elif rest.startswith(" '"):
            rest = "'quoted'" if rest.endswith("'") else rest
        else:
            rest = "" if rest == "" else "plain"
        out.append(m.group(1) + m.group(2) + rest)
    return out


def compare_yaml(golden, ours):
    assert ours.endswith("\n")
    g, o = yaml_skeleton(golden), yaml_skeleton(ours)
    assert len(o) == len(g)
    for gl, ol in zip(g, o):
        key = gl.strip().split(":")[0]
        # Values whose quoting depends on their text (names, phones) may differ.
        if key in ("date", "seed", "version", "large", "medium", "thumbnail", "coordinates", "-",
                   "results", "info", "page", "age", "number") or ol.endswith("{"):
            assert ol == gl
        else:
            assert ol.split(":")[0] == gl.split(":")[0]
