"""A small client of the Confluent-compatible schema registry API (Apicurio's
/apis/ccompat/v7), with a cache of writer schemas by id.

Only what the job needs: a writer schema by its id (the id in each record's
5-byte header) and the ids of every version of the value subject. A 404 is an
answer ("no such schema"); connection errors and 5xx are retried, then raised,
so a registry outage stops the batch instead of dead-lettering good records.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Callable, Optional


class RegistryError(Exception):
    """The registry could not be asked (after retries) or answered nonsense."""


class Registry:
    def __init__(
        self,
        base_url: str,
        timeout: float = 10.0,
        attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        opener: Optional[Callable] = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.attempts = attempts
        self._sleep = sleep
        self._open = opener or urllib.request.urlopen
        self._by_id: dict[int, Optional[str]] = {}

    def _get(self, path: str):
        """JSON body of GET path, or None on 404."""
        url = self.base_url + path
        last: Exception | None = None
        for attempt in range(self.attempts):
            try:
                req = urllib.request.Request(
                    url, headers={"Accept": "application/vnd.schemaregistry.v1+json, application/json"}
                )
                with self._open(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as e:
                if e.code == 404:
                    return None
                last = e
                if e.code < 500 and e.code != 429:
                    break
            except (urllib.error.URLError, OSError, ValueError) as e:
                last = e
            self._sleep(min(0.5 * 2**attempt, 8.0))
        raise RegistryError(f"schema registry GET {url} failed: {last}")

    def schema_by_id(self, schema_id: int) -> Optional[str]:
        """The Avro schema JSON registered under `schema_id`, or None if the
        registry has no such id (or it is not an Avro schema)."""
        if schema_id in self._by_id:
            return self._by_id[schema_id]
        body = self._get(f"/schemas/ids/{int(schema_id)}")
        schema = None
        if body is not None:
            if not isinstance(body, dict) or "schema" not in body:
                raise RegistryError(f"schema id {schema_id}: unexpected answer")
            if body.get("schemaType", "AVRO").upper() == "AVRO":
                schema = body["schema"]
        # Only positive answers are cached forever; a missing id may be
        # registered later (ids are assigned in order), so it is asked again.
        if schema is not None:
            self._by_id[schema_id] = schema
        return schema

    def subject_schema_ids(self, subject: str) -> list[int]:
        """Schema ids of every version of `subject` (empty if none yet)."""
        quoted = urllib.parse.quote(subject, safe="")
        versions = self._get(f"/subjects/{quoted}/versions")
        if versions is None:
            return []
        ids = []
        for v in versions:
            body = self._get(f"/subjects/{quoted}/versions/{int(v)}")
            if body is None:
                continue
            sid = int(body["id"])
            if "schema" in body and body.get("schemaType", "AVRO").upper() == "AVRO":
                self._by_id[sid] = body["schema"]
            ids.append(sid)
        return ids

    def known(self) -> dict[int, str]:
        """Every schema fetched so far, by id."""
        return {k: v for k, v in self._by_id.items() if v is not None}
