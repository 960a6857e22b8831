"""Schema registry: the Confluent-compatible API of Apicurio, stored in PostgreSQL."""

import json
import urllib.request
import uuid


def http(method, url, body=None, headers=None):
    """headers: the credentials of a write (stack.registry_headers()); reads are anonymous."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/vnd.schemaregistry.v1+json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


SCHEMA = {
    "type": "record", "name": "smoke", "namespace": "userstream.it",
    "fields": [
        {"name": "user_id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "email", "type": ["null", "string"], "default": None},
    ],
}


def test_register_fetch_by_id_and_survive_restart(stack):
    url = stack["US_REGISTRY_URL"]
    subject = f"it-{uuid.uuid4().hex[:8]}-value"
    reg = http("POST", f"{url}/subjects/{subject}/versions", {"schema": json.dumps(SCHEMA)}, stack.registry_headers())
    sid = reg["id"]
    assert isinstance(sid, int)

    def check():
        got = http("GET", f"{url}/schemas/ids/{sid}")
        assert json.loads(got["schema"]) == SCHEMA
        latest = http("GET", f"{url}/subjects/{subject}/versions/latest")
        assert latest["id"] == sid and latest["subject"] == subject
        assert subject in http("GET", f"{url}/subjects")

    check()
    # registering the same schema again gives the same id
    assert http("POST", f"{url}/subjects/{subject}/versions", {"schema": json.dumps(SCHEMA)}, stack.registry_headers())["id"] == sid
    stack.us("restart", "registry")
    check()
