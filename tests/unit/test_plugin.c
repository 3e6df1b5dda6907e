/*
 * The librdkafka plugin as an application sees it: loaded with
 * rd_kafka_conf_set(conf, "plugin.library.paths", KMTLS_PLUGIN), driven only
 * through librdkafka's public API. Every test runs in its own process
 * (Check's fork mode), so environment variables and the plugin's state
 * never leak from one test into the next.
 *
 * librdkafka < 2.13 (#4142): after a failed rd_kafka_new() with any plugin
 * loaded, rd_kafka_conf_destroy() of the application's conf double-frees
 * the interceptor lists. The tests that expect rd_kafka_new() to fail leave
 * that conf alone and, under LeakSanitizer, do that work with leak
 * detection off (FAILING_NEW_BEGIN/END, testutil.h).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>

#include "testutil.h"

static const char *plugin;
static const char *fixtures;
static char tmpdir[PATH_MAX];
static char errstr[1024];

/* ---------------------------------------------------------------- helpers */

static const char *fx(const char *rel)
{
    return tu_path(fixtures, rel);
}

static const char *tmp(const char *rel)
{
    return tu_path(tmpdir, rel);
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* The whole file, NUL-terminated, trailing newline cut. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 65536);
    size_t n;

    ck_assert_msg(f != NULL, "cannot read %s: %s", path, strerror(errno));
    ck_assert_ptr_nonnull(buf);
    n = fread(buf, 1, 65535, f);
    fclose(f);
    if (n > 0 && buf[n - 1] == '\n')
        buf[n - 1] = '\0';
    return buf;
}

static void copy_file(const char *from, const char *to)
{
    FILE *f = fopen(from, "rb");
    char *buf = malloc(1 << 20);
    size_t n;

    ck_assert_msg(f != NULL, "cannot read %s: %s", from, strerror(errno));
    ck_assert_ptr_nonnull(buf);
    n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    write_file(to, buf, n);
    free(buf);
}

/* A seed volume that the certificate service has not finished writing:
 * the keystore is there, its ALIAS_creds not yet. */
static const char *not_ready_volume(void)
{
    const char *dir = tmp("client-p12");

    ck_assert_int_eq(mkdir(dir, 0700), 0);
    copy_file(fx("vol/client-p12/client-p12.keystore.jks"), tmp("client-p12/client-p12.keystore.jks"));
    return dir;
}

static rd_kafka_conf_t *conf_with_plugin(void)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    ck_assert_ptr_nonnull(conf);
    /* no "No bootstrap.servers configured" notices: warnings and errors stay */
    ck_assert_int_eq(rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)), RD_KAFKA_CONF_OK);
    ck_assert_msg(rd_kafka_conf_set(conf, "plugin.library.paths", plugin, errstr, sizeof(errstr)) ==
                      RD_KAFKA_CONF_OK,
                  "loading %s: %s", plugin, errstr);
    return conf;
}

static void set_ok(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    errstr[0] = '\0';
    ck_assert_msg(rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK,
                  "%s=%s: %s", name, value, errstr);
}

/* name=value must be refused with res and a message containing text. */
static void set_refused(rd_kafka_conf_t *conf, const char *name, const char *value,
                        rd_kafka_conf_res_t res, const char *text)
{
    rd_kafka_conf_res_t r;

    errstr[0] = '\0';
    r = rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr));
    ck_assert_msg(r == res, "%s=%s: got result %d (want %d), message '%s'", name, value, r, res, errstr);
    ck_assert_msg(strstr(errstr, text) != NULL, "%s=%s: message '%s' lacks '%s'", name, value, errstr, text);
}

/* The value of name in conf ("" when unset). */
static const char *get(const rd_kafka_conf_t *conf, const char *name)
{
    static char buf[16384];
    size_t size = sizeof(buf);

    if (rd_kafka_conf_get(conf, name, buf, &size) != RD_KAFKA_CONF_OK)
        buf[0] = '\0';
    return buf;
}

/* rd_kafka_new must succeed; the client's own configuration carries the
 * material the plugin gave it (the key shows as librdkafka's redaction). */
static rd_kafka_t *new_client(rd_kafka_conf_t *conf)
{
    rd_kafka_t *rk;

    errstr[0] = '\0';
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    ck_assert_msg(rk != NULL, "rd_kafka_new failed: %s", errstr);
    ck_assert_str_eq(get(rd_kafka_conf(rk), "security.protocol"), "ssl");
    ck_assert_msg(get(rd_kafka_conf(rk), "ssl.key.pem")[0] != '\0', "the client got no key");
    ck_assert_msg(get(rd_kafka_conf(rk), "ssl.certificate.pem")[0] != '\0' ||
                      strncmp(get(rd_kafka_conf(rk), "ssl.certificate.location"), "/proc/self/fd/", 14) == 0,
                  "the client got no certificate");
    return rk;
}

