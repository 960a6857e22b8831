"""registry.py against a fake HTTP opener: ids, 404, retries, subject versions."""

import io
import json
import urllib.error

import pytest

from userstream_spark.registry import Registry, RegistryError


class FakeOpener:
    def __init__(self, routes):
        self.routes = routes  # path -> list of (status, body) answered in turn
        self.calls = []

    def __call__(self, req, timeout=None):
        path = req.full_url.split("/apis/ccompat/v7", 1)[1]
        self.calls.append(path)
        answers = self.routes.get(path, [(404, {"error_code": 40403})])
        status, body = answers.pop(0) if len(answers) > 1 else answers[0]
        if status != 200:
            raise urllib.error.HTTPError(req.full_url, status, "x", {}, io.BytesIO(json.dumps(body).encode()))
        return io.BytesIO(json.dumps(body).encode())


def reg(routes):
    op = FakeOpener(routes)
    return Registry("http://r/apis/ccompat/v7/", opener=op, sleep=lambda s: None), op


def test_schema_by_id_is_cached():
    r, op = reg({"/schemas/ids/3": [(200, {"schema": '{"type":"record"}'})]})
    assert r.schema_by_id(3) == '{"type":"record"}'
    assert r.schema_by_id(3) == '{"type":"record"}'
    assert op.calls == ["/schemas/ids/3"]


def test_missing_id_is_none_and_asked_again():
    r, op = reg({})
    assert r.schema_by_id(9) is None and r.schema_by_id(9) is None
    assert len(op.calls) == 2


def test_server_errors_are_retried_then_raised():
    r, op = reg({"/schemas/ids/1": [(503, {}), (200, {"schema": "{}"})]})
    assert r.schema_by_id(1) == "{}"
    r, op = reg({"/schemas/ids/1": [(500, {})]})
    with pytest.raises(RegistryError):
        r.schema_by_id(1)
    assert len(op.calls) == 5


def test_non_avro_schema_is_not_used():
    r, _ = reg({"/schemas/ids/4": [(200, {"schema": "syntax = 'proto3';", "schemaType": "PROTOBUF"})]})
    assert r.schema_by_id(4) is None


def test_subject_versions():
    r, _ = reg({
        "/subjects/userstream.users-value/versions": [(200, [1, 2])],
        "/subjects/userstream.users-value/versions/1": [(200, {"id": 11, "version": 1, "schema": "{}"})],
        "/subjects/userstream.users-value/versions/2": [(200, {"id": 12, "version": 2, "schema": "{ }"})],
    })  # fmt: skip
    assert r.subject_schema_ids("userstream.users-value") == [11, 12]
    assert r.known() == {11: "{}", 12: "{ }"}
    r2, _ = reg({})
    assert r2.subject_schema_ids("nothing-value") == []
