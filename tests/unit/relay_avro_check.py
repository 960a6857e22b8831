"""Checks the relay's Avro encoding with an independent decoder (fastavro).

Runs relay_avro_dump on a recorded pgoutput stream; for every row, decodes
the relay's bytes with fastavro against the relay's own schema and compares
each field with PostgreSQL's text of the value, converted here in Python
(with its own calendar arithmetic, not the relay's).
Usage: relay_avro_check.py DUMP_BINARY FIXTURE   (exit 77: fastavro missing)
"""
import datetime
import io
import json
import math
import re
import subprocess
import sys

try:
    import fastavro
    from fastavro import read as fastavro_read
except ImportError:
    print("fastavro not installed: skipped")
    sys.exit(77)

# Compare raw numbers for the logical types: infinity maps to the int64/int32
# limits, which no datetime can hold.
for name in ("long-timestamp-micros", "int-date"):
    fastavro_read.LOGICAL_READERS.pop(name, None)

EPOCH_JDN = 2440588  # Julian day number of 1970-01-01


def jdn(y, m, d):
    """PostgreSQL's date2j (proleptic Gregorian, astronomical years)."""
    if m > 2:
        m, y = m + 1, y + 4800
    else:
        m, y = m + 13, y + 4799
    century = y // 100
    j = y * 365 - 32167 + y // 4 - century + century // 4 + 7834 * m // 256 + d
    return j


TS = re.compile(r"^(\d+)-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:([+-])(\d\d)(?::(\d\d))?)?)?( BC)?$")


def pg_time(text, date_only):
    if text in ("infinity", "-infinity"):
        big = (2**31 - 1) if date_only else (2**63 - 1)
        return big if text == "infinity" else -big - 1
    m = TS.match(text)
    assert m, text
    y, mo, d = int(m[1]), int(m[2]), int(m[3])
    if m[11]:
        y = 1 - y
    days = jdn(y, mo, d) - EPOCH_JDN
    if date_only:
        return days
    secs = days * 86400 + int(m[4]) * 3600 + int(m[5]) * 60 + int(m[6])
    if m[8]:
        off = int(m[9]) * 3600 + int(m[10] or 0) * 60
        secs -= off if m[8] == "+" else -off
    frac = int((m[7] or "0").ljust(6, "0"))
    return secs * 1_000_000 + frac


def expect(avro_type, text):
    t = avro_type[1] if isinstance(avro_type, list) else avro_type
    logical = t.get("logicalType") if isinstance(t, dict) else None
    base = t["type"] if isinstance(t, dict) else t
    if text is None:
        return None
    if logical == "timestamp-micros":
        return pg_time(text, False)
    if logical == "date":
        return pg_time(text, True)
    if base in ("int", "long"):
        return int(text)
    if base in ("float", "double"):
        return float(text)
    if base == "boolean":
        return text == "t"
    return text


def same(a, b, base):
    if hasattr(a, "hex") and hasattr(a, "version"):  # fastavro's uuid.UUID
        a = str(a)
    if isinstance(b, float):
        if math.isnan(b):
            return isinstance(a, float) and math.isnan(a)
        if base == "float":
            return abs(a - b) <= abs(b) * 1e-6
    return a == b


def main():
    out = subprocess.run([sys.argv[1], sys.argv[2]], check=True, capture_output=True, text=True).stdout
    rows = 0
    for line in out.splitlines():
        rec = json.loads(line)
        schema = json.loads(rec["schema"])
        parsed = fastavro.parse_schema(schema)
        buf = io.BytesIO(bytes.fromhex(rec["avro"]))
        got = fastavro.schemaless_reader(buf, parsed)
        assert buf.read() == b"", "trailing bytes after the record"
        fields = schema["fields"]
        for f, text in zip(fields, rec["text"]):
            want = expect(f["type"], text)
            t = f["type"][1] if isinstance(f["type"], list) else f["type"]
            base = t["type"] if isinstance(t, dict) else t
            if not same(got[f["name"]], want, base):
                print(f"row {rows}: {f['name']}: got {got[f['name']]!r}, want {want!r} (text {text!r})")
                return 1
        assert got["__op"] == "c" and got["__lsn"] == 1234567 and got["__seq"] == 7
        assert got["__commit_ts"] == 1700000000000000
        rows += 1
    assert rows > 500, rows
    print(f"{rows} rows decoded by fastavro {fastavro.__version__} and equal to PostgreSQL's text")
    return 0


if __name__ == "__main__":
    sys.exit(main())