/* rd_kafka_new must fail with the plugin's message containing text. The
 * conf stays the application's (and is not destroyed: librdkafka #4142). */
static void new_fails(rd_kafka_conf_t *conf, const char *text)
{
    rd_kafka_t *rk;

    errstr[0] = '\0';
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk != NULL)
        rd_kafka_destroy(rk);
    ck_assert_msg(rk == NULL, "rd_kafka_new succeeded, expected a failure with '%s'", text);
    ck_assert_msg(strstr(errstr, "kafka-mtls: ") != NULL, "message '%s' is not the plugin's", errstr);
    ck_assert_msg(strstr(errstr, text) != NULL, "message '%s' lacks '%s'", errstr, text);
}

static int dump_contains(const rd_kafka_conf_t *conf, const char *needle, char *where, size_t size)
{
    size_t cnt;
    const char **d = rd_kafka_conf_dump((rd_kafka_conf_t *)conf, &cnt);
    int found = 0;

    for (size_t i = 0; i + 1 < cnt && !found; i += 2)
        if (strstr(d[i], needle) != NULL || strstr(d[i + 1], needle) != NULL) {
            snprintf(where, size, "%s=%.80s", d[i], d[i + 1]);
            found = 1;
        }
    rd_kafka_conf_dump_free(d, cnt);
    return found;
}

static void setup(void)
{
    tu_mkdtemp(tmpdir, sizeof(tmpdir), "kmtls-plugin.XXXXXX");
    unsetenv("KAFKA_MTLS_VOLUME");
}

static void teardown(void)
{
    /* a leftover directory is no failure of the plugin */
    if (tu_system("rm -rf '%s'", tmpdir) != 0)
        fprintf(stderr, "cannot remove %s\n", tmpdir);
}

/* ------------------------------------------- property validation (conf_set) */

START_TEST(plugin_loads)
{
    rd_kafka_conf_t *conf = conf_with_plugin();

    ck_assert_str_eq(get(conf, "plugin.library.paths"), plugin);
    rd_kafka_conf_destroy(conf);
}
END_TEST

START_TEST(volume_missing)
{
    rd_kafka_conf_t *conf = conf_with_plugin();

    set_refused(conf, "mtls.volume", "/nonexistent/kafka-mtls-volume", RD_KAFKA_CONF_INVALID,
                "mtls.volume: /nonexistent/kafka-mtls-volume: No such file or directory");
    rd_kafka_conf_destroy(conf);
}
END_TEST

START_TEST(volume_relative)
{
    rd_kafka_conf_t *conf = conf_with_plugin();

    set_refused(conf, "mtls.volume", "vol/client-p12", RD_KAFKA_CONF_INVALID,
                "mtls.volume: \"vol/client-p12\" is not an absolute path");
    set_refused(conf, "ssl.keystore.location", "client.keystore.p12", RD_KAFKA_CONF_INVALID,
                "ssl.keystore.location: \"client.keystore.p12\" is not an absolute path");
    rd_kafka_conf_destroy(conf);
}
END_TEST

START_TEST(volume_not_a_directory_or_file)
{
    rd_kafka_conf_t *conf = conf_with_plugin();

    set_refused(conf, "mtls.volume", "/dev/null", RD_KAFKA_CONF_INVALID,
                "mtls.volume: /dev/null: not a directory or regular file");
    set_refused(conf, "mtls.password.file", fx("vol/client-p12"), RD_KAFKA_CONF_INVALID, "not a regular file");
    rd_kafka_conf_destroy(conf);
}
END_TEST

/* mtls.volume=DIR must be refused with "Permission denied"; exits the
 * process with 1 (and says why) if it is not. */
static void refused_unreadable(rd_kafka_conf_t *conf, const char *dir)
{
    rd_kafka_conf_res_t r;

    errstr[0] = '\0';
    r = rd_kafka_conf_set(conf, "mtls.volume", dir, errstr, sizeof(errstr));
    if (r != RD_KAFKA_CONF_INVALID || strstr(errstr, "Permission denied") == NULL) {
        fprintf(stderr, "mtls.volume=%s: result %d, message '%s' (want 'Permission denied')\n", dir, r, errstr);
        _exit(1);
    }
}

/* Root reads every directory: as root the property is set in a child
 * process that loaded the plugin and then gave up root for "nobody". */
START_TEST(volume_unreadable)
{
    const char *dir = tmp("locked");
    rd_kafka_conf_t *conf;
    pid_t pid;
    int status;

    ck_assert_int_eq(mkdir(dir, 0), 0);
    if (geteuid() != 0) {
        conf = conf_with_plugin();
        refused_unreadable(conf, dir);
        rd_kafka_conf_destroy(conf);
        return;
    }
    ck_assert_int_eq(chmod(tmpdir, 0711), 0); /* nobody may pass through to dir */
    conf = conf_with_plugin();
    ck_assert_int_ne(pid = fork(), -1);
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(2);
        refused_unreadable(conf, dir);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "as nobody: status %d", status);
    rd_kafka_conf_destroy(conf);
}
END_TEST

