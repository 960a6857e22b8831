/* Test helper: reads a configuration the way every userstream program does
 * (us_config: the file named by --config or $US_CONFIG, US_PORT_OFFSET, the
 * environment) for the keys given as arguments, and prints KEY=value for each
 * one that is set. On a refusal: the message on stderr, exit 2.
 * Usage: conf_dump KEY...   (tests/unit/conf/test_conformance.py) */
#include "us_config.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    us_option *opts = calloc((size_t)argc, sizeof *opts);
    char err[512];
    int first = 0;
    if (!opts)
        return 2;
    for (int i = 1; i < argc; i++)
        opts[i - 1] = (us_option){.key = argv[i], .kind = US_OPT_STRING, .help = "test"};
    us_config *cfg = us_config_new(opts, (size_t)(argc - 1));
    char *args[] = {"conf_dump", NULL};
    static const us_program prog = {"conf_dump", "prints a configuration", "KEY...", NULL};
    if (!cfg || us_config_parse_args(cfg, &prog, 1, args, &first, err, sizeof err) != US_PARSE_OK) {
        fprintf(stderr, "conf_dump: %s\n", cfg ? err : "out of memory");
        us_config_free(cfg);
        free(opts);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *v = us_config_get(cfg, argv[i]);
        if (v)
            printf("%s=%s\n", argv[i], v);
    }
    us_config_free(cfg);
    free(opts);
    return 0;
}
