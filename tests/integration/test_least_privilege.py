"""Least privilege: every supervised process holds only its own PostgreSQL password.

`up` writes one libpq password file per role ($US_SECRETS_DIR/pgpass-<role>); a
service gets its role's file as PGPASSFILE (svc_<name>_pg_role, cmd_exec) or none,
never the operator's file ($PGPASSFILE, every role) nor the superuser's password.
"""

import json
import os
import subprocess

import pytest

# What each supervised program (and everything it starts) may log in as.
ROLES = {
    "relay": "US_PG_RELAY_USER",
    "spark_job": "US_PG_OPS_USER",
    "airflow_api_server": "US_PG_AIRFLOW_USER",
    "airflow_scheduler": "US_PG_AIRFLOW_USER",
    "airflow_dag_processor": "US_PG_AIRFLOW_USER",
    "airflow_triggerer": "US_PG_AIRFLOW_USER",
}


def programs(stack):
    """(name, main pid) of every running supervised program."""
    conf = os.path.join(stack["US_HOME"], "supervisor", "supervisord.conf")
    p = stack.run([os.path.join(stack["US_VENV"], "bin", "supervisorctl"), "-c", conf, "status"],
                  check=False)
    found = []
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[1] == "RUNNING" and parts[2] == "pid":
            found.append((parts[0], int(parts[3].rstrip(","))))
    return found


def descendants(pid):
    """pid and every process below it."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def environ(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    env = {}
    for item in raw.split(b"\0"):
        key, sep, val = item.partition(b"=")
        if sep:
            env[key.decode(errors="replace")] = val.decode(errors="replace")
    return env


def roles_in(passfile):
    with open(passfile) as f:
        return {line.split(":")[3] for line in f if line.strip() and not line.startswith("#")}


def test_per_role_password_files_hold_one_role(stack):
    for key in ("US_PG_ADMIN_USER", "US_PG_LOADER_USER", "US_PG_RELAY_USER",
                "US_PG_OPS_USER", "US_PG_AIRFLOW_USER", "US_PG_REGISTRY_USER"):
        path = os.path.join(stack["US_SECRETS_DIR"], "pgpass-" + stack[key])
        assert roles_in(path) == {stack[key]}
        assert os.stat(path).st_mode & 0o077 == 0, path


def test_every_supervised_process_holds_only_its_own_role(stack):
    admin = stack["US_PG_ADMIN_USER"]
    progs = programs(stack)
    assert progs, "no supervised program is running"
    checked = 0
    for name, main in progs:
        allowed = {stack[ROLES[name]]} if name in ROLES else set()
        for pid in descendants(main):
            env = environ(pid)
            if env is None or "US_STACK_HOME" not in env:
                continue  # gone, or PostgreSQL's children (their titles overwrite environ)
            checked += 1
            passfile = env.get("PGPASSFILE")
            if passfile:
                assert passfile != stack["PGPASSFILE"], f"{name} (pid {pid}) has the operator's file"
                held = roles_in(passfile) if os.path.exists(passfile) else set()
                assert held <= allowed, f"{name} (pid {pid}): {passfile} holds {held}, may hold {allowed}"
            else:
                assert not allowed or pid != main, f"{name} (pid {pid}) has no PGPASSFILE"
            # The superuser's login from that environment fails.
            e = {k: v for k, v in env.items() if k in ("PATH", "HOME", "PGPASSFILE", "LANG")}
            e.setdefault("PATH", os.environ["PATH"])
            p = subprocess.run(["psql", "-h", stack["US_PG_HOST"], "-p", stack["US_PG_PORT"], "-U", admin,
                                "-d", "postgres", "-w", "-XAtc", "SELECT 1"],
                               env=e, capture_output=True, text=True, timeout=30)
            assert p.returncode != 0, f"{name} (pid {pid}) can log in as {admin}"
    assert checked >= len(progs)


def test_airflow_tasks_log_in_through_their_own_connections(stack, tmp_path):
    """The DAGs log in through the Airflow Connections that `up` imports (conn_id),
    each as its own role: the loader's for the ingestion task, ops for the checks
    (airflow/dags/userstream_conf.py reads them with BaseHook.get_connection).
    Airflow's own processes hold only the airflow role's file (checked above)."""
    for conn_id, role_key in (("userstream_pg_loader", "US_PG_LOADER_USER"), ("userstream_pg_ops", "US_PG_OPS_USER")):
        out = stack.us("airflow", "connections", "get", conn_id, "-o", "json").stdout
        (c,) = json.loads(out[out.index("["):])
        assert (c["conn_type"], c["login"]) == ("postgres", stack[role_key]), conn_id
        passfile = tmp_path / f"pgpass-{conn_id}"
        pw = c["password"].replace("\\", "\\\\").replace(":", "\\:")
        fd = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"*:*:*:*:{pw}\n")
        login = ["psql", "-h", c["host"], "-p", str(c["port"]), "-d", c["schema"], "-w", "-XAtc", "SELECT current_user"]
        who = stack.run([*login, "-U", c["login"]], env={"PGPASSFILE": str(passfile)})
        assert who.stdout.strip() == stack[role_key]
        # that password opens its role only
        su = stack.run([*login, "-U", stack["US_PG_ADMIN_USER"]], check=False, env={"PGPASSFILE": str(passfile)})
        assert su.returncode != 0, conn_id


@pytest.mark.parametrize("role_key", ["US_PG_LOADER_USER", "US_PG_RELAY_USER", "US_PG_OPS_USER"])
def test_a_role_file_does_not_open_the_superuser(stack, role_key):
    passfile = os.path.join(stack["US_SECRETS_DIR"], "pgpass-" + stack[role_key])
    p = stack.run(["psql", "-h", stack["US_PG_HOST"], "-p", stack["US_PG_PORT"], "-U", stack["US_PG_ADMIN_USER"],
                   "-d", "postgres", "-w", "-XAtc", "SELECT 1"], check=False, env={"PGPASSFILE": passfile})
    assert p.returncode != 0
