/* Shared by the transport tests: see harness.h. */
#include "harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

const char *cert_path(const char *rel)
{
    static char buf[8][PATH_MAX];
    static unsigned slot;
    const char *base = getenv("KMTLS_TRANSPORT_CERTS");
    char *p = buf[slot++ % 8];

    ck_assert_msg(base != NULL, "KMTLS_TRANSPORT_CERTS is not set");
    snprintf(p, PATH_MAX, "%s/%s", base, rel);
    return p;
}

SSL_CTX *client_ctx(const char *identity, const char *ca, int max_version)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    char f[PATH_MAX];

    ck_assert_ptr_nonnull(ctx);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, max_version ? max_version : TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    snprintf(f, sizeof(f), "%s/ca.crt", ca);
    ck_assert_msg(SSL_CTX_load_verify_locations(ctx, cert_path(f), NULL) == 1, "CA %s", f);
    if (identity) {
        snprintf(f, sizeof(f), "%s/tls.crt", identity);
        ck_assert(SSL_CTX_use_certificate_chain_file(ctx, cert_path(f)) == 1);
        snprintf(f, sizeof(f), "%s/tls.key", identity);
        ck_assert(SSL_CTX_use_PrivateKey_file(ctx, cert_path(f), SSL_FILETYPE_PEM) == 1);
        ck_assert(SSL_CTX_check_private_key(ctx) == 1);
    }
    return ctx;
}

void logsink_init(logsink *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
}

void logsink_destroy(logsink *s)
{
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

void logsink_cb(void *opaque, int level, const char *line)
{
    logsink *s = opaque;

    if (getenv("KMTLS_TEST_VERBOSE"))
        fprintf(stderr, "[%d] %s\n", level, line);
    pthread_mutex_lock(&s->mu);
    int n = snprintf(s->text + s->len, sizeof(s->text) - s->len, "<%d>%s\n", level, line);
    if (n > 0)
        s->len += (size_t)n < sizeof(s->text) - s->len ? (size_t)n : sizeof(s->text) - s->len - 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static int occurrences(const char *text, const char *needle)
{
    int n = 0;

    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

int logsink_wait_count(logsink *s, const char *needle, int n, int timeout_ms)
{
    struct timespec until;
    int found;

    deadline_in(&until, timeout_ms);
    pthread_mutex_lock(&s->mu);
    while (!(found = occurrences(s->text, needle) >= n))
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT) {
            found = occurrences(s->text, needle) >= n;
            break;
        }
    pthread_mutex_unlock(&s->mu);
    return found;
}

int logsink_has(logsink *s, const char *needle)
{
    pthread_mutex_lock(&s->mu);
    int found = strstr(s->text, needle) != NULL;
    pthread_mutex_unlock(&s->mu);
    return found;
}

int logsink_wait(logsink *s, const char *needle, int timeout_ms)
{
    return logsink_wait_count(s, needle, 1, timeout_ms);
}

void logsink_line(logsink *s, const char *needle, char *out, size_t n)
{
    pthread_mutex_lock(&s->mu);
    const char *p = strstr(s->text, needle);
    out[0] = '\0';
    if (p) {
        while (p > s->text && p[-1] != '\n')
            p--;
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        snprintf(out, n, "%.*s", (int)len, p);
    }
    pthread_mutex_unlock(&s->mu);
}

int lk_socket(void)
{
    return lk_socket_of(AF_INET);
}

int lk_socket_of(int family)
{
    int one = 1;
    int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);

    ck_assert_int_ge(s, 0);
    ck_assert_int_eq(setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)), 0);
    ck_assert_int_eq(fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK), 0);
    return s;
}

/* librdkafka's connect_cb call: a fresh socket of addr's family */
static int connect_as_librdkafka(km_transport *t, const struct sockaddr *addr, socklen_t len,
                                 const char *broker_id)
{
    int fd = lk_socket_of(addr->sa_family);
    int r = km_transport_connect(t, fd, addr, len, broker_id);

    ck_assert_msg(r == 0, "km_transport_connect: %s", strerror(r));
    return fd;
}

