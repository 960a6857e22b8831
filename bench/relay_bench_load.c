/* relay_bench_load: paced inserts into a staging-shaped table for the
 * relay-vs-Debezium benchmark (bench/relay_vs_debezium.py).
 *
 *   relay_bench_load CONNINFO TABLE FIRST_ID ROWS ROWS_PER_TXN RATE OUT
 *
 * Inserts ROWS rows with user ids FIRST_ID.. in single-statement transactions
 * of ROWS_PER_TXN rows, at RATE rows/s (0: as fast as possible), and writes
 * "first_id count commit_unix_us" per transaction to OUT, the commit time
 * being when COMMIT returned to this client (an upper bound of the real
 * commit, so latencies measured from it are slightly low, equally for every
 * system measured). */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long now_us(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: %s CONNINFO TABLE FIRST_ID ROWS ROWS_PER_TXN RATE OUT\n", argv[0]);
        return 2;
    }
    long long first = atoll(argv[3]), rows = atoll(argv[4]), per = atoll(argv[5]),
              rate = atoll(argv[6]);
    PGconn *c = PQconnectdb(argv[1]);
    FILE *out = fopen(argv[7], "w");
    if (PQstatus(c) != CONNECTION_OK || !out || per < 1) {
        fprintf(stderr, "relay_bench_load: %s\n", PQerrorMessage(c));
        return 1;
    }
    char sql[2048];
    long long start = now_us(CLOCK_MONOTONIC);
    for (long long done = 0; done < rows; done += per) {
        long long n = rows - done < per ? rows - done : per, a = first + done;
        if (rate > 0) { /* pace: transaction k starts at k * per / rate seconds */
            long long due = start + done * 1000000 / rate, t = now_us(CLOCK_MONOTONIC);
            if (due > t) {
                struct timespec d = {(due - t) / 1000000, ((due - t) % 1000000) * 1000};
                nanosleep(&d, NULL);
            }
        }
        snprintf(sql, sizeof sql,
                 "INSERT INTO %s (user_id, gender, title, first_name, last_name, "
                 "street_number, street_name, city, state, country, postcode, latitude, "
                 "longitude, tz_offset, tz_description, email, username, dob, registered_at, "
                 "phone, cell, id_name, id_value, picture_large, picture_medium, "
                 "picture_thumbnail, nat, source_url, source_seed, source_page, fetched_at, "
                 "run_id) "
                 "SELECT ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, "
                 "'female', 'Ms', 'First' || g, 'Last' || g, g %% 9999, 'Main Street', "
                 "'Zurich', 'ZH', 'Switzerland', '8001', 47.3769, 8.5417, '+1:00', "
                 "'Brussels, Copenhagen, Madrid, Paris', 'user' || g || '@example.com', "
                 "'user' || g, '1990-05-17 10:11:12+00', '2015-01-01 00:00:00+00', "
                 "'(044) 123 45 67', '(079) 123 45 67', 'AVS', '756.1234.5678.90', "
                 "'https://randomuser.me/api/portraits/women/1.jpg', "
                 "'https://randomuser.me/api/portraits/med/women/1.jpg', "
                 "'https://randomuser.me/api/portraits/thumb/women/1.jpg', 'CH', "
                 "'http://127.0.0.1/api/1.4/', 'bench', 1, now(), 'bench' "
                 "FROM generate_series(%lld, %lld) g",
                 argv[2], a, a + n - 1);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "relay_bench_load: %s", PQerrorMessage(c));
            return 1;
        }
        PQclear(r);
        fprintf(out, "%lld %lld %lld\n", a, n, now_us(CLOCK_REALTIME));
    }
    fclose(out);
    PQfinish(c);
    return 0;
}
