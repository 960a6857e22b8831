#!/usr/bin/env bash
# Re-records the fixtures on a throw-away cluster (port 18332). Run as root:
# the cluster runs as the postgres user. Not part of the test suite.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
tmp=$(mktemp -d)
chown postgres "$tmp"
pg=/usr/lib/postgresql/15/bin
su postgres -c "$pg/initdb -D $tmp/data -U postgres -A trust" >/dev/null
cat >>"$tmp/data/postgresql.conf" <<CONF
port=18332
listen_addresses='127.0.0.1'
unix_socket_directories='$tmp'
wal_level=logical
logical_decoding_work_mem=64kB
CONF
su postgres -c "$pg/pg_ctl -D $tmp/data -l $tmp/log -w start" >/dev/null
trap 'su postgres -c "$pg/pg_ctl -D $tmp/data -m immediate stop" >/dev/null; rm -rf "$tmp"' EXIT
export PGOPTIONS='-c datestyle=ISO -c timezone=UTC -c extra_float_digits=3'
c=(-h 127.0.0.1 -p 18332 -U postgres)
psql "${c[@]}" -qc 'CREATE DATABASE userstream'
psql "${c[@]}" -d userstream -q -f "$root/stack/sql/001_staging.sql"
psql "${c[@]}" -d userstream -qc 'CREATE PUBLICATION userstream_users FOR TABLE staging.users'
for s in fx1 fx2; do pg_recvlogical "${c[@]}" -d userstream --slot $s --create-slot -P pgoutput; done
psql "${c[@]}" -d userstream -q -f "$here/workload.sql" -f "$here/big_transactions.sql"
timeout 5 pg_recvlogical "${c[@]}" -d userstream --slot fx1 --start --no-loop -o proto_version=1 \
    -o publication_names=userstream_users -f "$here/pgoutput_v1.bin" || true
timeout 5 pg_recvlogical "${c[@]}" -d userstream --slot fx2 --start --no-loop -o proto_version=2 \
    -o streaming=on -o publication_names=userstream_users -f "$here/pgoutput_v2_streaming.bin" || true
# The lifecycle fixture: a slot made after the workloads above, so it holds
# lifecycle.sql only, with logical decoding messages (pgoutput's messages=on).
pg_recvlogical "${c[@]}" -d userstream --slot fx3 --create-slot -P pgoutput
psql "${c[@]}" -d userstream -q -f "$here/lifecycle.sql" >/dev/null
timeout 5 pg_recvlogical "${c[@]}" -d userstream --slot fx3 --start --no-loop -o proto_version=2 \
    -o streaming=on -o messages=true -o publication_names=userstream_users \
    -f "$here/pgoutput_v2_lifecycle.bin" || true
echo "recorded into $here"
