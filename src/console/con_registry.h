/* con_registry: the schema-registry side of the console (issue 9 §3) over
 * the Confluent-compatible API (Apicurio serves it at /apis/ccompat/v7):
 *
 *   GET {url}/subjects                         -> ["s1","s2"]
 *   GET {url}/subjects/{s}/versions            -> [1,2,3]
 *   GET {url}/subjects/{s}/versions/{v}        -> {"subject","version","id","schema"}
 *   GET {url}/config/{s}, GET {url}/config     -> {"compatibilityLevel":"BACKWARD"}
 *   GET {url}/schemas/ids/{id}                 -> {"schema":"..."}
 *
 * The registry is an untrusted peer: bodies are size-capped, parsed with
 * jansson, and any unexpected shape is an error, never a crash or a guess.
 *
 * Threads: safe to use from several threads at once; each call makes its
 * own curl handle and the schema-by-id cache is guarded by a mutex.
 * con_registry_new and con_registry_free set up and release libcurl's global
 * state: call them from one thread, before and after the others. */
#ifndef CON_REGISTRY_H
#define CON_REGISTRY_H

#include "con_avro.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct con_registry con_registry;

/* base_url without a trailing slash needed; userpwd: NULL or "user:password"
 * for HTTP basic auth (never logged or returned). timeout_ms <= 0: 5000. */
con_registry *con_registry_new(const char *base_url, const char *userpwd, long timeout_ms,
                               char *err, size_t errlen);
void con_registry_free(con_registry *r);

/* {"compatibility":"BACKWARD"|null,   global level (GET /config)
 *  "subjects":[{"subject":"s","versions":[1,2],"latest":2,
 *               "compatibility":"BACKWARD"|null, (null: the subject has none of its own)
 *               "error":null|"..."}]} */
json_t *con_registry_subjects(con_registry *r, char *err, size_t errlen);

/* version: "latest" or a positive number.
 * {"subject":"s","version":2,"id":7,"schema":"<text as registered>",
 *  "schema_json":{...parsed...}|null} */
json_t *con_registry_version(con_registry *r, const char *subject, const char *version, char *err,
                             size_t errlen);

/* Structural diff of two versions of a subject (see con_avro_schema_diff). */
json_t *con_registry_diff(con_registry *r, const char *subject, const char *v1, const char *v2,
                          char *err, size_t errlen);

/* The parsed writer schema of a registry id, cached for the registry's
 * lifetime (ids are immutable). The returned schema is owned by the
 * registry: do not free it; it lives until con_registry_free. */
const con_avro_schema *con_registry_schema_by_id(con_registry *r, int32_t id, char *err,
                                                 size_t errlen);

/* Parsers of registry answers, exposed for the unit and fuzz tests. Each
 * takes a body and returns a new json_t of the documented shape or NULL. */
json_t *con_registry_parse_int_array(const char *body, size_t len, char *err, size_t errlen);
json_t *con_registry_parse_string_array(const char *body, size_t len, char *err, size_t errlen);
/* {"compatibilityLevel":"X"} or {"compatibility":"X"} -> json string "X". */
json_t *con_registry_parse_config(const char *body, size_t len, char *err, size_t errlen);
/* {"schema":"...", "id":N?, "version":N?, "subject":"..."?} -> the object,
 * checked: "schema" a string, id/version integers when present. */
json_t *con_registry_parse_schema(const char *body, size_t len, char *err, size_t errlen);

#endif
