#include "us_config.h"
#include "us_err.h"

#include "us_log.h"
#include "us_util.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest accepted line in a config file; longer lines are an error rather
 * than silently split. */
#define CONFIG_LINE_MAX 4096

struct us_config {
    const us_option *opts;
    size_t n_opts;
    char *file_port_offset; /* US_PORT_OFFSET as read from the file, owned */
    char **values;          /* n_opts entries, owned; NULL = unset */
    us_origin *origins;     /* n_opts entries */
};

static const char *const origin_names[] = {"unset", "default", "file", "env", "flag"};

/* Flags every program gets; their getopt codes sit above any char value. */
enum {
    FLAG_HELP = 1000,
    FLAG_VERSION,
    FLAG_CONFIG,
    FLAG_LOG_LEVEL,
    FLAG_PRINT_CONFIG,
    FLAG_OPTION_BASE = 2000,
};

static long find_opt(const us_config *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->n_opts; i++)
        if (strcmp(cfg->opts[i].key, key) == 0)
            return (long)i;
    return -1;
}

us_config *us_config_new(const us_option *opts, size_t n_opts)
{
    us_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return NULL;
    cfg->opts = opts;
    cfg->n_opts = n_opts;
    cfg->values = calloc(n_opts ? n_opts : 1, sizeof *cfg->values);
    cfg->origins = calloc(n_opts ? n_opts : 1, sizeof *cfg->origins);
    if (!cfg->values || !cfg->origins)
        goto fail;
    for (size_t i = 0; i < n_opts; i++) {
        if (opts[i].def) {
            cfg->values[i] = strdup(opts[i].def);
            if (!cfg->values[i])
                goto fail;
            cfg->origins[i] = US_ORIGIN_DEFAULT;
        }
    }
    return cfg;
fail:
    us_config_free(cfg);
    return NULL;
}

void us_config_free(us_config *cfg)
{
    if (!cfg)
        return;
    if (cfg->values)
        for (size_t i = 0; i < cfg->n_opts; i++)
            free(cfg->values[i]);
    free(cfg->values);
    free(cfg->origins);
    free(cfg->file_port_offset);
    free(cfg);
}

/* "~/x" -> "$HOME/x"; anything else is copied. */
static char *expand_home(const char *value)
{
    const char *home = getenv("HOME");
    if (value[0] == '~' && value[1] == '/' && home && *home) {
        size_t n = strlen(home) + strlen(value);
        char *out = malloc(n);
        if (out)
            snprintf(out, n, "%s%s", home, value + 1);
        return out;
    }
    return strdup(value);
}

/* A flag's value; a repeated US_OPT_PAIRS flag adds a line to the earlier ones. */
static int add_flag(us_config *cfg, size_t i, const char *v, char *err, size_t errlen)
{
    const char *old = cfg->values[i];
    if (cfg->opts[i].kind != US_OPT_PAIRS || cfg->origins[i] != US_ORIGIN_FLAG || !old)
        return us_config_set(cfg, cfg->opts[i].key, v, US_ORIGIN_FLAG, err, errlen);
    if (strchr(v, '\n'))
        return us_errf(err, errlen, "--%s: a newline in \"%.40s\"", cfg->opts[i].flag, v);
    size_t n = strlen(old) + strlen(v) + 2;
    char *joined = malloc(n);
    if (!joined)
        return us_errf(err, errlen, "out of memory");
    snprintf(joined, n, "%s\n%s", old, v);
    free(cfg->values[i]);
    cfg->values[i] = joined;
    return 0;
}

/* Where an entry of "k=v,k=v" ends: at the first comma followed by a key
 * and '=' (see us_config_get_pairs), else at the end. */
