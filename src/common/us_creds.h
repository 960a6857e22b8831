/* us_creds: engine credentials of the programs, read from the 0600 files
 * that `up` writes (docs/development.md, roles and secrets); never argv,
 * never the environment, never a log line. One reader for the relay and
 * the console:
 *
 *  - Kafka: librdkafka properties (US_KAFKA_*_CLIENT_FILE), one "key=value"
 *    per line, '#' comments and blank lines skipped, as kcat -F reads them
 *    (security.protocol, sasl.mechanisms, sasl.username, sasl.password);
 *  - Cassandra: cqlsh's credentials file (US_CASSANDRA_*_CREDENTIALS):
 *        [plain_text_auth]
 *        username = console_reader
 *        password = ...
 *    ("key = value" or "key: value"; other sections are skipped);
 *  - the registry: one line "user:password" (US_REGISTRY_*_CREDENTIALS),
 *    as curl --user takes it. */
#ifndef US_CREDS_H
#define US_CREDS_H

#include <stddef.h>

/* Reads a whole secret file (< buflen bytes) into buf, NUL-terminated.
 * Refused: a file that group or others may read, a larger one. */
int us_creds_read(const char *path, char *buf, size_t buflen, char *err, size_t errlen);

/* Splits properties text in place into pairs[0..2n-1] (key, value) after
 * the n0 pairs already there, NULL-terminated; at most max_pairs pairs in
 * all. The message of a bad line names its number, never its text. */
int us_creds_properties(char *text, const char **pairs, size_t n0, size_t max_pairs, char *err,
                        size_t errlen);

/* The first line of text, "user:password" (its newline cut off in place). */
int us_creds_userpass(char *text, char *err, size_t errlen);

/* The username and password of the [plain_text_auth] section. */
int us_creds_cql(const char *text, char *user, size_t userlen, char *pass, size_t passlen,
                 char *err, size_t errlen);

#endif
