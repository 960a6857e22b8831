/* relay_registry: the few calls of the Confluent-compatible schema registry
 * API the relay needs (Apicurio serves it at /apis/ccompat/v7):
 *
 *   PUT  {url}/config/{subject}            {"compatibility":"BACKWARD"}
 *   POST {url}/subjects/{subject}/versions {"schema":"...","schemaType":"AVRO"} -> {"id":N}
 *   GET  {url}/subjects/{subject}/versions/latest -> {"schema":"...",...} (404: none)
 *
 * The registry is an untrusted peer: responses are size-capped and parsed
 * with jansson; anything unexpected is an error, never a guess. */
#ifndef RELAY_REGISTRY_H
#define RELAY_REGISTRY_H

#include <stdint.h>
#include <stddef.h>

typedef struct relay_registry relay_registry;

/* Results of a call: transient errors are retried by the caller; rejected
 * means the registry answered that the schema is not acceptable. */
enum {
    RELAY_REG_OK = 0,
    RELAY_REG_TRANSIENT = -1, /* connection failure, timeout, 5xx, malformed answer */
    RELAY_REG_REJECTED = -2,  /* 409 incompatible, 422 invalid, other 4xx */
    RELAY_REG_NOT_FOUND = -3,
};

relay_registry *relay_registry_new(const char *base_url, long timeout_ms);
void relay_registry_free(relay_registry *r);
/* HTTP basic credentials for every call, from a file whose first line is
 * "user:password" (mode 0600: refused when others may read it). */
int relay_registry_set_credentials_file(relay_registry *r, const char *path, char *err,
                                        size_t errlen);

int relay_registry_set_compat(relay_registry *r, const char *subject, const char *level, char *err,
                              size_t errlen);
int relay_registry_register(relay_registry *r, const char *subject, const char *schema_json,
                            int32_t *id, char *err, size_t errlen);
/* The latest registered schema text (malloc'd) of subject. */
int relay_registry_latest(relay_registry *r, const char *subject, char **schema_json, char *err,
                          size_t errlen);

/* Parses a registry response body; exposed for the fuzz target.
 * Returns 0 and the "id" of {"id":N}, or -1. */
int relay_registry_parse_id(const char *body, size_t len, int32_t *id);

#endif
