/* con_retention: how long each store keeps what. The data-lifecycle keys of
 * userstream.conf (docs/lifecycle.md), as the console's environment has them
 * (every program gets the resolved configuration when it starts), grouped by
 * the store they bound, for the page's retention panel and /api/pipeline. */
#ifndef CON_RETENTION_H
#define CON_RETENTION_H

#include <jansson.h>

typedef char *(*con_retention_getenv)(const char *key);

/* [{store, key, value, meaning}] in the order of userstream.conf; value is
 * null for a key the environment lacks. get is getenv in the program. */
json_t *con_retention_config(con_retention_getenv get);

#endif
