"""A minimal Confluent-compatible schema registry for relay tests.

Serves the calls userstream-relay makes (PUT /config/{s}, POST
/subjects/{s}/versions, GET /subjects/{s}/versions/latest, GET
/schemas/ids/{id}) and can misbehave on purpose:
  --fail-first N   answer the first N calls with HTTP 500 (test 15)
  --reject         answer every registration with 409 (incompatible)
Usage: python3 relay_fake_registry.py PORT [--fail-first N] [--reject]
Prints "ready" once listening. Standard library only.
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

state = {"ids": {}, "subjects": {}, "calls": 0, "fail_first": 0, "reject": False}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def faulty(self):
        with lock:
            state["calls"] += 1
            if state["calls"] <= state["fail_first"]:
                self.reply(500, {"error_code": 50001, "message": "injected failure"})
                return True
        return False

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")

    def do_PUT(self):
        if self.faulty():
            return
        parts = [unquote(p) for p in self.path.strip("/").split("/")]
        if len(parts) == 2 and parts[0] == "config":
            self.reply(200, self.body())
        else:
            self.reply(404, {"error_code": 404, "message": "not found"})

    def do_POST(self):
        if self.faulty():
            return
        parts = [unquote(p) for p in self.path.strip("/").split("/")]
        if len(parts) != 3 or parts[0] != "subjects" or parts[2] != "versions":
            return self.reply(404, {"error_code": 404, "message": "not found"})
        if state["reject"]:
            return self.reply(409, {"error_code": 409, "message": "incompatible"})
        schema = self.body()["schema"]
        json.loads(schema)  # must be JSON
        with lock:
            sid = state["ids"].setdefault(schema, len(state["ids"]) + 1)
            versions = state["subjects"].setdefault(parts[1], [])
            if sid not in versions:
                versions.append(sid)
        self.reply(200, {"id": sid})

    def do_GET(self):
        if self.faulty():
            return
        parts = [unquote(p) for p in self.path.strip("/").split("/")]
        by_id = {v: k for k, v in state["ids"].items()}
        if len(parts) == 4 and parts[0] == "subjects" and parts[3] == "latest":
            versions = state["subjects"].get(parts[1])
            if not versions:
                return self.reply(404, {"error_code": 40401, "message": "Subject not found"})
            return self.reply(200, {"subject": parts[1], "version": len(versions),
                                    "id": versions[-1], "schema": by_id[versions[-1]]})
        if len(parts) == 3 and parts[0] == "schemas" and parts[1] == "ids":
            sid = int(parts[2])
            if sid in by_id:
                return self.reply(200, {"schema": by_id[sid]})
        self.reply(404, {"error_code": 404, "message": "not found"})


def main():
    port = int(sys.argv[1])
    if "--fail-first" in sys.argv:
        state["fail_first"] = int(sys.argv[sys.argv.index("--fail-first") + 1])
    state["reject"] = "--reject" in sys.argv
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
