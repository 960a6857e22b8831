/* Unit tests of ld_page, ld_json (page level), ld_text and ld_copy, with the
 * reference responses of the real service in ../shared/randomuser-golden
 * (beside the clone) when present; the tests that need them skip otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ld_copy.h"
#include "ld_json.h"
#include "ld_page.h"
#include "ld_text.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char golden_dir[4096];

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return b;
}

static ld_page_ctx ctx_for(const char *seed, long page, long expected)
{
    return (ld_page_ctx){"http://127.0.0.1:1/api/?seed=x", seed,    page, expected,
                         "2026-01-01T00:00:00.000000Z",    "run-1", 65536};
}

static long count_lines(const us_buf *b)
{
    long n = 0;
    for (size_t i = 0; i < b->len; i++)
        n += b->data[i] == '\n';
    return n;
}

/* No credential value of the page's records appears in text. */
static void assert_no_credentials(const char *page, size_t len, const char *text)
{
    json_t *root = json_loadb(page, len, 0, NULL);
    if (!root)
        return;
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(root, "results"), i, u)
    {
        json_t *login = json_object_get(u, "login");
        const char *keys[] = {"password", "salt", "md5", "sha1", "sha256"};
        for (int k = 0; k < 5; k++) {
            const char *v = json_string_value(json_object_get(login, keys[k]));
            char field[512];
            /* a password can be a plain word that is also part of a name or
             * username: look for it as a whole COPY field; the random salt
             * and hashes must not appear anywhere */
            snprintf(field, sizeof field, k == 0 ? "\t%s\t" : "%s", v ? v : "");
            if (v && strlen(v) >= 6 && strstr(text, field))
                fail_msg("credential %s (%s) appears in the output", keys[k], v);
        }
    }
    json_decref(root);
}

/* Every golden JSON response with full records loads without a reject. */
static void test_golden_pages(void **state)
{
    DIR *d = opendir(golden_dir);
    if (!d)
        skip();
    struct dirent *e;
    int checked = 0;
    ld_page_out out;
    ld_page_out_init(&out);
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (!strstr(n, ".json") || strstr(n, "inc=") || strstr(n, "exc=") ||
            strstr(n, "callback") || strstr(n, "lego") || strstr(n, "noinfo"))
            continue;
        char path[8192], reason[256];
        size_t len;
        snprintf(path, sizeof path, "%s/%s", golden_dir, n);
        char *body = read_file(path, &len);
        json_t *root = json_loadb(body, len, 0, NULL);
        json_t *info = json_object_get(root, "info");
        ld_page_ctx ctx = ctx_for(json_string_value(json_object_get(info, "seed")),
                                  (long)json_integer_value(json_object_get(info, "page")),
                                  (long)json_integer_value(json_object_get(info, "results")));
        int st = ld_page_process(body, len, &ctx, &out, reason, sizeof reason);
        if (st != LD_PAGE_OK || out.rejected != 0)
            fail_msg("%s: status %d, %ld rejected: %s", n, st, out.rejected, reason);
        assert_int_equal(out.valid, (long)json_array_size(json_object_get(root, "results")));
        assert_int_equal(count_lines(&out.users), out.valid);
        assert_no_credentials(body, len, out.users.data);
        json_decref(root);
        free(body);
        checked++;
    }
    closedir(d);
    ld_page_out_free(&out);
    assert_true(checked >= 20);
}

static char *golden(const char *prefix, size_t *len)
{
    DIR *d = opendir(golden_dir);
    if (!d)
        return NULL;
    struct dirent *e;
    char *body = NULL;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", golden_dir, e->d_name);
            body = read_file(path, len);
            break;
        }
    closedir(d);
    return body;
}

