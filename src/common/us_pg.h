/* us_pg: PostgreSQL from userstream's programs (libpq).
 *
 * A connection from the configuration (US_PG_HOST, else US_BIND, else
 * 127.0.0.1; US_PG_PORT; US_PG_DATABASE; the role from a key the program
 * names; the password from PGPASSFILE as libpq reads it, never from here),
 * with terse server messages, and a query whose result shape is checked
 * before anyone reads a value: "got 0 rows and 1 fields, expected 1..1 rows
 * and 1 fields" instead of a crash on PQgetvalue.
 *
 * Error texts never carry row values (PII): server errors are formatted by
 * us_db_error_format (SQLSTATE, primary message with quoted values blanked,
 * constraint/column/table names), never DETAIL or CONTEXT. */
#ifndef US_PG_H
#define US_PG_H

#include "us_config.h"

#include <libpq-fe.h>
#include <stddef.h>

typedef struct us_pg_conn_opts {
    const char *host, *port, *dbname, *user;
    long connect_timeout_s;       /* 0: libpq's default (wait forever) */
    const char *application_name; /* NULL: none */
} us_pg_conn_opts;

/* Fills o from cfg: host, port (checked 1-65535, its text kept in port[16]),
 * database, and the role named by the key user_key ("US_PG_LOADER_USER"). */
int us_pg_opts_from_config(const us_config *cfg, const char *user_key, us_pg_conn_opts *o,
                           char port[16], char *err, size_t errlen);

/* A connected session with PQERRORS_TERSE, or NULL and
 * "cannot connect to PostgreSQL: <libpq's message>". */
PGconn *us_pg_connect(const us_pg_conn_opts *o, char *err, size_t errlen);

/* "<what>: SQLSTATE S: primary (redacted) [names]" for a failed result; a
 * result without SQLSTATE (a client-side failure) gives "<what>: <message>". */
void us_pg_result_error(char *err, size_t errlen, const char *what, const PGresult *r);
/* "<what>: <msg>" with quoted values blanked, for connection-level messages. */
void us_pg_conn_error(char *err, size_t errlen, const char *what, const char *msg);

/* Runs sql (with nparams text parameters, NULL for SQL NULL; 0: no
 * parameters) and checks the result status is want and, for
 * PGRES_TUPLES_OK, that it has min_rows..max_rows rows of nfields fields.
 * Returns the result (the caller PQclears it) or NULL with the reason. */
PGresult *us_pg_query(PGconn *c, const char *what, const char *sql, int nparams,
                      const char *const *params, ExecStatusType want, int min_rows, int max_rows,
                      int nfields, char *err, size_t errlen);
/* us_pg_query for a statement without rows (PGRES_COMMAND_OK); 0 or -1. */
int us_pg_exec(PGconn *c, const char *what, const char *sql, int nparams, const char *const *params,
               char *err, size_t errlen);

#endif
