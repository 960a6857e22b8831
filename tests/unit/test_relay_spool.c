/* Unit tests of the relay's spool: it holds row values (PII), so its
 * directory must be private and a planted file or symlink is never followed.
 * Each test works in its own mkdtemp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay_spool.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char CANARY[] = "canary: must stay intact\n";

typedef struct {
    char root[PATH_MAX];
    char canary[PATH_MAX + 16];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->root, sizeof f->root, "%s/relay-spool-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(f->root))
        return -1;
    snprintf(f->canary, sizeof f->canary, "%s/canary", f->root);
    FILE *c = fopen(f->canary, "w");
    fputs(CANARY, c);
    fclose(c);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->root);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void assert_canary_intact(const fixture *f)
{
    char buf[128] = "";
    FILE *c = fopen(f->canary, "r");
    assert_non_null(c);
    size_t n = fread(buf, 1, sizeof buf - 1, c);
    fclose(c);
    buf[n] = '\0';
    assert_string_equal(buf, CANARY);
}

static int count_one(void *ud, const uint8_t *msg, size_t len, char *err, size_t errlen)
{
    (void)msg, (void)len, (void)err, (void)errlen;
    ++*(int *)ud;
    return 0;
}

/* Created when missing, mode 0700, parents too; append + replay work. */
static void test_created_private(void **state)
{
    fixture *f = *state;
    char dir[PATH_MAX + 32], err[512] = "";
    snprintf(dir, sizeof dir, "%s/home/relay/slot.spool", f->root);
    relay_spool *s = relay_spool_new(dir, err, sizeof err);
    assert_non_null(s);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(relay_spool_append(s, 7, 7, (const uint8_t *)"abc", 3, err, sizeof err), 0);
    int n = 0;
    assert_int_equal(relay_spool_replay(s, 7, count_one, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    relay_spool_free(s);
}

/* A symlink planted where the next transaction's file goes is refused, and
 * the file it points at is not truncated or written. */
static void test_planted_symlink_refused(void **state)
{
    fixture *f = *state;
    char dir[PATH_MAX + 32], link[PATH_MAX + 64], err[512] = "";
    snprintf(dir, sizeof dir, "%s/spool", f->root);
    relay_spool *s = relay_spool_new(dir, err, sizeof err);
    assert_non_null(s);
    snprintf(link, sizeof link, "%s/xid-42.spool", dir);
    assert_int_equal(symlink(f->canary, link), 0);
    assert_int_equal(
        relay_spool_append(s, 42, 42, (const uint8_t *)"row values", 10, err, sizeof err), -1);
    assert_non_null(strstr(err, "refused"));
    assert_canary_intact(f);
    relay_spool_free(s);
    assert_canary_intact(f);
}

/* A planted regular file is not reused either (O_EXCL). */
static void test_planted_file_refused(void **state)
{
    fixture *f = *state;
    char dir[PATH_MAX + 32], p[PATH_MAX + 64], err[512] = "";
    snprintf(dir, sizeof dir, "%s/spool", f->root);
    relay_spool *s = relay_spool_new(dir, err, sizeof err);
    assert_non_null(s);
    snprintf(p, sizeof p, "%s/xid-9.spool", dir);
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(relay_spool_append(s, 9, 9, (const uint8_t *)"x", 1, err, sizeof err), -1);
    relay_spool_free(s);
}

/* The spool directory itself a symlink (to a directory someone else
 * controls): refused, and nothing in the target is touched. */
static void test_symlinked_dir_refused(void **state)
{
    fixture *f = *state;
    char target[PATH_MAX + 32], dir[PATH_MAX + 32], leftover[PATH_MAX + 64], err[512] = "";
    snprintf(target, sizeof target, "%s/elsewhere", f->root);
    snprintf(dir, sizeof dir, "%s/spool", f->root);
    assert_int_equal(mkdir(target, 0700), 0);
    assert_int_equal(symlink(target, dir), 0);
    snprintf(leftover, sizeof leftover, "%s/xid-1.spool", target);
    FILE *c = fopen(leftover, "w");
    fclose(c);
    assert_null(relay_spool_new(dir, err, sizeof err));
    assert_non_null(strstr(err, "refused"));
    assert_int_equal(access(leftover, F_OK), 0); /* not "cleaned up" through the link */
}

/* A directory writable by others, or owned by another user, is refused. */
static void test_foreign_dir_refused(void **state)
{
    fixture *f = *state;
    char dir[PATH_MAX + 32], err[512] = "";
    snprintf(dir, sizeof dir, "%s/open", f->root);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(chmod(dir, 0777), 0);
    assert_null(relay_spool_new(dir, err, sizeof err));
    assert_non_null(strstr(err, "refused"));
    assert_int_equal(chmod(dir, 0770), 0);
    assert_null(relay_spool_new(dir, err, sizeof err));
    if (geteuid() == 0) {
        snprintf(dir, sizeof dir, "%s/foreign", f->root);
        assert_int_equal(mkdir(dir, 0700), 0);
        assert_int_equal(chown(dir, 65534, 65534), 0);
    } else {
        snprintf(dir, sizeof dir, "/"); /* root's, so another user's */
    }
    err[0] = '\0';
    assert_null(relay_spool_new(dir, err, sizeof err));
    assert_non_null(strstr(err, "owned by uid"));
    assert_canary_intact(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_created_private, setup, teardown),
        cmocka_unit_test_setup_teardown(test_planted_symlink_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_planted_file_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlinked_dir_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_dir_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
