/* Shared by the live-rotation tests: see live_client.h. */
#include "live_client.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

logsink applog;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

static void app_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    char line[2048];

    (void)rk;
    snprintf(line, sizeof(line), "%s| %s", fac, buf);
    logsink_cb(&applog, level, line);
}

void conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char err[512];

    ck_assert_msg(rd_kafka_conf_set(conf, name, value, err, sizeof(err)) == RD_KAFKA_CONF_OK, "%s=%s: %s", name,
                  value, err);
}

rd_kafka_conf_t *live_conf(const char *volume, const char *bootstrap)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *plugin = getenv("KMTLS_PLUGIN");

    ck_assert_msg(plugin != NULL, "KMTLS_PLUGIN is not set");
    rd_kafka_conf_set_log_cb(conf, app_log_cb);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    conf_set(conf, "plugin.library.paths", plugin);
    if (volume != NULL)
        conf_set(conf, "mtls.volume", volume);
    conf_set(conf, "mtls.rotation", "live");
    if (bootstrap != NULL)
        conf_set(conf, "bootstrap.servers", bootstrap);
    conf_set(conf, "broker.address.family", "v4");
    return conf;
}

rd_kafka_t *client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char err[1024];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));

    ck_assert_msg(rk != NULL, "rd_kafka_new: %s", err);
    return rk;
}

void leaks_unchecked_begin(void)
{
#if defined(__SANITIZE_ADDRESS__)
    __lsan_disable();
#endif
}

void leaks_unchecked_end(void)
{
#if defined(__SANITIZE_ADDRESS__)
    __lsan_enable();
#endif
}

int client_new_fails(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *err, size_t n)
{
    rd_kafka_t *rk;

    leaks_unchecked_begin();
    rk = rd_kafka_new(type, conf, err, n);
    leaks_unchecked_end();
    if (rk != NULL)
        rd_kafka_destroy(rk);
    return rk == NULL;
}

const char *bootstrap_of(int port)
{
    static char buf[4][64];
    static unsigned slot;
    char *b = buf[slot++ % 4];

    snprintf(b, sizeof(buf[0]), "127.0.0.1:%d", port);
    return b;
}

static int delivered, failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    if (m->err)
        failed++;
    else
        delivered++;
}

int produce_n(rd_kafka_t *rk, const char *topic, const char *prefix, int n, int timeout_ms)
{
    char payload[64];

    delivered = failed = 0;
    for (int i = 0; i < n; i++) {
        int len = snprintf(payload, sizeof(payload), "%s-%d", prefix, i);
        rd_kafka_resp_err_t err;

        while ((err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(payload, (size_t)len),
                                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                        RD_KAFKA_V_OPAQUE(NULL), RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
        ck_assert_msg(err == RD_KAFKA_RESP_ERR_NO_ERROR, "produce: %s", rd_kafka_err2str(err));
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, timeout_ms);
    return delivered;
}

char *make_tmpdir(const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    char *d = malloc(PATH_MAX);

    ck_assert_ptr_nonnull(d);
    snprintf(d, PATH_MAX, "%s/kmtls-live-%s.XXXXXX", tmp ? tmp : "/tmp", tag);
    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

void rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[PATH_MAX];
    struct stat sb;

    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            rmtree(p);
        else
            unlink(p);
    }
    if (d != NULL)
        closedir(d);
    rmdir(dir);
}

static void copy_file(const char *from, const char *to)
{
    char buf[8192], tmp[PATH_MAX];
    int in = open(from, O_RDONLY | O_CLOEXEC), out;
    ssize_t n;

    ck_assert_msg(in >= 0, "%s: %s", from, strerror(errno));
    snprintf(tmp, sizeof(tmp), "%s.tmp", to);
    out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_msg(out >= 0, "%s: %s", tmp, strerror(errno));
    while ((n = read(in, buf, sizeof(buf))) > 0)
        ck_assert_int_eq(write(out, buf, (size_t)n), n);
    close(in);
    ck_assert_int_eq(close(out), 0);
    ck_assert_msg(rename(tmp, to) == 0, "rename %s: %s", to, strerror(errno));
}

void volume_put(const char *dir, const char *identity, const char *file)
{
    char from[PATH_MAX], to[PATH_MAX];

    snprintf(from, sizeof(from), "%s/%s", identity, file);
    snprintf(to, sizeof(to), "%s/%s", dir, file);
    copy_file(cert_path(from), to);
}

void volume_certmanager(const char *dir, const char *identity, const char *ca)
{
    char from[PATH_MAX], to[PATH_MAX];

    volume_put(dir, identity, "tls.key");
    volume_put(dir, identity, "tls.crt");
    if (ca != NULL) {
        snprintf(from, sizeof(from), "%s/ca.crt", ca);
        snprintf(to, sizeof(to), "%s/ca.crt", dir);
        copy_file(cert_path(from), to);
    }
}

void volume_kubernetes(const char *dir, const char *identity)
{
    static const char *const files[] = { "tls.crt", "tls.key", "ca.crt" };
    static unsigned seq;
    char ts[64], sub[PATH_MAX], link_tmp[PATH_MAX], data[PATH_MAX], name[PATH_MAX], target[PATH_MAX];
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    snprintf(ts, sizeof(ts), "..%ld_%09ld_%u", (long)now.tv_sec, now.tv_nsec, seq++);
    snprintf(sub, sizeof(sub), "%s/%s", dir, ts);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        volume_put(sub, identity, files[i]);
    /* kubelet: the new link under a temporary name, renamed over ..data */
    snprintf(link_tmp, sizeof(link_tmp), "%s/..data_tmp", dir);
    snprintf(data, sizeof(data), "%s/..data", dir);
    unlink(link_tmp);
    ck_assert_int_eq(symlink(ts, link_tmp), 0);
    ck_assert_int_eq(rename(link_tmp, data), 0);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(name, sizeof(name), "%s/%s", dir, files[i]);
        snprintf(target, sizeof(target), "..data/%s", files[i]);
        if (access(name, F_OK) != 0)
            ck_assert_int_eq(symlink(target, name), 0);
    }
}
