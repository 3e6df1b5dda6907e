/* The transport tests' peers: see peers.h. */
#include "peers.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

extern char **environ;

static const char *env_or_die(const char *name)
{
    const char *v = getenv(name);

    ck_assert_msg(v != NULL && *v, "%s is not set", name);
    return v;
}

static int run_capture(const char *cmd, char *out, size_t n)
{
    FILE *f = popen(cmd, "r");
    size_t len = 0;

    ck_assert_ptr_nonnull(f);
    while (len + 1 < n) {
        size_t r = fread(out + len, 1, n - 1 - len, f);
        if (r == 0)
            break;
        len += r;
    }
    out[len] = '\0';
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

/* Peers run in sessions of their own and outlive a killed test: a test
 * stopped by meson's timeout (SIGTERM) stops what it started. Only the
 * process that started a peer stops it (Check forks a child per test). */
#define MAX_PEERS 8
static mtls_peer *started[MAX_PEERS];
static pid_t owner;

static void on_signal(int sig)
{
    if (getpid() == owner)
        for (int i = 0; i < MAX_PEERS; i++)
            if (started[i])
                mtls_peer_stop(started[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void remember(mtls_peer *p, int add)
{
    for (int i = 0; i < MAX_PEERS; i++)
        if (add ? started[i] == NULL : started[i] == p) {
            started[i] = add ? p : NULL;
            break;
        }
    if (add && owner == 0) {
        owner = getpid();
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
    }
}

static void start_peer(mtls_peer *p, const char *tls_max, const char *server, int ipv6);

void mtls_peer_start(mtls_peer *p, const char *tls_max)
{
    start_peer(p, tls_max, "server", 0);
}

void mtls_peer_start_as(mtls_peer *p, const char *tls_max, const char *server)
{
    start_peer(p, tls_max, server, 0);
}

void mtls_peer_start_ipv6(mtls_peer *p)
{
    start_peer(p, NULL, "server", 1);
}

static void start_peer(mtls_peer *p, const char *tls_max, const char *server, int ipv6)
{
    const char *script_dir = env_or_die("KMTLS_PEER_DIR");
    const char *tmp = getenv("TMPDIR");
    char cmd[4 * PATH_MAX], out[8192], crt[PATH_MAX], key[PATH_MAX];

    snprintf(crt, sizeof(crt), "%s/server.crt", server);
    snprintf(key, sizeof(key), "%s/server.key", server);
    memset(p, 0, sizeof(*p));
    snprintf(p->dir, sizeof(p->dir), "%s/kmtls-transport-peer.XXXXXX", tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(p->dir));
    for (int attempt = 0; attempt < 5; attempt++) {
        snprintf(cmd, sizeof(cmd), "'%s/mtls-peer.sh' pick-ports 1", script_dir);
        ck_assert_int_eq(run_capture(cmd, out, sizeof(out)), 0);
        p->port = atoi(out);
        ck_assert_int_gt(p->port, 0);
        snprintf(cmd, sizeof(cmd),
                 "PEER_DIR='%s' PEER_IPV6=%d %s%s '%s/mtls-peer.sh' start '%s' '%s' '%s' %d 2>&1", p->dir,
                 ipv6, tls_max ? "PEER_TLS_MAX=" : "", tls_max ? tls_max : "", script_dir,
                 cert_path("ca/ca.crt"), cert_path(crt), cert_path(key), p->port);
        int rc = run_capture(cmd, out, sizeof(out));
        if (rc == 3)
            continue;   /* the port was taken meanwhile: pick another */
        ck_assert_msg(rc == 0, "mtls-peer.sh start: exit %d: %s", rc, out);
        remember(p, 1);
        return;
    }
    ck_abort_msg("mtls-peer.sh: no free port after 5 attempts");
}

void mtls_peer_stop(mtls_peer *p)
{
    char cmd[3 * PATH_MAX], out[4096];

    if (p->port == 0)
        return;
    snprintf(cmd, sizeof(cmd), "'%s/mtls-peer.sh' stop '%s' 2>&1 && rm -rf '%s'",
             env_or_die("KMTLS_PEER_DIR"), p->dir, p->dir);
    run_capture(cmd, out, sizeof(out));
    p->port = 0;
    remember(p, 0);
}

static char *read_log(const mtls_peer *p, long mark)
{
    char path[PATH_MAX + 16];
    FILE *f;
    char *text;
    long len;

    snprintf(path, sizeof(path), "%s/stunnel.log", p->dir);
    if ((f = fopen(path, "r")) == NULL)
        return calloc(1, 1);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    if (len < mark)
        len = mark;
    text = calloc(1, (size_t)(len - mark) + 1);
    fseek(f, mark, SEEK_SET);
    size_t got = fread(text, 1, (size_t)(len - mark), f);
    text[got] = '\0';
    fclose(f);
    return text;
}

long mtls_peer_mark(const mtls_peer *p)
{
    char path[PATH_MAX + 16];
    struct stat st;

    snprintf(path, sizeof(path), "%s/stunnel.log", p->dir);
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

int mtls_peer_count_log(const mtls_peer *p, long mark, const char *what)
{
    char *text = read_log(p, mark);
    int n = 0;

    for (const char *s = text; (s = strstr(s, what)) != NULL; s += strlen(what))
        n++;
    free(text);
    return n;
}

static long ms_since(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000L + (now.tv_nsec - t0->tv_nsec) / 1000000L;
}

int mtls_peer_wait_log(const mtls_peer *p, long mark, const char *what, int timeout_ms)
{
    return mtls_peer_wait_count(p, mark, what, 1, timeout_ms);
}

int mtls_peer_wait_count(const mtls_peer *p, long mark, const char *what, int count, int timeout_ms)
{
    char path[PATH_MAX + 16];
    struct timespec t0;
    int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK), found = 0;

    /* stunnel writes its log as it goes: wait for writes, not for time */
    snprintf(path, sizeof(path), "%s/stunnel.log", p->dir);
    ck_assert_int_ge(in, 0);
    ck_assert_int_ge(inotify_add_watch(in, path, IN_MODIFY), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!(found = mtls_peer_count_log(p, mark, what) >= count)) {
        long left = timeout_ms - ms_since(&t0);
        struct pollfd pf = {.fd = in, .events = POLLIN};
        char ev[4096];
        if (left <= 0 || poll(&pf, 1, (int)left) != 1)
            break;
        while (read(in, ev, sizeof(ev)) > 0)
            ;
    }
    if (!found)
        found = mtls_peer_count_log(p, mark, what) >= count;
    close(in);
    return found;
}

/* ---- openssl s_server ---- */

static void *sserver_reader(void *arg)
{
    sserver *s = arg;
    char buf[4096];
    ssize_t r;

    while ((r = read(s->out_fd, buf, sizeof(buf))) > 0) {
        pthread_mutex_lock(&s->mu);
        size_t take = (size_t)r < sizeof(s->out) - 1 - s->len ? (size_t)r : sizeof(s->out) - 1 - s->len;
        memcpy(s->out + s->len, buf, take);
        s->len += take;
        s->out[s->len] = '\0';
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

void sserver_start(sserver *s, const char *const *extra)
{
    const char *argv[32] = {"openssl", "s_server", "-accept", "127.0.0.1:0",
                            "-cert", cert_path("server/server.crt"),
                            "-key", cert_path("server/server.key"),
                            "-CAfile", cert_path("ca/ca.crt"), "-Verify", "1"};
    int argc = 12, in[2], out[2];
    posix_spawn_file_actions_t fa;
    char line[512];
    size_t len = 0;

    memset(s, 0, sizeof(*s));
    for (; extra && *extra; extra++)
        argv[argc++] = *extra;
    argv[argc] = NULL;
    ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    ck_assert_int_eq(posix_spawnp(&s->pid, "openssl", &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    /* s_server's stdin stays open and silent: at EOF it would quit */
    s->in_fd = in[1];
    s->out_fd = out[0];
    /* ready when it prints "ACCEPT 127.0.0.1:PORT" */
    while (len + 1 < sizeof(line)) {
        struct pollfd pf = {.fd = s->out_fd, .events = POLLIN};
        ck_assert_msg(poll(&pf, 1, 10000) == 1, "s_server not ready after 10 s");
        ssize_t r = read(s->out_fd, line + len, 1);
        ck_assert_msg(r == 1, "s_server exited: %.*s", (int)len, line);
        len++;
        line[len] = '\0';
        char *a = strstr(line, "ACCEPT 127.0.0.1:");
        if (a && line[len - 1] == '\n') {
            s->port = atoi(a + strlen("ACCEPT 127.0.0.1:"));
            break;
        }
        if (line[len - 1] == '\n')
            len = 0;
    }
    ck_assert_int_gt(s->port, 0);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    ck_assert_int_eq(pthread_create(&s->reader, NULL, sserver_reader, s), 0);
}

void sserver_stop(sserver *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
    close(s->in_fd);
    pthread_join(s->reader, NULL);
    close(s->out_fd);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    s->pid = 0;
}

int sserver_wait_output(sserver *s, const char *needle, int timeout_ms)
{
    struct timespec until;
    int found;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (!(found = memmem(s->out, s->len, needle, strlen(needle)) != NULL))
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT)
            break;
    found = memmem(s->out, s->len, needle, strlen(needle)) != NULL;
    pthread_mutex_unlock(&s->mu);
    return found;
}

/* ---- the relay ---- */

#define RELAY_MAX 16
#define CAPTURE 65536

typedef struct pair {
    int cfd, sfd;                 /* client (the transport), server (the peer) */
    int hold, server_eof, open;
    unsigned char *held;
    size_t held_len, held_cap;
    unsigned char cap[2][CAPTURE];
    size_t cap_len[2];
} pair;

struct relay {
    int lfd, port, target, wake[2], stop, hold_new, npairs;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pair pairs[RELAY_MAX];
};

static void record(pair *p, int to_server, const unsigned char *b, size_t n)
{
    size_t room = CAPTURE - p->cap_len[to_server];
    size_t take = n < room ? n : room;

    memcpy(p->cap[to_server] + p->cap_len[to_server], b, take);
    p->cap_len[to_server] += take;
}

static void write_all_blocking(int fd, const unsigned char *b, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;   /* the other side is gone: the test will see it */
        b += w;
        n -= (size_t)w;
    }
}

static void pair_close(pair *p)
{
    if (!p->open)
        return;
    close(p->cfd);
    if (p->sfd >= 0)
        close(p->sfd);
    p->open = 0;
}

static void relay_accept(relay *r)
{
    int c = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->target)};

    if (c < 0)
        return;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (r->npairs == RELAY_MAX || s < 0 || connect(s, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        close(c);
        if (s >= 0)
            close(s);
        return;
    }
    pair *p = &r->pairs[r->npairs++];
    memset(p, 0, sizeof(*p));
    p->cfd = c;
    p->sfd = s;
    p->open = 1;
    p->hold = r->hold_new;
}

static void from_server(relay *r, pair *p)
{
    unsigned char buf[16384];
    ssize_t n = read(p->sfd, buf, sizeof(buf));

    if (n <= 0) {
        if (p->held_len > 0) {
            /* deliver what was held once released, then close */
            close(p->sfd);
            p->sfd = -1;
            p->server_eof = 1;
        } else {
            pair_close(p);
        }
        return;
    }
    record(p, 0, buf, (size_t)n);
    if (!p->hold) {
        write_all_blocking(p->cfd, buf, (size_t)n);
        return;
    }
    if (p->held_len + (size_t)n > p->held_cap) {
        p->held_cap = (p->held_len + (size_t)n) * 2;
        p->held = realloc(p->held, p->held_cap);
        ck_assert_ptr_nonnull(p->held);
    }
    memcpy(p->held + p->held_len, buf, (size_t)n);
    p->held_len += (size_t)n;
    pthread_cond_broadcast(&r->cv);
}

static void from_client(pair *p)
{
    unsigned char buf[16384];
    ssize_t n = read(p->cfd, buf, sizeof(buf));

    if (n <= 0) {
        pair_close(p);
        return;
    }
    record(p, 1, buf, (size_t)n);
    if (p->sfd >= 0)
        write_all_blocking(p->sfd, buf, (size_t)n);
}

static void flush_released(pair *p)
{
    if (!p->open || p->hold || p->held_len == 0)
        return;
    write_all_blocking(p->cfd, p->held, p->held_len);
    p->held_len = 0;
    if (p->server_eof)
        pair_close(p);
}

static void *relay_main(void *arg)
{
    relay *r = arg;

    for (;;) {
        struct pollfd pf[2 + 2 * RELAY_MAX];
        pair *owner[2 + 2 * RELAY_MAX];
        int n = 0;

        pthread_mutex_lock(&r->mu);
        if (r->stop) {
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
        for (int i = 0; i < r->npairs; i++)
            flush_released(&r->pairs[i]);
        pf[n] = (struct pollfd){.fd = r->lfd, .events = POLLIN};
        owner[n++] = NULL;
        pf[n] = (struct pollfd){.fd = r->wake[0], .events = POLLIN};
        owner[n++] = NULL;
        for (int i = 0; i < r->npairs; i++) {
            pair *p = &r->pairs[i];
            if (!p->open)
                continue;
            pf[n] = (struct pollfd){.fd = p->cfd, .events = POLLIN};
            owner[n++] = p;
            if (p->sfd >= 0) {
                pf[n] = (struct pollfd){.fd = p->sfd, .events = POLLIN};
                owner[n++] = p;
            }
        }
        pthread_mutex_unlock(&r->mu);
        if (poll(pf, (nfds_t)n, -1) < 0)
            continue;
        pthread_mutex_lock(&r->mu);
        if (pf[0].revents)
            relay_accept(r);
        if (pf[1].revents) {
            char b[64];
            while (read(r->wake[0], b, sizeof(b)) > 0)
                ;
        }
        for (int i = 2; i < n; i++) {
            pair *p = owner[i];
            if (!pf[i].revents || !p->open)
                continue;
            if (pf[i].fd == p->cfd)
                from_client(p);
            else if (pf[i].fd == p->sfd)
                from_server(r, p);
        }
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
}

relay *relay_start(int target_port)
{
    relay *r = calloc(1, sizeof(*r));
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);

    ck_assert_ptr_nonnull(r);
    r->target = target_port;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_ge(r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
    ck_assert_int_eq(bind(r->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(r->lfd, 16), 0);
    ck_assert_int_eq(getsockname(r->lfd, (struct sockaddr *)&sin, &len), 0);
    r->port = ntohs(sin.sin_port);
    ck_assert_int_eq(pipe2(r->wake, O_CLOEXEC | O_NONBLOCK), 0);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    ck_assert_int_eq(pthread_create(&r->thread, NULL, relay_main, r), 0);
    return r;
}

int relay_port(const relay *r)
{
    return r->port;
}

static void relay_poke(relay *r)
{
    ck_assert_int_eq(write(r->wake[1], "x", 1), 1);
}

void relay_hold_new(relay *r, int hold)
{
    pthread_mutex_lock(&r->mu);
    r->hold_new = hold;
    pthread_mutex_unlock(&r->mu);
}

void relay_hold(relay *r, int idx, int hold)
{
    pthread_mutex_lock(&r->mu);
    ck_assert_int_lt(idx, r->npairs);
    r->pairs[idx].hold = hold;
    pthread_mutex_unlock(&r->mu);
    relay_poke(r);
}

int relay_conns(relay *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->npairs;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static void until_in(struct timespec *until, int timeout_ms)
{
    clock_gettime(CLOCK_REALTIME, until);
    until->tv_sec += timeout_ms / 1000;
    until->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until->tv_nsec >= 1000000000L) {
        until->tv_sec++;
        until->tv_nsec -= 1000000000L;
    }
}

int relay_wait_closed(relay *r, int idx, int timeout_ms)
{
    struct timespec until;
    int closed;

    until_in(&until, timeout_ms);
    pthread_mutex_lock(&r->mu);
    while (!(closed = idx < r->npairs && !r->pairs[idx].open))
        if (pthread_cond_timedwait(&r->cv, &r->mu, &until) == ETIMEDOUT)
            break;
    closed = idx < r->npairs && !r->pairs[idx].open;
    pthread_mutex_unlock(&r->mu);
    return closed;
}

int relay_wait_held(relay *r, int idx, size_t min, int timeout_ms)
{
    struct timespec until;
    int ok;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->mu);
    while (!(ok = idx < r->npairs && r->pairs[idx].held_len >= min))
        if (pthread_cond_timedwait(&r->cv, &r->mu, &until) == ETIMEDOUT)
            break;
    ok = idx < r->npairs && r->pairs[idx].held_len >= min;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

size_t relay_capture(relay *r, int idx, int to_server, unsigned char *out, size_t cap)
{
    pthread_mutex_lock(&r->mu);
    ck_assert_int_lt(idx, r->npairs);
    pair *p = &r->pairs[idx];
    size_t n = p->cap_len[to_server] < cap ? p->cap_len[to_server] : cap;
    memcpy(out, p->cap[to_server], n);
    pthread_mutex_unlock(&r->mu);
    return n;
}

void relay_stop(relay *r)
{
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_mutex_unlock(&r->mu);
    relay_poke(r);
    pthread_join(r->thread, NULL);
    for (int i = 0; i < r->npairs; i++) {
        pair_close(&r->pairs[i]);
        free(r->pairs[i].held);
    }
    close(r->lfd);
    close(r->wake[0]);
    close(r->wake[1]);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