static void test_golden_partial_records(void **state)
{
    size_t len;
    char reason[256];
    ld_page_out out;
    char *body = golden("10_", &len); /* inc=gender,name,nat */
    if (!body)
        skip();
    ld_page_out_init(&out);
    ld_page_ctx ctx = ctx_for("foobar", 1, 3);
    assert_int_equal(ld_page_process(body, len, &ctx, &out, reason, sizeof reason), LD_PAGE_OK);
    assert_int_equal(out.rejected, 3);
    assert_int_equal(out.valid, 0);
    assert_non_null(strstr(out.rejects.data, "location: missing"));
    free(body);
    body = golden("11_", &len); /* exc=login,picture */
    assert_int_equal(ld_page_process(body, len, &ctx, &out, reason, sizeof reason), LD_PAGE_OK);
    assert_int_equal(out.rejected, 3);
    assert_non_null(strstr(out.rejects.data, "login: missing"));
    free(body);
    body = golden("00_", &len); /* records rejected for a wrong seed: none; raw text scrubbed */
    ctx = ctx_for("foobar", 1, 10);
    assert_int_equal(ld_page_process(body, len, &ctx, &out, reason, sizeof reason), LD_PAGE_OK);
    free(body);
    ld_page_out_free(&out);
}

static void test_bad_pages(void **state)
{
    size_t len;
    char reason[256];
    ld_page_out out;
    ld_page_out_init(&out);
    char *body = golden("00_", &len);
    if (!body)
        skip();
    ld_page_ctx ctx = ctx_for("foobar", 1, 10);
    /* truncated */
    assert_int_equal(ld_page_process(body, len / 2, &ctx, &out, reason, sizeof reason),
                     LD_PAGE_BAD);
    assert_int_equal(out.valid + out.rejected, 0);
    /* invalid UTF-8 in the middle */
    char *bad = malloc(len);
    memcpy(bad, body, len);
    bad[200] = (char)0xff;
    assert_int_equal(ld_page_process(bad, len, &ctx, &out, reason, sizeof reason), LD_PAGE_BAD);
    assert_non_null(strstr(reason, "UTF-8"));
    free(bad);
    /* another seed or page than asked */
    ld_page_ctx other = ctx_for("foobaz", 1, 10);
    assert_int_equal(ld_page_process(body, len, &other, &out, reason, sizeof reason), LD_PAGE_BAD);
    other = ctx_for("foobar", 2, 10);
    assert_int_equal(ld_page_process(body, len, &other, &out, reason, sizeof reason), LD_PAGE_BAD);
    /* fewer users than asked */
    other = ctx_for("foobar", 1, 20);
    assert_int_equal(ld_page_process(body, len, &other, &out, reason, sizeof reason),
                     LD_PAGE_SHORT);
    assert_int_equal(out.valid, 10);
    /* not JSON, empty, JSONP, wrong shapes */
    const char *bodies[] = {"",
                            "<html>",
                            "cb({\"results\":[]});",
                            "[]",
                            "{\"results\":{}}",
                            "{\"info\":{}}",
                            "{\"results\":[]} x",
                            "{\"results\":[],\"results\":[]}"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        assert_int_equal(
            ld_page_process(bodies[i], strlen(bodies[i]), &ctx, &out, reason, sizeof reason),
            LD_PAGE_BAD);
    free(body);
    ld_page_out_free(&out);
}

/* An 18-character seed is answered with its nationality index appended again
 * (randomuser-api.md §6.5): that page is the one asked for; other seeds are not. */
static void test_seed18_info(void **state)
{
    /* the index as JavaScript's parseInt(last two, 16) reads it */
    assert_int_equal(ld_seed_nat_index("abcdefabcdefabcd0a"), 10);
    assert_int_equal(ld_seed_nat_index("abcdefabcdefabcd14"), 20);
    assert_int_equal(ld_seed_nat_index("abcdefabcdefabcd0z"), 0);
    assert_int_equal(ld_seed_nat_index("abcdefabcdefabcd15"), LD_SEED_BAD_NAT);
    assert_int_equal(ld_seed_nat_index("abcdefabcdefabcdz0"), LD_SEED_BAD_NAT);
    assert_int_equal(ld_seed_nat_index("abcdefabcdefabcd"), LD_SEED_PLAIN);
    assert_int_equal(ld_seed_nat_index("abcdefabcdefab\xc3\xa9"
                                       "0a"),
                     LD_SEED_PLAIN);
    size_t len;
    char reason[256];
    ld_page_out out;
    ld_page_out_init(&out);
    char *body = golden("16_", &len); /* info.seed "abcdefabcdefabcd0a0a" */
    if (!body)
        skip();
    ld_page_ctx ctx = ctx_for("abcdefabcdefabcd0a", 1, 1);
    assert_int_equal(ld_page_process(body, len, &ctx, &out, reason, sizeof reason), LD_PAGE_OK);
    assert_int_equal(out.valid, 1);
    const char *others[] = {"abcdefabcdefabcd", "abcdefabcdefabcd0b", "abcdefabcdefabcd0a0a0",
                            "abcdefabcdefabc0a"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        ctx = ctx_for(others[i], 1, 1);
        assert_int_equal(ld_page_process(body, len, &ctx, &out, reason, sizeof reason),
                         LD_PAGE_BAD);
        assert_non_null(strstr(reason, "info.seed"));
    }
    free(body);
    ld_page_out_free(&out);
}

static void test_page_reject_scrubbed(void **state)
{
    const char page[] = "{\"results\":[{\"login\":{\"uuid\":\"u\",\"password\":\"topsecret1\","
                        "\"salt\":\"saltsalt\",\"sha256\":\"deadbeefcafe";
    ld_page_out out;
    ld_page_out_init(&out);
    ld_page_ctx ctx = ctx_for("s", 1, 1);
    assert_int_equal(ld_page_reject(&ctx, "page: not JSON", page, sizeof page - 1, &out), 0);
    assert_null(strstr(out.rejects.data, "topsecret1"));
    assert_null(strstr(out.rejects.data, "saltsalt"));
    assert_null(strstr(out.rejects.data, "deadbeef"));
    assert_non_null(strstr(out.rejects.data, "\"uuid\":\"u\""));
    assert_int_equal(count_lines(&out.rejects), 1);
    ld_page_out_free(&out);
}

static char *safe(const char *s, size_t n, size_t max)
{
    us_buf b = {0};
    assert_int_equal(ld_text_safe(&b, s, n, max), 0);
    return b.data ? b.data : strdup("");
}

static void test_text_safe(void **state)
{
    const char *cred = "{\"password\" : \"p\\\"w\",\"md5\":12345,\"x\":1}";
    char *t = safe(cred, strlen(cred), 1000);
    assert_string_equal(t, "{\"password\" : \"[removed]\",\"md5\":\"[removed]\",\"x\":1}");
    free(t);
    t = safe("{\"pass\\u0077ord\":\"secret\"}", 26, 1000);
    assert_null(strstr(t, "secret"));
    free(t);
    t = safe("a\xff"
             "b\0c",
             5, 1000);
    assert_string_equal(t, "a\\xFFb\\x00c");
    free(t);
    t = safe("\xed\xa0\x80", 3, 1000); /* UTF-8 encoded surrogate */
    assert_string_equal(t, "\\xED\\xA0\\x80");
    free(t);
    t = safe("abcdefgh", 8, 4);
    assert_string_equal(t, "abcd...[4 more bytes not stored]");
    free(t);
    t = safe("\"salt\"", 6, 100); /* a key at the very end */
    assert_string_equal(t, "\"salt\"");
    free(t);
}

static void test_copy_escape(void **state)
{
    us_buf b = {0};
    ld_copy_value(&b, "a\tb\nc\\d\re", 9);
    ld_copy_sep(&b);
    ld_copy_value(&b, NULL, 0);
    ld_copy_eol(&b);
    assert_string_equal(b.data, "a\\tb\\nc\\\\d\\re\t\\N\n");
    us_buf_free(&b);
}

/* The scanner accepts exactly what jansson accepts. */
static void test_scanner_matches_jansson(void **state)
{
    const char *docs[] = {
        "{}",
        "[]",
        "1",
        "-0",
        "01",
        "1.",
        ".5",
        "1e5",
        "1E+5",
        "-",
        "\"a\"",
        "\"\\u0000\"",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\ud83d\\ude00\"",
        "\"\\x\"",
        "\"\t\"",
        "[1,]",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "tru",
        "true",
        "null ",
        " false",
        "[1 2]",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775809",
        "1e400",
        "1e-400",
        "\"\xc3\xa9\"",
        "\"\xc3\"",
        "\"\xe0\x80\x80\"",
        "\"\xf4\x90\x80\x80\"",
        "{\"a\":{\"b\":[{}]}}",
        "[[[[[[]]]]]]",
        "\"abc",
        "{\"a\":1}}",
        "\xef\xbb\xbf{}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        json_error_t e;
        json_t *j = json_loadb(docs[i], strlen(docs[i]), JSON_DECODE_ANY, &e);
        int ours = ld_json_validate(docs[i], strlen(docs[i]));
        if ((j != NULL) != (ours == 0))
            fail_msg("disagree on %s: jansson %s, ld_json %s", docs[i], j ? "ok" : e.text,
                     ours == 0 ? "ok" : "invalid");
        json_decref(j);
    }
    /* stricter than jansson on purpose: its reader skips NUL bytes between tokens */
    assert_int_equal(ld_json_validate("1\0", 2), -1);
    assert_int_equal(ld_json_validate("{\"a\":\0 1}", 9), -1);
}

/* The string scanner reads plain runs 8 bytes at a time: a byte that needs a
 * look (quote, backslash, control, non-ASCII) must be found wherever it sits
 * in the word, and in the tail shorter than a word. Agrees with jansson for
 * each kind of byte at each offset of strings of 1 to 24 bytes. */
static void test_scanner_special_byte_at_every_offset(void **state)
{
    const char *inserts[] = {"\\\"", "\\\\", "\t",  "\x01",    "\xc3\xa9",
                             "\xc3", "\xff", "\\n", "\\u00e9", "\""};
    char doc[64];
    for (size_t k = 0; k < sizeof inserts / sizeof inserts[0]; k++)
        for (int len = 1; len <= 24; len++)
            for (int at = 0; at < len; at++) {
                int n = 0;
                doc[n++] = '"';
                for (int i = 0; i < len; i++) {
                    if (i == at)
                        n += snprintf(doc + n, sizeof doc - (size_t)n, "%s", inserts[k]);
                    else
                        doc[n++] = (char)('a' + i % 26);
                }
                doc[n++] = '"';
                doc[n] = '\0';
                json_error_t e;
                json_t *j = json_loadb(doc, (size_t)n, JSON_DECODE_ANY, &e);
                int ours = ld_json_validate(doc, (size_t)n);
                if ((j != NULL) != (ours == 0))
                    fail_msg("disagree on insert %zu at %d of %d: jansson %s, ld_json %s", k, at,
                             len, j ? "ok" : e.text, ours == 0 ? "ok" : "invalid");
                json_decref(j);
            }
}

static int setup(void **state)
{
    const char *src = getenv("US_SOURCE_DIR");
    snprintf(golden_dir, sizeof golden_dir, "%s/../shared/randomuser-golden", src ? src : ".");
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_pages),
        cmocka_unit_test(test_golden_partial_records),
        cmocka_unit_test(test_bad_pages),
        cmocka_unit_test(test_seed18_info),
        cmocka_unit_test(test_page_reject_scrubbed),
        cmocka_unit_test(test_text_safe),
        cmocka_unit_test(test_copy_escape),
        cmocka_unit_test(test_scanner_matches_jansson),
        cmocka_unit_test(test_scanner_special_byte_at_every_offset),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