int lk_connect(km_transport *t, int port, const char *broker_id)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

    return connect_as_librdkafka(t, (struct sockaddr *)&sin, sizeof(sin), broker_id);
}

int lk_connect6(km_transport *t, int port, const char *broker_id)
{
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
                                .sin6_addr = IN6ADDR_LOOPBACK_INIT};

    return connect_as_librdkafka(t, (struct sockaddr *)&sin6, sizeof(sin6), broker_id);
}

int lk_wait_connected(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int err = 0;
    socklen_t len = sizeof(err);

    int n = poll(&p, 1, timeout_ms);
    if (n == 0)
        return -1;
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    return err;
}

int lk_writable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};

    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLOUT);
}

static void put16(unsigned char *p, int v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

size_t kafka_apiversions(unsigned char *out, size_t cap, int32_t corr, const char *cid)
{
    size_t clen = strlen(cid), n = 4 + 2 + 2 + 4 + 2 + clen;

    ck_assert(n <= cap && clen < 32768);
    put32(out, (uint32_t)(n - 4));
    put16(out + 4, 18);     /* ApiVersions */
    put16(out + 6, 0);      /* v0 */
    put32(out + 8, (uint32_t)corr);
    put16(out + 12, (int)clen);
    memcpy(out + 14, cid, clen);
    return n;
}

int lk_write_all(int fd, const void *buf, size_t n, int timeout_ms)
{
    const unsigned char *p = buf;

    while (n > 0) {
        if (!lk_writable(fd, timeout_ms))
            return ETIMEDOUT;
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EAGAIN)
            continue;
        if (w < 0)
            return errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads exactly n bytes. 0 ok, 1 EOF before any, -1 timeout, -2 error,
 * -3 EOF inside. */
static int read_exact(int fd, unsigned char *buf, size_t n, int timeout_ms)
{
    size_t got = 0;

    while (got < n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) != 1)
            return -1;
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EAGAIN)
            continue;
        if (r < 0)
            return -2;
        if (r == 0)
            return got == 0 ? 1 : -3;
        got += (size_t)r;
    }
    return 0;
}

long lk_read_frame(int fd, unsigned char *body, size_t cap, int timeout_ms)
{
    unsigned char len[4];
    int r = read_exact(fd, len, 4, timeout_ms);

    if (r == 1)
        return 0;
    if (r != 0)
        return r;
    uint32_t n = (uint32_t)len[0] << 24 | (uint32_t)len[1] << 16 | (uint32_t)len[2] << 8 | len[3];
    ck_assert_msg(n > 0 && n <= cap, "response frame of %u bytes", n);
    r = read_exact(fd, body, n, timeout_ms);
    if (r == 1)
        return -3;
    return r == 0 ? (long)n : r;
}

int lk_closed(int fd, int timeout_ms)
{
    unsigned char buf[4096];

    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) != 1)
            return 0;
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r == 0 || (r < 0 && errno != EAGAIN))
            return 1;
    }
}

int lk_apiversions_roundtrip(int fd, int32_t corr, int timeout_ms)
{
    unsigned char req[256], body[65536];
    size_t n = kafka_apiversions(req, sizeof(req), corr, "kmtls-transport-test");

    if (lk_write_all(fd, req, n, timeout_ms) != 0)
        return -1;
    long len = lk_read_frame(fd, body, sizeof(body), timeout_ms);
    if (len < 10)
        return -2;
    int32_t got = (int32_t)((uint32_t)body[0] << 24 | (uint32_t)body[1] << 16 |
                            (uint32_t)body[2] << 8 | body[3]);
    int16_t err = (int16_t)(body[4] << 8 | body[5]);
    uint32_t count = (uint32_t)body[6] << 24 | (uint32_t)body[7] << 16 | (uint32_t)body[8] << 8 | body[9];
    if (got != corr || err != 0 || count == 0)
        return -3;
    return 0;
}

static int count_dir(const char *path)
{
    DIR *d = opendir(path);
    int n = 0;
    struct dirent *e;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1;   /* the directory stream's own fd / nothing for tasks */
}

int count_fds(void)
{
    return count_dir("/proc/self/fd");
}

int count_threads(void)
{
    return count_dir("/proc/self/task") + 1;
}