START_TEST(wait_ms_validated)
{
    static const char *const bad[] = { "abc", "", "-1", "3600001", "10x", "1.5", "99999999999999999999" };
    rd_kafka_conf_t *conf = conf_with_plugin();
    char want[128];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(want, sizeof(want), "mtls.wait.ms: \"%s\" is not a number of milliseconds (0..3600000)", bad[i]);
        set_refused(conf, "mtls.wait.ms", bad[i], RD_KAFKA_CONF_INVALID, want);
    }
    set_ok(conf, "mtls.wait.ms", "0");
    set_ok(conf, "mtls.wait.ms", "3600000");
    set_ok(conf, "mtls.wait.ms", "300");
    rd_kafka_conf_destroy(conf);
}
END_TEST

START_TEST(store_type_validated)
{
    rd_kafka_conf_t *conf = conf_with_plugin();

    set_refused(conf, "ssl.keystore.type", "BKS", RD_KAFKA_CONF_INVALID,
                "ssl.keystore.type: unsupported keystore type \"BKS\" (JKS, JCEKS, PKCS12 or PEM)");
    set_refused(conf, "ssl.truststore.type", "", RD_KAFKA_CONF_INVALID,
                "ssl.truststore.type: unsupported keystore type \"\"");
    set_ok(conf, "ssl.keystore.type", "PKCS12");
    set_ok(conf, "ssl.keystore.type", "jks");
    set_ok(conf, "ssl.truststore.type", "JCEKS");
    set_ok(conf, "ssl.truststore.type", "PEM");
    rd_kafka_conf_destroy(conf);
}
END_TEST

/* The one alias rule (kmtls/seed.h), as issuance and keystore: URIs apply it. */
START_TEST(alias_validated)
{
    rd_kafka_conf_t *conf = conf_with_plugin();

    set_refused(conf, "mtls.alias", "", RD_KAFKA_CONF_INVALID,
                "mtls.alias: alias '': not usable as a file name prefix: it is empty");
    set_refused(conf, "mtls.alias", "../etc", RD_KAFKA_CONF_INVALID,
                "mtls.alias: alias '../etc': not usable as a file name prefix: it must not contain '/'");
    set_refused(conf, "mtls.alias", ".x", RD_KAFKA_CONF_INVALID,
                "mtls.alias: alias '.x': not usable as a file name prefix: it must not start with '.'");
    set_refused(conf, "mtls.alias", "a\tb", RD_KAFKA_CONF_INVALID, "mtls.alias: alias: control characters");
    set_refused(conf, "mtls.alias", "\xff", RD_KAFKA_CONF_INVALID, "mtls.alias: alias: not valid UTF-8");
    set_ok(conf, "mtls.alias", "client-p12");
    rd_kafka_conf_destroy(conf);
}
END_TEST

START_TEST(unknown_properties_still_rejected)
{
    rd_kafka_conf_t *conf = conf_with_plugin();

    /* typos of the plugin's own names, and names nobody knows */
    set_refused(conf, "mtls.volumes", "/tmp", RD_KAFKA_CONF_UNKNOWN, "No such configuration property");
    set_refused(conf, "mtls.wait", "10", RD_KAFKA_CONF_UNKNOWN, "No such configuration property");
    set_refused(conf, "no.such.property", "1", RD_KAFKA_CONF_UNKNOWN, "No such configuration property");
    /* a Java-only property the plugin does not take over */
    set_refused(conf, "ssl.keymanager.algorithm", "SunX509", RD_KAFKA_CONF_UNKNOWN,
                "No such configuration property");
    /* librdkafka still validates its own properties */
    set_refused(conf, "security.protocol", "tls", RD_KAFKA_CONF_INVALID, "Invalid value");
    set_refused(conf, "ssl.endpoint.identification.algorithm", "bogus", RD_KAFKA_CONF_INVALID, "Invalid value");
    set_ok(conf, "client.id", "test_plugin");
    ck_assert_str_eq(get(conf, "client.id"), "test_plugin");
    rd_kafka_conf_destroy(conf);
}
END_TEST

START_TEST(properties_need_the_plugin)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    set_refused(conf, "mtls.volume", fx("vol/client-p12"), RD_KAFKA_CONF_UNKNOWN,
                "No such configuration property");
    rd_kafka_conf_destroy(conf);
}
END_TEST

/* A bad KAFKA_MTLS_VOLUME and no other key source: no client, and the
 * message names the variable (whether at loading or at rd_kafka_new). */
