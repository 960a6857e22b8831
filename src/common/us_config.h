/* us_config: layered configuration shared by every userstream program.
 *
 * Layers, later wins: built-in defaults -> KEY=value file -> environment ->
 * command-line flags. One table of us_option describes every setting once: its
 * key (also its environment variable and its name in userstream.conf), its
 * long flag, default and help text. The file is shared by all programs, so
 * keys a program does not know are ignored there, while a malformed line is an
 * error that names path:line.
 *
 * File syntax, the same as stack/lib/config.sh's us_conf_parse (the rules are
 * in docs/development.md; tests/unit/test_conf_conformance.py holds them to it):
 *   # comment
 *   KEY=value            whitespace around KEY and value is trimmed
 *   KEY=value # note     an unquoted value ends at whitespace + '#'
 *   KEY="value" # note   or 'value': the text between the quotes, no escapes
 *   KEY=~/dir            a leading "~/" becomes $HOME/
 *   "${" in a value is refused: nothing is expanded
 */
#ifndef US_CONFIG_H
#define US_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    US_OPT_STRING = 0, /* --flag VALUE */
    US_OPT_INT,        /* --flag N, checked by us_config_get_int */
    US_OPT_BOOL,       /* --flag (no argument) sets "true"; file/env take true/false/1/0/yes/no */
    US_OPT_PAIRS,      /* key=value settings of a library: --flag K=V, repeatable, each taken whole
                          (as kcat -X); file/env: "k=v,k=v", read by us_config_get_pairs */
} us_opt_kind;

typedef struct us_option {
    const char *key;  /* "US_PG_PORT": file key and environment variable */
    const char *flag; /* long flag without dashes ("pg-port"); NULL: not settable by flag */
    char short_flag;  /* 0: none */
    us_opt_kind kind;
    const char *def;  /* default value; NULL: unset */
    const char *meta; /* argument name in --help ("PORT"); NULL: derived from kind */
    const char *help;
} us_option;

typedef enum {
    US_ORIGIN_UNSET = 0,
    US_ORIGIN_DEFAULT,
    US_ORIGIN_FILE,
    US_ORIGIN_ENV,
    US_ORIGIN_FLAG,
} us_origin;

typedef struct us_config us_config;

/* Program identity used by --help and --version. */
typedef struct us_program {
    const char *name;    /* "userstream-load" */
    const char *summary; /* one line */
    const char *usage;   /* "[OPTION]..." */
    const char *epilog;  /* exit codes etc., may be NULL */
} us_program;

/* Result of us_config_parse_args. */
enum {
    US_PARSE_ERROR = -1, /* message in err; caller prints it with a "Try --help" hint */
    US_PARSE_OK = 0,     /* run the program */
    US_PARSE_EXIT = 1,   /* --help or --version was printed; exit 0 */
};

us_config *us_config_new(const us_option *opts, size_t n_opts);
void us_config_free(us_config *cfg);

/* Reads a KEY=value file. Unknown keys are skipped; a malformed line fails
 * with "path:line: reason". */
int us_config_load_file(us_config *cfg, const char *path, char *err, size_t errlen);

/* Applies every known key found in the environment; an empty variable counts
 * as unset. */
int us_config_load_env(us_config *cfg, char *err, size_t errlen);

int us_config_set(us_config *cfg, const char *key, const char *value, us_origin origin, char *err,
                  size_t errlen);

/* The whole layering. The file comes from --config FILE, else $US_CONFIG,
 * else none. US_PORT_OFFSET (environment, else file) is added to every
 * *_PORT setting that holds its default or file value. Handles --help, --version, --log-level LEVEL
 * and
 * --print-config (every key, value and origin; secrets masked). On
 * US_PARSE_OK, *first_arg is the index of the first positional argument. */
int us_config_parse_args(us_config *cfg, const us_program *prog, int argc, char **argv,
                         int *first_arg, char *err, size_t errlen);

const char *us_config_get(const us_config *cfg, const char *key);
us_origin us_config_origin(const us_config *cfg, const char *key);
int us_config_get_int(const us_config *cfg, const char *key, long min, long max, long *out,
                      char *err, size_t errlen);
int us_config_get_double(const us_config *cfg, const char *key, double min, double max, double *out,
                         char *err, size_t errlen);
int us_config_get_bool(const us_config *cfg, const char *key, bool *out, char *err, size_t errlen);

/* The key=value settings of a US_OPT_PAIRS key as a NULL-terminated list of
 * key, value, ... (pointers into buf, which must outlive them). From flags,
 * each flag is one setting, taken whole: its value may hold commas
 * (bootstrap.servers=a:9092,b:9092). From the file or the environment, the
 * one value "k=v,k=v" is split at the commas that start another "key=" (a
 * key: letters, digits, '.', '_', '-'), so a list value needs no quoting
 * there either. Returns the number of settings, or -1 with the reason (an
 * entry that is not key=value, more than max settings, too long for buf).
 * pairs has room for 2 * max + 1 pointers. */
int us_config_get_pairs(const us_config *cfg, const char *key, const char **pairs, size_t max,
                        char *buf, size_t buflen, char *err, size_t errlen);
/* Writes "KEY=value  # origin" lines; values of keys naming a password,
 * secret, token or key file content are masked. */
void us_config_print(const us_config *cfg, void *stream);

void us_config_print_help(const us_config *cfg, const us_program *prog, void *stream);

#endif
