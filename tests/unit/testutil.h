/*
 * Helpers shared by the Check unit tests: paths under a base directory,
 * scratch directories, shell commands. libc and Check only, so that
 * test_plugin (no libcrypto of its own) links it too; the OpenSSL helpers
 * are in testutil_ossl.h.
 */
#ifndef KMTLS_TESTUTIL_H
#define KMTLS_TESTUTIL_H

#include <stddef.h>
#include <check.h>

/* How many tu_path results are alive at once: one call's arguments and the
 * few paths a test keeps in locals while it makes others. */
#define TU_PATH_SLOTS 16

/* "base/rel" in a rotating static buffer, valid for the next
 * TU_PATH_SLOTS - 1 calls: never freed, so tests can pass paths inline. */
const char *tu_path(const char *base, const char *rel);

/* Makes a private directory $TMPDIR/name (/tmp when TMPDIR is unset; name
 * ends in XXXXXX, as for mkdtemp) and stores its path in dir[size]. */
void tu_mkdtemp(char *dir, size_t size, const char *name);

/* Runs the shell command formatted from fmt; returns system()'s status
 * (0: it exited 0). For cleanups that may fail without failing the test. */
int tu_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The command tu_system ran last, for messages. */
const char *tu_last_command(void);

/* Runs every test of s (Check's fork mode unless CK_FORK=no says otherwise)
 * and frees it: the exit status of a test program. */
int tu_main(Suite *s);

/* Around a test's rd_kafka_new() that is meant to fail: librdkafka < 2.13
 * (#4142) double-frees the interceptor lists if the application then
 * destroys its conf, so the test leaves that conf alone, and under
 * LeakSanitizer does that work with leak detection off. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define FAILING_NEW_BEGIN() __lsan_disable()
#define FAILING_NEW_END() __lsan_enable()
#else
#define FAILING_NEW_BEGIN() ((void)0)
#define FAILING_NEW_END() ((void)0)
#endif

/* tu_system that must succeed: a failure names the command. */
#define tu_run(...) ck_assert_msg(tu_system(__VA_ARGS__) == 0, "%s", tu_last_command())

#endif
