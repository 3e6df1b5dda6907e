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

/* The command from fmt and ap in cmd[size]; a command cut short would run
 * something else, so that is a failure. */
static void format_command(char *cmd, size_t size, const char *fmt, va_list ap)
{
    int n = vsnprintf(cmd, size, fmt, ap);

    ck_assert_msg(n >= 0 && (size_t)n < size, "command too long: %s", cmd);
}

int tu_system(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;

    va_start(ap, fmt);
    format_command(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return system(cmd);
}

void tu_run(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;

    va_start(ap, fmt);
    format_command(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    ck_assert_msg(system(cmd) == 0, "%s", cmd);
}
