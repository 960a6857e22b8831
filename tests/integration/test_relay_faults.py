"""userstream-relay under faults (issue 12): two relays on one slot, PostgreSQL
restarted with `pg_ctl -m immediate` under load, a silent partition, and a record
Kafka cannot take. Lanes (own table, slot, topic) as in test_relay.py."""

import os
import selectors
import signal
import socket
import threading
import time

from test_relay import (expected_keys, free_port, health, lane, lane_rows, lsn_int,  # noqa: F401 (fixture)
                        relay_ready, wait_for)


class Supervised:
    """A relay restarted when it exits 1, as supervisord does for the stack's
    relay (autorestart=unexpected, exitcodes=0,2,3,4,6,7,8)."""

    def __init__(self, lane, **extra):
        self.lane, self.extra = lane, extra
        self.exits = []
        self.proc = lane.start(**extra)
        self.stopping = False
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self):
        while not self.stopping:
            rc = self.proc.poll()
            if rc is None:
                time.sleep(0.1)
                continue
            self.exits.append(rc)
            if rc != 1 or self.stopping:
                return
            time.sleep(1)  # supervisord's restart delay is about as short
            self.proc = self.lane.start(**self.extra)

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=30)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(timeout=300)
        return self.proc.returncode

    def logs(self):
        return "".join(open(p.log_path).read() for p in self.lane.procs)


def pg_as_server_user(args):
    """pg_ctl must run as the cluster's owner (Debian's postgres user when we are root)."""
    if os.geteuid() == 0:
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *args]
    return args


def insert_idempotent(lane, first, count, txn_rows=500):
    """Lane.insert's rows, ON CONFLICT DO NOTHING: a chunk cut by a crash can be
    written again whole."""
    for start in range(first, first + count, txn_rows):
        n = min(txn_rows, first + count - start)
        lane.sql(
            f"INSERT INTO {lane.table} (user_id, first_name, last_name, email, nat, source_url, "
            f"source_seed, source_page, fetched_at, run_id) "
            f"SELECT ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'F' || g, 'L' || g, "
            f"'e' || g || '@example.com', 'CH', 'http://x', 's', g % 100, now(), 'it' "
            f"FROM generate_series({start}, {start + n - 1}) g ON CONFLICT (user_id) DO NOTHING",
            role=lane.stack["US_PG_LOADER_USER"])


def staged_keys(lane):
    return set(lane.sql(f"SELECT user_id FROM {lane.table}").split())


def topic_keys(lane):
    return {r[2] for r in lane.records() if r[3].get("us.op") in ("r", "c", "u")}


def test_second_relay_refused_while_first_snapshots(lane):
    """Item 7: one relay per slot. A second relay started while the first one
    snapshots is refused (exit 7, a message naming the holder) and never
    drops or re-creates the slot: the first delivers every row exactly once."""
    total = 300000
    lane.insert(1, total, txn_rows=100000)
    p1 = lane.start()
    wait_for(lambda: health(lane) == "snapshot", 120)
    p2 = lane.start(US_RELAY_METRICS_PORT=str(free_port(lane.stack)))
    assert p2.wait(timeout=120) == 7
    log2 = open(p2.log_path).read()
    assert "another relay is running on slot" in log2 and lane.slot in log2, log2
    assert p1.poll() is None, open(p1.log_path).read()
    wait_for(lambda: health(lane) == "streaming", 600)
    p1.send_signal(signal.SIGTERM)
    assert p1.wait(timeout=300) == 0
    recs = lane.records()
    assert {r[2] for r in recs} == expected_keys(1, total)
    assert len(recs) == total  # one snapshot: the slot was never re-created
    assert "created slot" not in log2 and "re-creating" not in log2


def pg_stop_immediate(stack):
    data = os.path.join(stack["US_HOME"], "postgres", "data")
    bindir = f"/usr/lib/postgresql/{stack.env.get('POSTGRES_MAJOR', '15')}/bin"
    stack.run(pg_as_server_user([os.path.join(bindir, "pg_ctl"), "stop", "-D", data, "-m", "immediate"]))


def pg_start(stack):
    # supervisord saw the postmaster exit 0 (expected): start it the stack's way.
    stack.us("restart", "postgres", timeout=300)


