#include "ld_pg.h"
#include "us_err.h"
#include "us_pg.h"

#include "ld_user.h"
#include "us_util.h"

#include <inttypes.h>
#include <stdbool.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ld_pg {
    PGconn *conn;
    char *users_columns; /* "user_id, gender, ..., run_id" */
    bool row_inserts;    /* benchmark baseline: INSERT per row instead of COPY */
    bool no_direct;      /* a page conflicted: the rest go through the temp table */
};

static int exec_ok(ld_pg *pg, const char *sql, char *err, size_t errlen)
{
    return us_pg_exec(pg->conn, "PostgreSQL", sql, 0, NULL, err, errlen);
}

ld_pg *ld_pg_connect(const us_pg_conn_opts *o, char *err, size_t errlen)
{
    us_pg_conn_opts named = *o;
    named.application_name = "userstream-load";
    ld_pg *pg = calloc(1, sizeof *pg);
    if (!pg)
        return us_errp(err, errlen, "out of memory");
    if (!(pg->conn = us_pg_connect(&named, err, errlen))) {
        ld_pg_free(pg);
        return NULL;
    }
    size_t n = 256;
    for (int c = 0; c < LD_NCOLS; c++)
        n += strlen(ld_user_columns[c]) + 2;
    pg->users_columns = malloc(n);
    if (!pg->users_columns) {
        ld_pg_free(pg);
        return us_errp(err, errlen, "out of memory");
    }
    pg->users_columns[0] = '\0';
    for (int c = 0; c < LD_NCOLS; c++) {
        strcat(pg->users_columns, ld_user_columns[c]);
        strcat(pg->users_columns, ", ");
    }
    strcat(pg->users_columns, LD_LINEAGE_COLUMNS);
    return pg;
}

void ld_pg_free(ld_pg *pg)
{
    if (!pg)
        return;
    PQfinish(pg->conn);
    free(pg->users_columns);
    free(pg);
}

int ld_pg_prepare(ld_pg *pg, char *err, size_t errlen)
{
    /* Temporary: not WAL-logged, private to this session, emptied by every
     * commit, so each batch starts from an empty table. */
    if (exec_ok(pg,
                "CREATE TEMP TABLE IF NOT EXISTS load_batch "
                "(LIKE staging.users INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
                err, errlen) < 0)
        return -1;
    return exec_ok(pg,
                   "CREATE TEMP TABLE IF NOT EXISTS load_rejects ON COMMIT DELETE ROWS AS "
                   "SELECT " LD_REJECT_COLUMNS " FROM staging.rejects WITH NO DATA",
                   err, errlen);
}

