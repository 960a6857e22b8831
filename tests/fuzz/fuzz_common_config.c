/* libFuzzer target: us_config_load_file on arbitrary file contents.
 *
 * Any input is read or refused with a "path:line: reason" message, never a
 * crash. When it is read, no value holds "${" (refused, never expanded) or a
 * newline, and a value is never longer than the line it came from; a k=v,k=v
 * value is split into pairs or refused with a reason. */
#include "us_config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const us_option opts[] = {
    {"US_A", NULL, 0, US_OPT_STRING, "default", NULL, "a"},
    {"US_B", NULL, 0, US_OPT_STRING, NULL, NULL, "b"},
    {"US_C_PORT", NULL, 0, US_OPT_INT, "8100", NULL, "c"},
    {"US_PORT_OFFSET", NULL, 0, US_OPT_INT, "0", NULL, "offset"},
    {"US_D_CONF", NULL, 0, US_OPT_PAIRS, NULL, NULL, "k=v,k=v"},
};

/* us_config_get_pairs on what the file gave US_D_CONF: a count with every
 * key non-empty and no '=' in it, or a refusal with a reason. */
static void check_pairs(const us_config *cfg)
{
    const char *pairs[2 * 8 + 1];
    char buf[8192], err[256] = "";
    int n = us_config_get_pairs(cfg, "US_D_CONF", pairs, 8, buf, sizeof buf, err, sizeof err);
    if (n < 0) {
        if (!err[0])
            abort();
        return;
    }
    for (int i = 0; i < n; i++)
        if (!pairs[2 * i][0] || strchr(pairs[2 * i], '=') || !pairs[2 * i + 1])
            abort();
    if (pairs[2 * n])
        abort();
}

static char path[64];

static void remove_file(void)
{
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/fuzz_common_config.%d", (int)getpid());
        setenv("HOME", "/home/fuzz", 1);
        atexit(remove_file);
    }
    FILE *f = fopen(path, "w");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    us_config *cfg = us_config_new(opts, sizeof opts / sizeof opts[0]);
    char err[512] = "";
    if (!cfg)
        abort();
    if (us_config_load_file(cfg, path, err, sizeof err) < 0) {
        if (strncmp(err, path, strlen(path)) != 0 || err[strlen(path)] != ':')
            abort(); /* every refusal names the file (and the line) */
    } else {
        for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
            const char *v = us_config_get(cfg, opts[i].key);
            if (v && (strstr(v, "${") || strchr(v, '\n') || strlen(v) > 4096 + 64))
                abort();
        }
        check_pairs(cfg);
    }
    us_config_free(cfg);
    return 0;
}