START_TEST(bad_env_volume_refused)
{
    static const char want[] = "kafka-mtls: KAFKA_MTLS_VOLUME: /nonexistent/env-volume: No such file or directory";
    rd_kafka_conf_t *conf;

    /* checked when it is used: at client creation, with no other source */
    setenv("KAFKA_MTLS_VOLUME", "/nonexistent/env-volume", 1);
    FAILING_NEW_BEGIN();
    conf = rd_kafka_conf_new();
    set_ok(conf, "plugin.library.paths", plugin);
    new_fails(conf, want);
    FAILING_NEW_END();
}
END_TEST

/* ------------------------------------------------------------ rd_kafka_new */

START_TEST(valid_volume_gives_tls_client)
{
    static const char *const vols[] = { "vol/client-p12", "vol/client-jks", "vol/client-jceks",
                                        "vol/client-chain", "vol/cm", "vol/spiffe" };

    for (size_t i = 0; i < sizeof(vols) / sizeof(vols[0]); i++) {
        rd_kafka_conf_t *conf = conf_with_plugin();

        set_ok(conf, "mtls.volume", fx(vols[i]));
        rd_kafka_destroy(new_client(conf));
    }
}
END_TEST

START_TEST(volume_may_be_one_keystore_file)
{
    rd_kafka_conf_t *conf = conf_with_plugin();

    /* its password comes from ALIAS_creds beside it */
    set_ok(conf, "mtls.volume", fx("vol/client-jceks/client-jceks.keystore.jks"));
    rd_kafka_destroy(new_client(conf));
}
END_TEST

/* The way to retry a client whose volume was not ready: a fresh copy of a
 * template conf per attempt (librdkafka < 2.13 must not be given a conf
 * whose rd_kafka_new failed, #4142). The volume is read again each time. */
START_TEST(retry_with_a_fresh_dup)
{
    rd_kafka_conf_t *tmpl, *attempt;

    tmpl = conf_with_plugin();
    set_ok(tmpl, "mtls.volume", not_ready_volume());
    set_ok(tmpl, "mtls.wait.ms", "0");
    FAILING_NEW_BEGIN();
    attempt = rd_kafka_conf_dup(tmpl);
    new_fails(attempt, "not ready");
    FAILING_NEW_END();
    copy_file(fx("vol/client-p12/client-p12_creds"), tmp("client-p12/client-p12_creds"));
    attempt = rd_kafka_conf_dup(tmpl);
    rd_kafka_destroy(new_client(attempt));
    rd_kafka_conf_destroy(tmpl);
}
END_TEST

START_TEST(plaintext_upgraded_to_ssl)
{
    rd_kafka_conf_t *conf = conf_with_plugin();
    rd_kafka_t *rk;

    set_ok(conf, "security.protocol", "plaintext");
    set_ok(conf, "mtls.volume", fx("vol/client-p12"));
    ck_assert_str_eq(get(conf, "security.protocol"), "plaintext"); /* the app's conf is the app's */
    rk = new_client(conf);                                         /* asserts security.protocol=ssl */
    rd_kafka_destroy(rk);

    conf = conf_with_plugin();
    set_ok(conf, "mtls.volume", fx("vol/client-jks"));
    set_ok(conf, "security.protocol", "sasl_plaintext");
    set_ok(conf, "sasl.mechanisms", "PLAIN");
    set_ok(conf, "sasl.username", "u");
    set_ok(conf, "sasl.password", "p");
    errstr[0] = '\0';
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    ck_assert_msg(rk != NULL, "rd_kafka_new: %s", errstr);
    ck_assert_str_eq(get(rd_kafka_conf(rk), "security.protocol"), "sasl_ssl");
    rd_kafka_destroy(rk);
}
END_TEST

START_TEST(env_volume)
{
    rd_kafka_conf_t *conf;

    setenv("KAFKA_MTLS_VOLUME", fx("vol/client-jceks"), 1);
    conf = conf_with_plugin();
    rd_kafka_destroy(new_client(conf));
}
END_TEST

START_TEST(java_properties)
{
    rd_kafka_conf_t *conf = conf_with_plugin();
    char *pw = read_file(fx("vol/client-jks/client-jks_creds"));
    rd_kafka_t *rk;

    set_ok(conf, "security.protocol", "SSL");
    set_ok(conf, "ssl.keystore.location", fx("vol/client-jks/client-jks.keystore.jks"));
    set_ok(conf, "ssl.keystore.password", pw);
    set_ok(conf, "ssl.key.password", pw);
    set_ok(conf, "ssl.keystore.type", "JKS");
    set_ok(conf, "ssl.truststore.location", fx("vol/client-jks/client-jks.truststore.jks"));
    set_ok(conf, "ssl.truststore.password", pw);
    set_ok(conf, "ssl.truststore.type", "JKS");
    set_ok(conf, "ssl.endpoint.identification.algorithm", "");
    /* the plugin took the Java properties: librdkafka's own are untouched */
    ck_assert_str_eq(get(conf, "ssl.keystore.location"), "");
    rk = new_client(conf);
    ck_assert_msg(strstr(get(rd_kafka_conf(rk), "ssl.ca.pem"), "BEGIN CERTIFICATE") != NULL,
                  "the truststore did not become ssl.ca.pem");
    ck_assert_str_eq(get(rd_kafka_conf(rk), "ssl.endpoint.identification.algorithm"), "none");
    rd_kafka_destroy(rk);
    free(pw);
}
END_TEST

