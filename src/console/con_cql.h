/* con_cql: the smallest Cassandra client the console needs, speaking the
 * native protocol v4 over TCP: STARTUP -> READY (the readiness check), and a
 * QUERY whose answer is one bigint (count(*)). Debian has no C driver for
 * Cassandra; this is ~300 lines and every answer is parsed defensively.
 *
 * Frame (all integers big-endian):
 *   version u8 (0x04 request, 0x84 response) | flags u8 | stream i16 |
 *   opcode u8 | length u32 | body[length]
 * Opcodes: 0x00 ERROR [int code][string msg]; 0x01 STARTUP [string map];
 *   0x05 OPTIONS (empty) -> 0x06 SUPPORTED [string multimap];
 *   0x02 READY; 0x03 AUTHENTICATE [string class]; 0x07 QUERY [long string]
 *   [short consistency][byte flags]; 0x08 RESULT [int kind] ...
 * RESULT kind 2 (Rows): [int flags][int columns] [paging state bytes if
 *   flags&2] [global table spec: string ks, string table if flags&1] per
 *   column: [ks, table unless global] [string name] [option type]; then
 *   [int rows] and per row and column [bytes] = [int n][n bytes] (n < 0: null).
 * Strings are [short n][n bytes]. A response with flag 0x08 starts with
 *   [string list] warnings = [short n] n x [string], skipped.
 * Authentication: STARTUP may be answered by AUTHENTICATE [string class]
 *   (PasswordAuthenticator); the client sends 0x0F AUTH_RESPONSE [bytes
 *   token] with the SASL PLAIN token "\0user\0password" and gets 0x10
 *   AUTH_SUCCESS [bytes] or an ERROR (0x0100: bad credentials). */
#ifndef CON_CQL_H
#define CON_CQL_H

#include <stddef.h>
#include <stdint.h>

typedef struct con_cql con_cql;

/* A role's login (us_creds reads it from the credentials file). */
typedef struct con_cql_login {
    const char *user;
    const char *password;
} con_cql_login;

/* Connects and completes STARTUP, and the login when the server asks for
 * one (login NULL: none to give, which is then the error); NULL with the
 * reason otherwise. */
con_cql *con_cql_connect(const char *host, int port, const con_cql_login *login, long timeout_ms,
                         char *err, size_t errlen);
void con_cql_close(con_cql *c);

/* OPTIONS -> SUPPORTED on an open connection: it still answers (a held
 * connection's readiness check, without a new login). */
int con_cql_ping(con_cql *c, char *err, size_t errlen);

/* Runs a query (consistency ONE) whose result is one row with one bigint
 * or int column. */
int con_cql_query_count(con_cql *c, const char *cql, int64_t *out, char *err, size_t errlen);

/* The parsers, pure, for the unit and fuzz tests. A RESULT body -> the
 * single integer of a one-row, one-column Rows result. */
int con_cql_parse_count(const uint8_t *body, size_t len, int64_t *out, char *err, size_t errlen);
/* The length of the [string list] of warnings that starts a body whose
 * frame has flag 0x08 (protocol v4), (size_t)-1 when malformed. */
size_t con_cql_warnings_len(const uint8_t *body, size_t len);
/* An ERROR body -> "code 0x2200: message". */
void con_cql_parse_error(const uint8_t *body, size_t len, char *out, size_t outlen);

#endif
