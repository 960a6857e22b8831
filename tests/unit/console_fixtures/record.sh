#!/usr/bin/env bash
# Records a few values of the users topic from a running stack (read-only:
# kcat without a group) with the writer schema they name, and the values
# an independent decoder (fastavro) reads from them, converted to
# con_avro's conventions. Our own synthetic data; re-run to refresh:
#   eval "$(./userstream env | sed 's/^/export /')"
#   tests/unit/console_fixtures/record.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
topic=${US_KAFKA_TOPIC_USERS:-userstream.users}
for off in 0 1 2; do
    kcat -b "$US_KAFKA_BOOTSTRAP" -C -t "$topic" -p 0 -o "$off" -c 1 -e -q -f '%s' \
        >"$here/users_p0_o$off.avro"
done
id=$(od -An -tu1 -j1 -N4 "$here/users_p0_o0.avro" | awk '{print $1*16777216+$2*65536+$3*256+$4}')
curl -sf "$US_REGISTRY_URL/schemas/ids/$id" |
    "${US_VENV:?}/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["schema"])' \
        >"$here/users_schema.json"
"$US_VENV/bin/python" - "$here" <<'PY'
import datetime, io, json, math, sys, uuid
import fastavro
here = sys.argv[1]
schema = fastavro.parse_schema(json.load(open(f"{here}/users_schema.json")))
def conv(v):
    if isinstance(v, datetime.datetime):
        return v.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    if isinstance(v, dict):
        return {k: conv(x) for k, x in v.items()}
    return v
out = []
for off in range(3):
    raw = open(f"{here}/users_p0_o{off}.avro", "rb").read()
    out.append(conv(fastavro.schemaless_reader(io.BytesIO(raw[5:]), schema)))
json.dump(out, open(f"{here}/users_expected.json", "w"), indent=1, sort_keys=True, ensure_ascii=False)
PY