START_TEST(wait_zero_not_ready_fails)
{
    rd_kafka_conf_t *conf;

    FAILING_NEW_BEGIN();
    conf = conf_with_plugin();
    set_ok(conf, "mtls.volume", not_ready_volume());
    set_ok(conf, "mtls.wait.ms", "0");
    new_fails(conf, "still not ready after mtls.wait.ms=0");
    FAILING_NEW_END();
}
END_TEST

START_TEST(wrong_password_fails_new)
{
    rd_kafka_conf_t *conf;

    write_file(tmp("pw"), "not-the-password\n", 17);
    FAILING_NEW_BEGIN();
    conf = conf_with_plugin();
    set_ok(conf, "mtls.volume", fx("vol/client-p12"));
    set_ok(conf, "mtls.password.file", tmp("pw"));
    new_fails(conf, "wrong password");
    FAILING_NEW_END();
}
END_TEST

START_TEST(no_key_source_fails_new)
{
    rd_kafka_conf_t *conf;

    FAILING_NEW_BEGIN();
    conf = conf_with_plugin();
    set_ok(conf, "bootstrap.servers", "127.0.0.1:9");
    new_fails(conf, "no key source configured");
    FAILING_NEW_END();
}
END_TEST

START_TEST(conflicting_app_material_fails_new)
{
    rd_kafka_conf_t *conf;

    FAILING_NEW_BEGIN();
    conf = conf_with_plugin();
    set_ok(conf, "mtls.volume", fx("vol/client-p12"));
    set_ok(conf, "ssl.ca.location", fx("ca/ca.crt"));
    new_fails(conf, "configuration conflict: ssl.ca.location");

    FAILING_NEW_END();
}
END_TEST

/* Failing closed cannot be defeated: none of the properties the plugin
 * supplies (and fails closed through) may be the application's, whether
 * set before the plugin (it refuses to load) or after (rd_kafka_conf_set
 * refuses them); with ssl.providers and ssl.ca.location the application's,
 * a failure still fails client creation. */
START_TEST(fail_closed_every_carrier)
{
    static const char *const supplied[] = { "ssl.keystore.location", "ssl.key.location", "ssl.key.pem",
                                            "ssl.certificate.location", "ssl.certificate.pem" };
    rd_kafka_conf_t *conf;
    char want[256];

    for (size_t i = 0; i < sizeof(supplied) / sizeof(supplied[0]); i++) {
        const char *value = strstr(supplied[i], ".pem") ? "-----BEGIN X-----" : fx("vol/cm/tls.key");

        conf = rd_kafka_conf_new();
        set_ok(conf, supplied[i], value);
        snprintf(want, sizeof(want), "kafka-mtls: %s was set before plugin.library.paths", supplied[i]);
        set_refused(conf, "plugin.library.paths", plugin, RD_KAFKA_CONF_INVALID, want);
        ck_assert_str_eq(get(conf, "plugin.library.paths"), "");
        rd_kafka_conf_destroy(conf);
        if (i == 0)
            continue; /* after the plugin, ssl.keystore.location is the plugin's own */
        conf = conf_with_plugin();
        snprintf(want, sizeof(want), "kafka-mtls: %s: the plugin supplies the client key and certificate",
                 supplied[i]);
        set_refused(conf, supplied[i], value, RD_KAFKA_CONF_INVALID, want);
        ck_assert_str_eq(get(conf, supplied[i]), "");
        rd_kafka_conf_destroy(conf);
    }
    FAILING_NEW_BEGIN();
    conf = conf_with_plugin();
    set_ok(conf, "ssl.providers", "default");
    set_ok(conf, "ssl.ca.location", fx("ca/ca.crt"));
    set_ok(conf, "mtls.volume", not_ready_volume());
    set_ok(conf, "mtls.wait.ms", "0");
    new_fails(conf, "not ready");
    FAILING_NEW_END();
}
END_TEST

/* A failed rd_kafka_new never leaves a usable TLS-less client behind, also
 * when the application asked for plaintext. */
START_TEST(failure_with_plaintext_still_fails)
{
    rd_kafka_conf_t *conf;

    FAILING_NEW_BEGIN();
    conf = conf_with_plugin();
    set_ok(conf, "security.protocol", "plaintext");
    set_ok(conf, "mtls.volume", not_ready_volume());
    set_ok(conf, "mtls.wait.ms", "0");
    new_fails(conf, "not ready");
    FAILING_NEW_END();
}
END_TEST

/* --------------------------------------------------------------- dup, twice */