def test_pg_immediate_restart_under_load_loses_nothing(lane):
    """Item 9: PostgreSQL stopped with `pg_ctl -m immediate` (a crash: no
    shutdown checkpoint, connections cut) while rows are being written, then
    started again. The relay exits 1 once (the supervisor restarts it); the
    restarted relay does not die while the server is down but retries with a
    capped backoff, logged; it streams again within 30 s of the server's
    return, and every staged key is in Kafka."""
    chunk, chunks = 2000, 20
    sup = Supervised(lane)
    wait_for(lambda: health(lane) == "streaming", 120)
    done = threading.Event()
    errors = []

    def write():
        i = 0
        while i < chunks:
            try:
                insert_idempotent(lane, 1 + i * chunk, chunk)
                i += 1
            except AssertionError as e:  # cut by the crash: written again
                errors.append(str(e)[-200:])
                time.sleep(0.5)
        done.set()

    try:
        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        wait_for(lambda: lane_rows(lane) >= chunk, 300)
        pg_stop_immediate(lane.stack)
        try:
            # The crash ends the stream (exit 1); the restarted relay waits for the
            # server (the registry, stored in PostgreSQL, or PostgreSQL itself).
            wait_for(lambda: len(lane.procs) >= 2 and
                     open(lane.procs[-1].log_path).read().count("retrying") >= 2, 60)
            assert sup.exits == [1], (sup.exits, sup.logs())
            assert lane.procs[-1].poll() is None
        finally:
            pg_start(lane.stack)
        back = time.monotonic()
        wait_for(lambda: health(lane) == "streaming" and
                 "streaming from slot" in open(sup.proc.log_path).read(), 30)
        reconnect_s = time.monotonic() - back
        assert done.wait(timeout=600), errors
        writer.join()
        end = lane.wal_lsn()
        wait_for(lambda: lsn_int(lane.slot_state().split("|")[0]) >= lsn_int(end), 300)
    finally:
        rc = sup.stop()
    assert rc == 0, sup.logs()
    assert sup.exits == [1], sup.exits  # one restart for the crash, none while the server was down
    staged = staged_keys(lane)
    assert staged == expected_keys(1, chunk * chunks)
    assert staged <= topic_keys(lane), f"missing in Kafka: {len(staged - topic_keys(lane))}"
    assert reconnect_s <= 30


class Link:
    """A TCP forwarder on loopback between the relay and PostgreSQL, to play
    network faults without root: "down" (nothing listens: connection refused),
    "up" (bytes flow), "partition" (connections stay open but every byte is
    dropped both ways, and a close is not passed on: a silent partition)."""

    def __init__(self, target_port, host="127.0.0.1"):
        self.host, self.target = host, int(target_port)
        s = socket.socket()
        s.bind((host, 0))
        self.port = s.getsockname()[1]
        s.close()
        self.mode = "down"
        self.listener = None
        self.sel = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def set(self, mode):
        with self.lock:
            if mode != "down" and self.listener is None:
                ls = socket.socket()
                ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                ls.bind((self.host, self.port))
                ls.listen(16)
                ls.setblocking(False)
                self.listener = ls
                self.sel.register(ls, selectors.EVENT_READ, None)
            if mode == "down" and self.listener is not None:
                self.sel.unregister(self.listener)
                self.listener.close()
                self.listener = None
            self.mode = mode

    def _loop(self):
        while self.running:
            with self.lock:
                events = self.sel.select(timeout=0.05)
                for key, _ in events:
                    if key.data is None:
                        self._accept(key.fileobj)
                    else:
                        self._pump(key.fileobj, key.data)

    def _accept(self, ls):
        client, _ = ls.accept()
        server = socket.create_connection((self.host, self.target))
        for a, b in ((client, server), (server, client)):
            a.setblocking(False)
            self.sel.register(a, selectors.EVENT_READ, b)

    def _pump(self, src, dst):
        try:
            data = src.recv(65536)
        except OSError:
            data = b""
        if self.mode == "partition":
            if not data:  # a close is not passed on either
                self.sel.unregister(src)
            return
        if not data:
            for sck in (src, dst):
                try:
                    self.sel.unregister(sck)
                except (KeyError, ValueError):
                    pass
                sck.close()
            return
        dst.setblocking(True)
        dst.sendall(data)
        dst.setblocking(False)

    def close(self):
        self.set("down")
        self.running = False
        self.thread.join(timeout=5)