int ld_pg_run_begin(ld_pg *pg, const ld_run_info *run, int64_t *load_id, char *err, size_t errlen)
{
    char first[24], pages[24], results[24];
    snprintf(first, sizeof first, "%ld", run->first_page);
    snprintf(pages, sizeof pages, "%ld", run->pages);
    snprintf(results, sizeof results, "%ld", run->results);
    const char *params[] = {
        run->run_id, run->source_url, run->seed, first, run->pages < 0 ? NULL : pages, results};
    PGresult *r = us_pg_query(pg->conn, "cannot record the run in ops.load_runs",
                              "INSERT INTO ops.load_runs (run_id, source_url, source_seed, "
                              "first_page, pages, results_per_page) "
                              "VALUES ($1, $2, $3, $4, $5, $6) RETURNING load_id",
                              6, params, PGRES_TUPLES_OK, 1, 1, 1, err, errlen);
    if (!r)
        return -1;
    *load_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

/* COPY <target> FROM STDIN with the given text-format data. On a server
 * error, its SQLSTATE goes to `state` (when given); `rows` gets the row count. */
static int copy_in_state(ld_pg *pg, const char *sql, const us_buf *data, long *rows, char state[6],
                         char *err, size_t errlen)
{
    if (state)
        state[0] = '\0';
    PGresult *r = PQexec(pg->conn, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        us_pg_result_error(err, errlen, "COPY", r);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    int ok = PQputCopyData(pg->conn, data->data, (int)data->len) == 1;
    if (PQputCopyEnd(pg->conn, ok ? NULL : "client failed to send data") != 1)
        ok = 0;
    int rc = 0;
    while ((r = PQgetResult(pg->conn))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            us_pg_result_error(err, errlen, "COPY", r);
            const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            if (state && st)
                snprintf(state, 6, "%s", st);
            rc = -1;
        } else if (rows) {
            *rows = strtol(PQcmdTuples(r), NULL, 10);
        }
        PQclear(r);
    }
    if (!ok && rc == 0) {
        us_pg_conn_error(err, errlen, "COPY", PQerrorMessage(pg->conn));
        rc = -1;
    }
    return rc;
}

static int copy_in(ld_pg *pg, const char *sql, const us_buf *data, char *err, size_t errlen)
{
    return copy_in_state(pg, sql, data, NULL, NULL, err, errlen);
}

/* The fast path of a page: COPY straight into staging.users, inside a
 * savepoint. A new page (the usual case: user ids are random per seed and
 * page) goes in with one pass over its rows instead of two (temp table, then
 * INSERT ... SELECT): PostgreSQL spent ~40% less CPU per user. A page holding
 * a user that is already staged fails with unique_violation at that row; it
 * is rolled back to the savepoint (*conflict = true) and the caller loads it
 * through the temp table, which counts the duplicates. */
static int copy_direct(ld_pg *pg, const char *sql, const us_buf *users, long *inserted,
                       bool *conflict, char *err, size_t errlen)
{
    char state[6];
    *conflict = false;
    if (exec_ok(pg, "SAVEPOINT ld_direct", err, errlen) < 0)
        return -1;
    if (copy_in_state(pg, sql, users, inserted, state, err, errlen) == 0)
        return exec_ok(pg, "RELEASE SAVEPOINT ld_direct", err, errlen);
    if (strcmp(state, "23505") != 0) /* not a unique violation: a real error */
        return -1;
    *conflict = true;
    *inserted = 0;
    return exec_ok(pg, "ROLLBACK TO SAVEPOINT ld_direct", err, errlen);
}

static int insert_users(ld_pg *pg, long *inserted, char *err, size_t errlen)
{
    char *sql = NULL;
    if (asprintf(&sql,
                 "INSERT INTO staging.users (%s) SELECT %s FROM pg_temp.load_batch "
                 "ON CONFLICT (user_id) DO NOTHING",
                 pg->users_columns, pg->users_columns) < 0) {
        return us_errf(err, errlen, "out of memory");
    }
    PGresult *r = PQexec(pg->conn, sql);
    free(sql);
    int rc = -1;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        us_pg_result_error(err, errlen, "INSERT INTO staging.users", r);
    else {
        *inserted = strtol(PQcmdTuples(r), NULL, 10);
        rc = 0;
    }
    PQclear(r);
    return rc;
}

static int record_batch(ld_pg *pg, int64_t load_id, long page, const ld_batch_counts *c,
                        long retries, char *err, size_t errlen)
{
    char v[8][24];
    snprintf(v[0], sizeof v[0], "%" PRId64, load_id);
    snprintf(v[1], sizeof v[1], "%ld", page);
    snprintf(v[2], sizeof v[2], "%s", c->pages_rejected ? "true" : "false");
    snprintf(v[3], sizeof v[3], "%ld", c->fetched);
    snprintf(v[4], sizeof v[4], "%ld", c->staged);
    snprintf(v[5], sizeof v[5], "%ld", c->duplicates);
    snprintf(v[6], sizeof v[6], "%ld", c->rejected);
    snprintf(v[7], sizeof v[7], "%ld", retries);
    const char *params[] = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
    return us_pg_exec(pg->conn, "INSERT INTO ops.load_batches",
                      "INSERT INTO ops.load_batches (load_id, page, page_rejected, "
                      "fetched, staged, duplicates, rejected, retries) "
                      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                      8, params, err, errlen);
}

/* Unescapes one COPY text field in place (\N -> NULL); returns it. */
static char *copy_field(char *s, size_t n)
{
    if (n == 2 && s[0] == '\\' && s[1] == 'N')
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            c = s[++i];
            c = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c;
        }
        s[k++] = c;
    }
    s[k] = '\0';
    return s;
}

/* The benchmark baseline: one INSERT ... ON CONFLICT DO NOTHING per user (a
 * prepared statement, one round trip per row) instead of COPY. */
static int insert_rows(ld_pg *pg, const us_buf *users, long *inserted, char *err, size_t errlen)
{
    enum { NCOL = LD_NCOLS + 5 };
    char *copy = malloc(users->len + 1), *line = copy;
    const char *vals[NCOL];
    if (!copy)
        return us_errf(err, errlen, "out of memory");
    memcpy(copy, users->data, users->len);
    copy[users->len] = '\0';
    *inserted = 0;
    while (*line) {
        char *eol = strchr(line, '\n'), *f = line;
        *eol = '\0';
        for (int c = 0; c < NCOL; c++) {
            char *tab = c + 1 < NCOL ? strchr(f, '\t') : eol;
            vals[c] = copy_field(f, (size_t)(tab - f));
            f = tab + 1;
        }
        PGresult *r = PQexecPrepared(pg->conn, "ld_row_insert", NCOL, vals, NULL, NULL, 0);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (ok)
            *inserted += strtol(PQcmdTuples(r), NULL, 10);
        else
            us_pg_result_error(err, errlen, "INSERT INTO staging.users", r);
        PQclear(r);
        if (!ok) {
            free(copy);
            return -1;
        }
        line = eol + 1;
    }
    free(copy);
    return 0;
}

int ld_pg_use_row_inserts(ld_pg *pg, char *err, size_t errlen)
{
    char *sql = NULL, params[LD_NCOLS * 5 + 40] = "";
    for (int c = 1; c <= LD_NCOLS + 5; c++)
        snprintf(params + strlen(params), sizeof params - strlen(params), "%s$%d",
                 c > 1 ? ", " : "", c);
    if (asprintf(&sql,
                 "INSERT INTO staging.users (%s) VALUES (%s) ON CONFLICT (user_id) DO NOTHING",
                 pg->users_columns, params) < 0) {
        return us_errf(err, errlen, "out of memory");
    }
    PGresult *r = PQprepare(pg->conn, "ld_row_insert", sql, 0, NULL);
    free(sql);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc < 0)
        us_pg_result_error(err, errlen, "PREPARE", r);
    PQclear(r);
    pg->row_inserts = rc == 0;
    return rc;
}