static size_t pair_end(const char *s)
{
    for (const char *p = strchr(s, ','); p; p = strchr(p + 1, ',')) {
        size_t k =
            strspn(p + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
        if (k > 0 && p[1 + k] == '=')
            return (size_t)(p - s);
    }
    return strlen(s);
}

int us_config_get_pairs(const us_config *cfg, const char *key, const char **pairs, size_t max,
                        char *buf, size_t buflen, char *err, size_t errlen)
{
    const char *v = us_config_get(cfg, key);
    bool flags = us_config_origin(cfg, key) == US_ORIGIN_FLAG;
    size_t n = 0;
    pairs[0] = NULL;
    if (!v || !*v)
        return 0;
    if (strlen(v) >= buflen)
        return us_errf(err, errlen, "%s: longer than %zu bytes", key, buflen - 1);
    memcpy(buf, v, strlen(v) + 1);
    for (char *p = buf; *p;) {
        size_t len = flags ? strcspn(p, "\n") : pair_end(p);
        char *next = p[len] ? p + len + 1 : p + len, *eq;
        p[len] = '\0';
        if (!(eq = strchr(p, '=')) || eq == p)
            return us_errf(err, errlen, "%s: \"%.60s\" is not key=value", key, p);
        if (n >= max)
            return us_errf(err, errlen, "%s: more than %zu settings", key, max);
        *eq = '\0';
        pairs[2 * n] = p, pairs[2 * n + 1] = eq + 1, pairs[2 * n + 2] = NULL;
        n++;
        p = next;
    }
    return (int)n;
}

int us_config_set(us_config *cfg, const char *key, const char *value, us_origin origin, char *err,
                  size_t errlen)
{
    long i = find_opt(cfg, key);
    if (i < 0)
        return us_errf(err, errlen, "unknown setting %s", key);
    char *copy = expand_home(value);
    if (!copy)
        return us_errf(err, errlen, "out of memory");
    free(cfg->values[i]);
    cfg->values[i] = copy;
    cfg->origins[i] = origin;
    return 0;
}

static bool valid_key(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return false;
    return true;
}

/* The value part of a line, in place: a quoted value is the text between its
 * quotes followed by nothing but whitespace or a comment; an unquoted one ends
 * at whitespace followed by '#'. "${" is refused: nothing is expanded. Returns
 * the value, or NULL with a reason in err. */
static char *parse_value(char *raw, const char *key, char *err, size_t errlen)
{
    char *v = raw;
    while (isspace((unsigned char)*v))
        v++;
    if (*v == '"' || *v == '\'') {
        char *close = strchr(v + 1, *v);
        if (!close)
            return us_errp(err, errlen, "unterminated quote in value of %s", key);
        char *rest = close + 1;
        while (isspace((unsigned char)*rest))
            rest++;
        if (*rest != '\0' && (*rest != '#' || rest == close + 1))
            return us_errp(err, errlen, "text after the closing quote in value of %s", key);
        *close = '\0';
        v++;
    } else {
        for (char *p = v; *p; p++)
            if (*p == '#' && p > raw && isspace((unsigned char)p[-1])) {
                *p = '\0';
                break;
            }
        v = us_str_trim(v);
    }
    if (strstr(v, "${"))
        return us_errp(err, errlen, "${...} is not expanded; remove it from the value of %s", key);
    return v;
}

/* Parses one line in place. Returns 1 with key and value set, 0 for a blank or
 * comment line, -1 with a reason in err. The rules are stack/lib/config.sh's
 * (us_conf_parse), with the same messages. */
static int parse_line(char *line, char **key, char **value, char *err, size_t errlen)
{
    char *s = us_str_trim(line);
    if (*s == '\0' || *s == '#')
        return 0;
    char *eq = strchr(s, '=');
    if (!eq)
        return us_errf(err, errlen, "expected KEY=value");
    *eq = '\0';
    char *k = us_str_trim(s);
    if (!valid_key(k, strlen(k)))
        return us_errf(err, errlen, "expected KEY=value");
    char *v = parse_value(eq + 1, k, err, errlen);
    if (!v)
        return -1;
    *key = k;
    *value = v;
    return 1;
}

int us_config_load_file(us_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[CONFIG_LINE_MAX];
    char reason[256];
    int lineno = 0, rc = -1;

    if (!f)
        return us_errf(err, errlen, "%s: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f)) {
        char *key, *value;
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            snprintf(err, errlen, "%s:%d: line longer than %d bytes", path, lineno,
                     CONFIG_LINE_MAX - 2);
            goto out;
        }
        int r = parse_line(line, &key, &value, reason, sizeof reason);
        if (r < 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, reason);
            goto out;
        }
        if (r == 1 && strcmp(key, "US_PORT_OFFSET") == 0) {
            free(cfg->file_port_offset);
            cfg->file_port_offset = strdup(value);
        }
        if (r == 1 && find_opt(cfg, key) >= 0 &&
            us_config_set(cfg, key, value, US_ORIGIN_FILE, reason, sizeof reason) < 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, reason);
            goto out;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        goto out;
    }
    rc = 0;