def test_relay_waits_for_postgres_and_notices_a_silent_partition(lane):
    """Item 9 without root: the relay reaches PostgreSQL through a loopback
    forwarder. Started while nothing listens, it retries (capped backoff,
    logged) instead of exiting. Under a silent partition (every byte dropped,
    no close: what a dead switch or firewall does), nothing arrives, not even
    a keepalive the relay asks for: after 2 x wal_sender_timeout it counts the
    connection as lost and exits 1; restarted, it resumes from the slot and
    nothing is lost."""
    lane.sql("ALTER SYSTEM SET wal_sender_timeout = '5s'")
    lane.sql("SELECT pg_reload_conf()")
    link = Link(lane.stack["US_PG_PORT"], lane.stack["US_PG_HOST"])
    sup = None
    try:
        sup = Supervised(lane, US_PG_PORT=str(link.port))
        wait_for(lambda: open(sup.proc.log_path).read().count("not accepting connections, retrying") >= 2, 60)
        assert sup.exits == [] and sup.proc.poll() is None
        link.set("up")
        wait_for(lambda: health(lane) == "streaming", 120)
        insert_idempotent(lane, 1, 1000)
        wait_for(lambda: lane_rows(lane) >= 1000, 120)
        link.set("partition")
        insert_idempotent(lane, 1001, 1000)
        wait_for(lambda: sup.exits, 120)  # 2 x 5 s without a message, plus the check's second
        assert sup.exits == [1]
        log = open(lane.procs[0].log_path).read()
        assert "no message from PostgreSQL for 10000 ms" in log, log
        link.set("up")
        wait_for(lambda: len(lane.procs) >= 2 and health(lane) == "streaming", 120)
        end = lane.wal_lsn()
        wait_for(lambda: lsn_int(lane.slot_state().split("|")[0]) >= lsn_int(end), 300)
    finally:
        if sup:
            rc = sup.stop()
        link.close()
        lane.sql("ALTER SYSTEM RESET wal_sender_timeout")
        lane.sql("SELECT pg_reload_conf()")
    assert rc == 0, sup.logs()
    assert staged_keys(lane) == expected_keys(1, 2000) and expected_keys(1, 2000) <= topic_keys(lane)


def test_record_larger_than_kafka_takes_stops_without_a_restart_loop(lane):
    """Item 8: a 2 MB row (over Kafka's message size) can never be delivered.
    The relay stops with exit 8 (not restarted, so no loop re-sending the same
    transaction while WAL piles up), the slot stays before that transaction,
    nothing is duplicated, and the reason (key and size, no value) is in
    ops.relay_stops for the console and alerting."""
    lane.insert(1, 100, txn_rows=50)
    sup = Supervised(lane)
    try:
        wait_for(lambda: lane_rows(lane) >= 100, 120)
        confirmed_before = lane.slot_state().split("|")[0]
        poison = "00000000-0000-4000-8000-000000000101"
        lane.sql(f"INSERT INTO {lane.table} (user_id, first_name, last_name, email, nat, source_url, source_seed, "
                 f"source_page, fetched_at, run_id) SELECT '{poison}', "
                 f"(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 65536)), 'L', "
                 f"'poison@example.com', 'CH', 'http://x', 's', 1, now(), 'it'",
                 role=lane.stack["US_PG_LOADER_USER"])
        lane.insert(102, 50, txn_rows=50)
        wait_for(lambda: sup.exits, 120)
        sup.thread.join(timeout=30)  # the supervisor's rule: only exit 1 is restarted
        assert sup.exits == [8], (sup.exits, sup.logs())
        assert len(lane.procs) == 1  # no restart loop
    finally:
        sup.stop()
    stop = lane.sql(f"SELECT exit_code || '|' || reason FROM ops.relay_stops WHERE slot_name = '{lane.slot}'")
    try:
        assert stop.startswith("8|record of key " + poison), stop
        assert "larger than Kafka takes" in stop and "poison@example.com" not in stop
        assert stop.split("|", 1)[1] in sup.logs()
        # The slot stays before the poison's transaction; Kafka has the rows before it, once.
        confirmed = lane.slot_state().split("|")[0]
        assert lsn_int(confirmed) >= lsn_int(confirmed_before)
        recs = lane.records()
        assert {r[2] for r in recs} == expected_keys(1, 100)
        assert len(recs) == 100
        # A restart by hand stops the same way at once, recording it again: no data moves.
        rc, log = lane.run()
        assert rc == 8 and "larger than Kafka takes" in log
        assert len(lane.records()) == 100
    finally:
        lane.sql(f"DELETE FROM ops.relay_stops WHERE slot_name = '{lane.slot}'")


def test_stack_supervisor_does_not_restart_the_relay_on_a_stop_for_good(stack):
    """The stack's relay program: exit 1 is restarted, 3/4/6/7/8 are not."""
    conf = open(os.path.join(stack["US_HOME"], "supervisor", "supervisord.conf")).read()
    relay = conf.split("[program:relay]", 1)[1].split("\n[", 1)[0]
    codes = next(line for line in relay.splitlines() if line.startswith("exitcodes=")).split("=", 1)[1]
    assert set(codes.split(",")) == {"0", "2", "3", "4", "6", "7", "8"}
    assert "autorestart=unexpected" in relay