START_TEST(dup_keeps_settings)
{
    rd_kafka_conf_t *conf = conf_with_plugin(), *dup;

    set_ok(conf, "mtls.volume", fx("vol/client-chain"));
    set_ok(conf, "mtls.wait.ms", "0");
    dup = rd_kafka_conf_dup(conf);
    ck_assert_ptr_nonnull(dup);
    /* the copy is independent: changing the original does not reach it */
    set_ok(conf, "mtls.volume", fx("vol/cm"));
    rd_kafka_conf_destroy(conf);
    rd_kafka_destroy(new_client(dup));
}
END_TEST

START_TEST(dup_keeps_not_ready_volume)
{
    rd_kafka_conf_t *conf, *dup;

    FAILING_NEW_BEGIN();
    conf = conf_with_plugin();
    set_ok(conf, "mtls.volume", not_ready_volume());
    set_ok(conf, "mtls.wait.ms", "0");
    dup = rd_kafka_conf_dup(conf);
    ck_assert_ptr_nonnull(dup);
    rd_kafka_conf_destroy(conf);
    new_fails(dup, "mtls.volume: still not ready after mtls.wait.ms=0");
    FAILING_NEW_END();
}
END_TEST

START_TEST(dup_of_dup_and_java_secrets)
{
    rd_kafka_conf_t *conf = conf_with_plugin(), *d1, *d2;
    char *pw = read_file(fx("vol/client-p12/client-p12_creds"));

    set_ok(conf, "ssl.keystore.location", fx("vol/client-p12/client-p12.keystore.jks"));
    set_ok(conf, "ssl.keystore.password", pw);
    d1 = rd_kafka_conf_dup(conf);
    rd_kafka_conf_destroy(conf);
    d2 = rd_kafka_conf_dup(d1);
    rd_kafka_conf_destroy(d1);
    rd_kafka_destroy(new_client(d2));
    free(pw);
}
END_TEST

/* The volume named by KAFKA_MTLS_VOLUME when the plugin loaded stays with
 * the configuration and its copies, also once the variable is gone. */
START_TEST(dup_keeps_env_volume)
{
    rd_kafka_conf_t *conf, *dup;

    setenv("KAFKA_MTLS_VOLUME", fx("vol/client-p12"), 1);
    conf = conf_with_plugin();
    unsetenv("KAFKA_MTLS_VOLUME");
    dup = rd_kafka_conf_dup(conf);
    ck_assert_ptr_nonnull(dup);
    rd_kafka_conf_destroy(conf);
    rd_kafka_destroy(new_client(dup));
}
END_TEST

START_TEST(plugin_set_twice)
{
    rd_kafka_conf_t *conf = conf_with_plugin();

    set_ok(conf, "mtls.volume", fx("vol/client-jks"));
    set_ok(conf, "plugin.library.paths", plugin);
    /* still one plugin, still configured, still taking its properties */
    set_ok(conf, "mtls.wait.ms", "0");
    set_refused(conf, "mtls.wait.ms", "x", RD_KAFKA_CONF_INVALID, "mtls.wait.ms");
    rd_kafka_destroy(new_client(conf));
}
END_TEST

/* ------------------------------------------------------------------ secrets */

START_TEST(dump_shows_no_secrets)
{
    rd_kafka_conf_t *conf = conf_with_plugin(), *dup;
    char *pw = read_file(fx("vol/client-p12/client-p12_creds"));
    char where[256];
    rd_kafka_t *rk;

    ck_assert_uint_gt(strlen(pw), 8);
    set_ok(conf, "ssl.keystore.location", fx("vol/client-p12/client-p12.keystore.jks"));
    set_ok(conf, "ssl.keystore.password", pw);
    set_ok(conf, "ssl.key.password", pw);
    set_ok(conf, "ssl.truststore.location", fx("vol/client-p12/client-p12.truststore.jks"));
    set_ok(conf, "ssl.truststore.password", pw);
    dup = rd_kafka_conf_dup(conf);
    ck_assert_msg(!dump_contains(conf, pw, where, sizeof(where)), "app conf dump shows the password: %s", where);
    ck_assert_msg(!dump_contains(dup, pw, where, sizeof(where)), "dup'd conf dump shows the password: %s", where);
    ck_assert_msg(!dump_contains(conf, "PRIVATE KEY", where, sizeof(where)), "app conf dump shows a key: %s", where);
    /* the client's own conf holds the key: librdkafka redacts it */
    rk = new_client(conf);
    ck_assert_msg(!dump_contains(rd_kafka_conf(rk), pw, where, sizeof(where)),
                  "client conf dump shows the password: %s", where);
    ck_assert_msg(!dump_contains(rd_kafka_conf(rk), "PRIVATE KEY", where, sizeof(where)),
                  "client conf dump shows the key: %s", where);
    rd_kafka_destroy(rk);
    rd_kafka_conf_destroy(dup);
    free(pw);
}
END_TEST

/* --------------------------------------------------------------- threads */

