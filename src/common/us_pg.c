/* us_pg: see us_pg.h. */
#include "us_pg.h"
#include "us_err.h"
#include "us_util.h"

#include <stdio.h>
#include <string.h>

int us_pg_opts_from_config(const us_config *cfg, const char *user_key, us_pg_conn_opts *o,
                           char port[16], char *err, size_t errlen)
{
    long p;
    if (us_config_get_int(cfg, "US_PG_PORT", 1, 65535, &p, err, errlen) < 0)
        return -1;
    snprintf(port, 16, "%ld", p);
    const char *host = us_config_get(cfg, "US_PG_HOST");
    if (!host || !*host)
        host = us_config_get(cfg, "US_BIND");
    o->host = host && *host ? host : "127.0.0.1";
    o->port = port;
    o->dbname = us_config_get(cfg, "US_PG_DATABASE");
    o->user = us_config_get(cfg, user_key);
    return 0;
}

PGconn *us_pg_connect(const us_pg_conn_opts *o, char *err, size_t errlen)
{
    char timeout[24];
    snprintf(timeout, sizeof timeout, "%ld", o->connect_timeout_s);
    const char *keys[8], *vals[8];
    int n = 0;
    keys[n] = "host", vals[n++] = o->host;
    keys[n] = "port", vals[n++] = o->port;
    keys[n] = "dbname", vals[n++] = o->dbname;
    keys[n] = "user", vals[n++] = o->user;
    if (o->connect_timeout_s > 0)
        keys[n] = "connect_timeout", vals[n++] = timeout;
    if (o->application_name)
        keys[n] = "application_name", vals[n++] = o->application_name;
    keys[n] = NULL, vals[n] = NULL;
    PGconn *c = PQconnectdbParams(keys, vals, 0);
    if (PQstatus(c) != CONNECTION_OK) {
        us_err_set(err, errlen, "cannot connect to PostgreSQL: %s",
                   c ? PQerrorMessage(c) : "out of memory");
        if (err && errlen)
            us_str_trim(err); /* libpq's message ends with a newline */
        PQfinish(c);
        return NULL;
    }
    /* Server messages without DETAIL/CONTEXT: those carry row values (PII). */
    PQsetErrorVerbosity(c, PQERRORS_TERSE);
    return c;
}

void us_pg_conn_error(char *err, size_t errlen, const char *what, const char *msg)
{
    char clean[512];
    us_redact_quoted(msg, clean, sizeof clean);
    us_err_set(err, errlen, "%s: %s", what, clean);
}

void us_pg_result_error(char *err, size_t errlen, const char *what, const PGresult *r)
{
    if (!PQresultErrorField(r, PG_DIAG_SQLSTATE)) { /* no server error: a client-side one */
        us_pg_conn_error(err, errlen, what, r ? PQresultErrorMessage(r) : "out of memory");
        return;
    }
    us_db_error_format(
        err, errlen, what, PQresultErrorField(r, PG_DIAG_SQLSTATE),
        PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY),
        PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME), PQresultErrorField(r, PG_DIAG_COLUMN_NAME),
        PQresultErrorField(r, PG_DIAG_SCHEMA_NAME), PQresultErrorField(r, PG_DIAG_TABLE_NAME));
}

PGresult *us_pg_query(PGconn *c, const char *what, const char *sql, int nparams,
                      const char *const *params, ExecStatusType want, int min_rows, int max_rows,
                      int nfields, char *err, size_t errlen)
{
    PGresult *r =
        nparams ? PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0) : PQexec(c, sql);
    if (PQresultStatus(r) != want) {
        if (r && !PQresultErrorField(r, PG_DIAG_SQLSTATE) && !*PQresultErrorMessage(r))
            us_err_set(err, errlen, "%s: %s, expected %s", what, PQresStatus(PQresultStatus(r)),
                       PQresStatus(want));
        else
            us_pg_result_error(err, errlen, what, r);
        PQclear(r);
        return NULL;
    }
    if (want == PGRES_TUPLES_OK &&
        (PQntuples(r) < min_rows || PQntuples(r) > max_rows || PQnfields(r) != nfields)) {
        us_err_set(err, errlen, "%s: got %d rows and %d fields, expected %d..%d rows and %d fields",
                   what, PQntuples(r), PQnfields(r), min_rows, max_rows, nfields);
        PQclear(r);
        return NULL;
    }
    return r;
}

int us_pg_exec(PGconn *c, const char *what, const char *sql, int nparams, const char *const *params,
               char *err, size_t errlen)
{
    PGresult *r =
        us_pg_query(c, what, sql, nparams, params, PGRES_COMMAND_OK, 0, 0, 0, err, errlen);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}