/* The page's rejects, each record reject once per ingestion run (index
 * rejects_record_once of 011_rejects_once.sql): a rerun's rejects of records
 * already stored are skipped and counted as duplicates, like its users. */
static int insert_rejects(ld_pg *pg, const us_buf *rejects, ld_batch_counts *c, char *err,
                          size_t errlen)
{
    if (copy_in(pg, "COPY pg_temp.load_rejects (" LD_REJECT_COLUMNS ") FROM STDIN", rejects, err,
                errlen) < 0)
        return -1;
    PGresult *r = PQexec(pg->conn, "INSERT INTO staging.rejects (" LD_REJECT_COLUMNS ") "
                                   "SELECT " LD_REJECT_COLUMNS " FROM pg_temp.load_rejects "
                                   "ON CONFLICT DO NOTHING");
    int rc = -1;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        us_pg_result_error(err, errlen, "INSERT INTO staging.rejects", r);
    else {
        long inserted = strtol(PQcmdTuples(r), NULL, 10);
        if (!c->pages_rejected) { /* a page reject is always inserted; its count is not a record's
                                   */
            c->duplicates += c->rejected - inserted;
            c->rejected = inserted;
        }
        rc = 0;
    }
    PQclear(r);
    return rc;
}

int ld_pg_load(ld_pg *pg, int64_t load_id, long page, const ld_page_out *out, ld_batch_counts *c,
               long retries_total, char *err, size_t errlen)
{
    char *copy_users = NULL;
    c->staged = c->duplicates = 0;
    if (exec_ok(pg, "BEGIN", err, errlen) < 0)
        return -1;
    if (out->valid > 0) {
        bool loaded = false;
        if (pg->row_inserts) {
            if (insert_rows(pg, &out->users, &c->staged, err, errlen) < 0)
                goto fail;
            loaded = true;
        } else if (!pg->no_direct) {
            bool conflict;
            if (asprintf(&copy_users, "COPY staging.users (%s) FROM STDIN", pg->users_columns) <
                0) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            if (copy_direct(pg, copy_users, &out->users, &c->staged, &conflict, err, errlen) < 0)
                goto fail;
            loaded = !conflict;
            pg->no_direct = conflict; /* a rerun: its next pages will conflict too */
            free(copy_users);
            copy_users = NULL;
        }
        if (!loaded) {
            if (asprintf(&copy_users, "COPY pg_temp.load_batch (%s) FROM STDIN",
                         pg->users_columns) < 0) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            if (copy_in(pg, copy_users, &out->users, err, errlen) < 0 ||
                insert_users(pg, &c->staged, err, errlen) < 0)
                goto fail;
        }
        c->duplicates = out->valid - c->staged;
    }
    if (out->rejects.len > 0 && insert_rejects(pg, &out->rejects, c, err, errlen) < 0)
        goto fail;
    if (record_batch(pg, load_id, page, c, retries_total, err, errlen) < 0)
        goto fail;
    if (exec_ok(pg, "COMMIT", err, errlen) < 0)
        goto fail;
    free(copy_users);
    return 0;
fail:
    free(copy_users);
    PGresult *r = PQexec(pg->conn, "ROLLBACK");
    PQclear(r);
    return -1;
}

int ld_pg_run_end(ld_pg *pg, int64_t load_id, const char *status, int exit_code, long retries_total,
                  double seconds, char *err, size_t errlen)
{
    char id[24], code[16], retries[24], secs[32];
    snprintf(id, sizeof id, "%" PRId64, load_id);
    snprintf(code, sizeof code, "%d", exit_code);
    snprintf(retries, sizeof retries, "%ld", retries_total);
    snprintf(secs, sizeof secs, "%.6f", seconds);
    const char *params[] = {id, status, code, retries, secs};
    /* totals from the committed batches, so they agree with the tables */
    return us_pg_exec(
        pg->conn, "UPDATE ops.load_runs",
        "UPDATE ops.load_runs r SET status = $2, exit_code = $3, retries = $4, seconds = $5, "
        "finished_at = now(), updated_at = now(), pages_done = b.pages, "
        "pages_rejected = b.pages_rejected, fetched = b.fetched, staged = b.staged, "
        "duplicates = b.duplicates, rejected = b.rejected "
        "FROM (SELECT count(*) AS pages, count(*) FILTER (WHERE page_rejected) AS pages_rejected, "
        "coalesce(sum(fetched), 0) AS fetched, coalesce(sum(staged), 0) AS staged, "
        "coalesce(sum(duplicates), 0) AS duplicates, coalesce(sum(rejected), 0) AS rejected "
        "FROM ops.load_batches WHERE load_id = $1) b WHERE r.load_id = $1",
        5, params, err, errlen);
}
