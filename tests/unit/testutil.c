/* Helpers shared by the Check unit tests: see testutil.h. */
#include "testutil.h"

#include <check.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

const char *tu_path(const char *base, const char *rel)
{
    static char buf[TU_PATH_SLOTS][PATH_MAX];
    static unsigned slot;
    char *p = buf[slot++ % TU_PATH_SLOTS];

    snprintf(p, PATH_MAX, "%s/%s", base, rel);
    return p;
}

void tu_mkdtemp(char *dir, size_t size, const char *name)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, size, "%s/%s", tmp ? tmp : "/tmp", name);
    ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp %s", dir);
}

static char last_command[8192];

int tu_system(const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(last_command, sizeof(last_command), fmt, ap);
    va_end(ap);
    /* a command cut short would run something else */
    ck_assert_msg(n >= 0 && (size_t)n < sizeof(last_command), "command too long: %s", last_command);
    return system(last_command);
}

const char *tu_last_command(void)
{
    return last_command;
}

int tu_main(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