static void *create_one(void *arg)
{
    rd_kafka_conf_t *conf = arg;
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));

    if (rk == NULL) {
        fprintf(stderr, "rd_kafka_new: %s\n", err);
        return (void *)1;
    }
    rd_kafka_destroy(rk);
    return NULL;
}

START_TEST(clients_created_concurrently)
{
    enum { N = 4 };
    static const char *const vols[N] = { "vol/client-p12", "vol/client-jks", "vol/client-chain", "vol/cm" };
    rd_kafka_conf_t *base = conf_with_plugin(), *confs[N];
    pthread_t th[N];
    void *res;

    set_ok(base, "mtls.wait.ms", "0");
    for (int i = 0; i < N; i++) {
        confs[i] = rd_kafka_conf_dup(base);
        set_ok(confs[i], "mtls.volume", fx(vols[i]));
    }
    rd_kafka_conf_destroy(base);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, create_one, confs[i]), 0);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(pthread_join(th[i], &res), 0);
        ck_assert_msg(res == NULL, "client %d (%s) failed", i, vols[i]);
    }
}
END_TEST

/* The per-process cache never serves material older than the volume: a
 * second client on an unchanged volume gets the same certificate, one on a
 * volume whose files were replaced gets the new one. */
START_TEST(cache_follows_the_volume)
{
    static const char *const names[] = { "keystore.jks", "truststore.jks", "_creds" };
    char first[8192], second[8192], third[8192], from[PATH_MAX], to[PATH_MAX];
    const char *vol = tmp("client-p12");
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;

    ck_assert_int_eq(mkdir(vol, 0700), 0);
    for (size_t i = 0; i < 3; i++) {
        snprintf(from, sizeof(from), "vol/client-p12/client-p12%s%s", i < 2 ? "." : "", names[i]);
        snprintf(to, sizeof(to), "%s/client-p12%s%s", vol, i < 2 ? "." : "", names[i]);
        copy_file(fx(from), to);
    }
    for (int round = 0; round < 3; round++) {
        if (round == 2) /* the certificate service replaced the volume's files */
            for (size_t i = 0; i < 3; i++) {
                snprintf(from, sizeof(from), "vol/client-jks/client-jks%s%s", i < 2 ? "." : "", names[i]);
                snprintf(to, sizeof(to), "%s/client-p12%s%s", vol, i < 2 ? "." : "", names[i]);
                copy_file(fx(from), to);
            }
        conf = conf_with_plugin();
        set_ok(conf, "mtls.volume", vol);
        rk = new_client(conf);
        snprintf(round == 0 ? first : round == 1 ? second : third, sizeof(first), "%s",
                 get(rd_kafka_conf(rk), "ssl.certificate.pem"));
        rd_kafka_destroy(rk);
    }
    ck_assert_str_eq(first, second);
    ck_assert_str_ne(second, third);
    {
        char *want = read_file(fx("vol/client-jks/client-jks-ca1-signed.crt"));

        ck_assert_msg(strncmp(third, want, strlen(want)) == 0, "not the new volume's certificate");
        free(want);
    }
}
END_TEST

/* ----------------- the last value wins; the environment; failing closed */

/* The last value set wins: an empty (Java) value followed by "https" must
 * leave hostname verification on. */
START_TEST(hostname_check_reenabled)
{
    rd_kafka_conf_t *conf = conf_with_plugin();
    rd_kafka_t *rk;

    set_ok(conf, "mtls.volume", fx("vol/client-p12"));
    set_ok(conf, "ssl.endpoint.identification.algorithm", "");
    set_ok(conf, "ssl.endpoint.identification.algorithm", "https");
    rk = new_client(conf);
    ck_assert_str_eq(get(rd_kafka_conf(rk), "ssl.endpoint.identification.algorithm"), "https");
    rd_kafka_destroy(rk);
}
END_TEST

/* KAFKA_MTLS_VOLUME is "read when mtls.volume is not set" (kafka-mtls.h):
 * a stale value must not break a configuration that names its volume. */
START_TEST(env_volume_stale_but_unused)
{
    rd_kafka_conf_t *conf;

    setenv("KAFKA_MTLS_VOLUME", "/nonexistent/stale-volume", 1);
    conf = conf_with_plugin();
    set_ok(conf, "mtls.volume", fx("vol/client-p12"));
    rd_kafka_destroy(new_client(conf));
}
END_TEST

START_TEST(env_volume_vs_java_keystore)
{
    rd_kafka_conf_t *conf;
    char *pw = read_file(fx("vol/client-p12/client-p12_creds"));

    setenv("KAFKA_MTLS_VOLUME", fx("vol/cm"), 1);
    FAILING_NEW_BEGIN();
    conf = conf_with_plugin();
    set_ok(conf, "ssl.keystore.location", fx("vol/client-p12/client-p12.keystore.jks"));
    set_ok(conf, "ssl.keystore.password", pw);
    rd_kafka_destroy(new_client(conf));
    FAILING_NEW_END();
    free(pw);
}
END_TEST