out:
    fclose(f);
    return rc;
}

int us_config_load_env(us_config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->n_opts; i++) {
        const char *v = getenv(cfg->opts[i].key);
        if (v && *v && us_config_set(cfg, cfg->opts[i].key, v, US_ORIGIN_ENV, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* US_PORT_OFFSET (environment, else the file) is added to every *_PORT that
 * still holds its default or file value, the rule of stack/lib/config.sh: a
 * port given in the environment or by flag is final, so `./userstream env`
 * output fed back as environment is not shifted twice. Port 0 ("off", "any
 * free port") is not shifted. */
static int apply_port_offset(us_config *cfg, char *err, size_t errlen)
{
    const char *off = getenv("US_PORT_OFFSET");
    long offset = 0, port;
    char buf[24];
    if (!off || !*off)
        off = cfg->file_port_offset;
    if (!off || !*off)
        return 0;
    if (us_parse_long(off, 0, 60000, &offset) < 0)
        return us_errf(err, errlen, "US_PORT_OFFSET: \"%.32s\" is not a number in [0, 60000]", off);
    for (size_t i = 0; offset && i < cfg->n_opts; i++) {
        const char *key = cfg->opts[i].key;
        size_t n = strlen(key);
        if (n < 5 || strcmp(key + n - 5, "_PORT") != 0 || !cfg->values[i] ||
            (cfg->origins[i] != US_ORIGIN_DEFAULT && cfg->origins[i] != US_ORIGIN_FILE))
            continue;
        if (us_parse_long(cfg->values[i], 0, 65535, &port) == 0 && port == 0)
            continue; /* 0 means "off" or "any free port": it stays 0 */
        if (us_parse_long(cfg->values[i], 0, 65535, &port) < 0 || port + offset > 65535)
            return us_errf(err, errlen, "%s: \"%.16s\" plus US_PORT_OFFSET %ld is not a port", key,
                           cfg->values[i], offset);
        snprintf(buf, sizeof buf, "%ld", port + offset);
        if (us_config_set(cfg, key, buf, cfg->origins[i], err, errlen) < 0)
            return -1;
    }
    return 0;
}

const char *us_config_get(const us_config *cfg, const char *key)
{
    long i = find_opt(cfg, key);
    return i < 0 ? NULL : cfg->values[i];
}

us_origin us_config_origin(const us_config *cfg, const char *key)
{
    long i = find_opt(cfg, key);
    return i < 0 ? US_ORIGIN_UNSET : cfg->origins[i];
}

int us_config_get_int(const us_config *cfg, const char *key, long min, long max, long *out,
                      char *err, size_t errlen)
{
    const char *v = us_config_get(cfg, key);
    if (!v)
        return us_errf(err, errlen, "%s is not set", key);
    if (us_parse_long(v, min, max, out) < 0) {
        return us_errf(err, errlen, "%s: \"%.64s\" is not an integer in [%ld, %ld]", key, v, min,
                       max);
    }
    return 0;
}

int us_config_get_double(const us_config *cfg, const char *key, double min, double max, double *out,
                         char *err, size_t errlen)
{
    const char *v = us_config_get(cfg, key);
    if (!v)
        return us_errf(err, errlen, "%s is not set", key);
    if (us_parse_double(v, min, max, out) < 0) {
        return us_errf(err, errlen, "%s: \"%.64s\" is not a number in [%g, %g]", key, v, min, max);
    }
    return 0;
}

int us_config_get_bool(const us_config *cfg, const char *key, bool *out, char *err, size_t errlen)
{
    const char *v = us_config_get(cfg, key);
    if (!v) {
        *out = false;
        return 0;
    }
    if (us_parse_bool(v, out) < 0)
        return us_errf(err, errlen,
                       "%s: \"%.64s\" is not a boolean (true/false, 1/0, yes/no, on/off)", key, v);
    return 0;
}

static bool is_secret_key(const char *key)
{
    static const char *const words[] = {"PASSWORD", "SECRET", "TOKEN", "HMAC_KEY"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(key, words[i]) && !strstr(key, "_FILE"))
            return true;
    return false;
}

void us_config_print(const us_config *cfg, void *stream)
{
    FILE *f = stream;
    for (size_t i = 0; i < cfg->n_opts; i++) {
        const char *v = cfg->values[i];
        if (v && is_secret_key(cfg->opts[i].key))
            v = "********";
        /* repeated flags (US_OPT_PAIRS): one line each */
        for (const char *p = v ? v : ""; p;) {
            const char *nl = strchr(p, '\n');
            fprintf(f, "%s=%.*s  # %s\n", cfg->opts[i].key, nl ? (int)(nl - p) : (int)strlen(p), p,
                    origin_names[cfg->origins[i]]);
            p = nl ? nl + 1 : NULL;
        }
    }
}

void us_config_print_help(const us_config *cfg, const us_program *prog, void *stream)
{
    FILE *f = stream;
    fprintf(f,
            "%s - %s\n\nUsage: %s %s\n\nOptions (flag / setting in the config file and "
            "environment):\n",
            prog->name, prog->summary, prog->name, prog->usage ? prog->usage : "[OPTION]...");
    for (size_t i = 0; i < cfg->n_opts; i++) {
        const us_option *o = &cfg->opts[i];
        char left[96];
        const char *meta = o->meta ? o->meta : (o->kind == US_OPT_INT ? "N" : "VALUE");
        if (!o->flag)
            snprintf(left, sizeof left, "    (no flag)");
        else if (o->kind == US_OPT_BOOL)
            snprintf(left, sizeof left, "%c%c%c --%s", o->short_flag ? '-' : ' ',
                     o->short_flag ? o->short_flag : ' ', o->short_flag ? ',' : ' ', o->flag);
        else
            snprintf(left, sizeof left, "%c%c%c --%s %s", o->short_flag ? '-' : ' ',
                     o->short_flag ? o->short_flag : ' ', o->short_flag ? ',' : ' ', o->flag, meta);
        fprintf(f, "  %-30s %s\n  %-30s   [%s%s%s]\n", left, o->help ? o->help : "", "", o->key,
                o->def ? ", default " : "", o->def ? o->def : "");
    }
    fprintf(f, "\n  --config FILE                  read KEY=value settings (default: $US_CONFIG)\n"
               "  --log-level LEVEL              debug, info, warn, error (env US_LOG_LEVEL)\n"
               "  --print-config                 print the effective settings and exit\n"
               "  -h, --help                     show this help and exit\n"
               "  -V, --version                  show the version and exit\n");
    if (prog->epilog)
        fprintf(f, "\n%s\n", prog->epilog);
}

/* Finds --config FILE / --config=FILE before getopt runs, because the file
 * layer must be applied before the flag layer. */
static const char *prescan_config(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            return argv[i + 1];
        if (strncmp(argv[i], "--config=", 9) == 0)
            return argv[i] + 9;
    }
    return NULL;
}

static int build_longopts(const us_config *cfg, struct option **out, char **shortopts)
{
    size_t n = cfg->n_opts + 8;
    struct option *lo = calloc(n, sizeof *lo);
    char *so = calloc(cfg->n_opts * 2 + 8, 1);
    size_t k = 0, s = 0;
    if (!lo || !so) {
        free(lo);
        free(so);
        return -1;
    }
    so[s++] = '+'; /* stop at the first positional argument */
    so[s++] = ':'; /* report a missing argument as ':' rather than '?' */
    so[s++] = 'h';
    so[s++] = 'V';
    lo[k++] = (struct option){"help", no_argument, NULL, FLAG_HELP};
    lo[k++] = (struct option){"version", no_argument, NULL, FLAG_VERSION};
    lo[k++] = (struct option){"config", required_argument, NULL, FLAG_CONFIG};
    lo[k++] = (struct option){"log-level", required_argument, NULL, FLAG_LOG_LEVEL};
    lo[k++] = (struct option){"print-config", no_argument, NULL, FLAG_PRINT_CONFIG};
    for (size_t i = 0; i < cfg->n_opts; i++) {
        const us_option *o = &cfg->opts[i];
        int has_arg = o->kind == US_OPT_BOOL ? no_argument : required_argument;
        if (o->flag)
            lo[k++] = (struct option){o->flag, has_arg, NULL, FLAG_OPTION_BASE + (int)i};
        if (o->short_flag) {
            so[s++] = o->short_flag;
            if (has_arg == required_argument)
                so[s++] = ':';
        }
    }
    *out = lo;
    *shortopts = so;
    return 0;
}

static long short_to_index(const us_config *cfg, int c)
{
    for (size_t i = 0; i < cfg->n_opts; i++)
        if (cfg->opts[i].short_flag && cfg->opts[i].short_flag == c)
            return (long)i;
    return -1;
}

static int apply_log_level(const char *name, char *err, size_t errlen)
{
    us_log_level lvl;
    if (us_log_level_parse(name, &lvl) < 0)
        return us_errf(err, errlen, "unknown log level \"%.32s\" (debug, info, warn, error, off)",
                       name);
    us_log_set_level(lvl);
    return 0;
}

int us_config_parse_args(us_config *cfg, const us_program *prog, int argc, char **argv,
                         int *first_arg, char *err, size_t errlen)
{
    struct option *lo = NULL;
    char *so = NULL;
    bool print_config = false;
    int rc = US_PARSE_ERROR;
    const char *env_level = getenv("US_LOG_LEVEL");
    const char *file = prescan_config(argc, argv);

    if (!file) {
        file = getenv("US_CONFIG");
        if (file && !*file)
            file = NULL;
    }
    if (file && us_config_load_file(cfg, file, err, errlen) < 0)
        return US_PARSE_ERROR;
    if (apply_port_offset(cfg, err, errlen) < 0 || us_config_load_env(cfg, err, errlen) < 0)
        return US_PARSE_ERROR;
    if (env_level && *env_level && apply_log_level(env_level, err, errlen) < 0)
        return US_PARSE_ERROR;
    if (build_longopts(cfg, &lo, &so) < 0) {
        snprintf(err, errlen, "out of memory");
        return US_PARSE_ERROR;
    }
    optind = 1;
    opterr = 0;
    for (;;) {
        int idx = -1;
        int c = getopt_long(argc, argv, so, lo, &idx);
        if (c == -1)
            break;
        long oi = -1;
        switch (c) {
        case 'h':
        case FLAG_HELP:
            us_config_print_help(cfg, prog, stdout);
            rc = US_PARSE_EXIT;
            goto out;
        case 'V':
        case FLAG_VERSION:
            printf("%s %s\n", prog->name, US_VERSION);
            rc = US_PARSE_EXIT;
            goto out;
        case FLAG_CONFIG:
            continue; /* already loaded by prescan_config */
        case FLAG_LOG_LEVEL:
            if (apply_log_level(optarg, err, errlen) < 0)
                goto out;
            continue;
        case FLAG_PRINT_CONFIG:
            print_config = true;
            continue;
        case '?':
            if (optopt)
                snprintf(err, errlen, "invalid option -%c", optopt);
            else
                snprintf(err, errlen, "invalid option %s", argv[optind - 1]);
            goto out;
        case ':':
            snprintf(err, errlen, "option %s needs an argument", argv[optind - 1]);
            goto out;
        default:
            oi = c >= FLAG_OPTION_BASE ? c - FLAG_OPTION_BASE : short_to_index(cfg, c);
            break;
        }
        if (oi < 0 || (size_t)oi >= cfg->n_opts) {
            snprintf(err, errlen, "invalid option");
            goto out;
        }
        const char *v = cfg->opts[oi].kind == US_OPT_BOOL ? "true" : optarg;
        if (!v) {
            snprintf(err, errlen, "option --%s needs an argument", cfg->opts[oi].flag);
            goto out;
        }
        if (add_flag(cfg, (size_t)oi, v, err, errlen) < 0)
            goto out;
    }
    if (print_config) {
        us_config_print(cfg, stdout);
        rc = US_PARSE_EXIT;
        goto out;
    }
    *first_arg = optind;
    rc = US_PARSE_OK;
out:
    free(lo);
    free(so);
    return rc;
}