/* ssl.keystore.location set before the plugin was loaded: librdkafka took
 * it, the plugin refuses to load, the message says so, and the
 * application's value is left as it set it. */
START_TEST(keystore_before_plugin_message)
{
    rd_kafka_conf_t *conf;
    char *pw = read_file(fx("vol/client-p12/client-p12_creds"));
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s", fx("vol/client-p12/client-p12.keystore.jks"));
    conf = rd_kafka_conf_new();
    set_ok(conf, "ssl.keystore.location", path);
    set_ok(conf, "ssl.keystore.password", pw);
    set_refused(conf, "plugin.library.paths", plugin, RD_KAFKA_CONF_INVALID,
                "kafka-mtls: ssl.keystore.location was set before plugin.library.paths");
    ck_assert_str_eq(get(conf, "ssl.keystore.location"), path);
    rd_kafka_conf_destroy(conf);
    free(pw);
}
END_TEST

/* After a failed rd_kafka_new the conf is still the application's: failing
 * closed must not replace (free) a string the application set in it (the
 * client's copy shares them), here ssl.ca.location. */
START_TEST(fail_closed_keeps_app_strings)
{
    rd_kafka_conf_t *conf;
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s", fx("ca/ca.crt"));
    FAILING_NEW_BEGIN();
    conf = conf_with_plugin();
    set_ok(conf, "ssl.ca.location", path);
    set_ok(conf, "mtls.volume", not_ready_volume());
    set_ok(conf, "mtls.wait.ms", "0");
    new_fails(conf, "not ready");
    ck_assert_str_eq(get(conf, "ssl.ca.location"), path);
    FAILING_NEW_END();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plugin");
    TCase *tc[5];
    size_t n = 0;

    plugin = getenv("KMTLS_PLUGIN");
    fixtures = getenv("KMTLS_FIXTURES");
    if (plugin == NULL || fixtures == NULL) {
        fprintf(stderr, "test_plugin: KMTLS_PLUGIN and KMTLS_FIXTURES must be set (run through meson test)\n");
        return EXIT_FAILURE;
    }

    {
        TCase *precedence = tc[n++] = tcase_create("precedence");

        tcase_add_test(precedence, hostname_check_reenabled);
        tcase_add_test(precedence, env_volume_stale_but_unused);
        tcase_add_test(precedence, env_volume_vs_java_keystore);
        tcase_add_test(precedence, keystore_before_plugin_message);
        tcase_add_test(precedence, fail_closed_keeps_app_strings);

        TCase *props = tc[n++] = tcase_create("properties");
        TCase *clients = tc[n++] = tcase_create("clients");
        TCase *copies = tc[n++] = tcase_create("dup");
        TCase *secrets = tc[n++] = tcase_create("secrets");

        tcase_add_test(props, plugin_loads);
        tcase_add_test(props, volume_missing);
        tcase_add_test(props, volume_relative);
        tcase_add_test(props, volume_not_a_directory_or_file);
        tcase_add_test(props, volume_unreadable);
        tcase_add_test(props, wait_ms_validated);
        tcase_add_test(props, store_type_validated);
        tcase_add_test(props, alias_validated);
        tcase_add_test(props, unknown_properties_still_rejected);
        tcase_add_test(props, properties_need_the_plugin);
        tcase_add_test(props, bad_env_volume_refused);

        tcase_add_test(clients, valid_volume_gives_tls_client);
        tcase_add_test(clients, cache_follows_the_volume);
        tcase_add_test(clients, volume_may_be_one_keystore_file);
        tcase_add_test(clients, retry_with_a_fresh_dup);
        tcase_add_test(clients, plaintext_upgraded_to_ssl);
        tcase_add_test(clients, env_volume);
        tcase_add_test(clients, java_properties);
        tcase_add_test(clients, wait_zero_not_ready_fails);
        tcase_add_test(clients, wrong_password_fails_new);
        tcase_add_test(clients, no_key_source_fails_new);
        tcase_add_test(clients, conflicting_app_material_fails_new);
        tcase_add_test(clients, fail_closed_every_carrier);
        tcase_add_test(clients, failure_with_plaintext_still_fails);
        tcase_add_test(clients, clients_created_concurrently);

        tcase_add_test(copies, dup_keeps_settings);
        tcase_add_test(copies, dup_keeps_not_ready_volume);
        tcase_add_test(copies, dup_of_dup_and_java_secrets);
        tcase_add_test(copies, dup_keeps_env_volume);
        tcase_add_test(copies, plugin_set_twice);

        tcase_add_test(secrets, dump_shows_no_secrets);
    }
    for (size_t i = 0; i < n; i++) {
        tcase_add_checked_fixture(tc[i], setup, teardown);
        tcase_set_timeout(tc[i], 60);
        suite_add_tcase(s, tc[i]);
    }
    return tu_main(s);
}
