/*
 * One TLS connection to the broker, on the transport's thread: TCP connect,
 * SSL_connect, and on TLS 1.3 the wait for the broker's verdict on our
 * certificate. A connection's first leg uses librdkafka's own socket; a
 * spare leg (moving a connection to new credentials) opens a socket of its
 * own to the same address. The leg reports to its connection once:
 * km_conn_leg_up or km_conn_leg_failed - after which it may be freed.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/err.h>

#include "internal.h"

km_leg *km_leg_new(km_conn *c, SSL_CTX *ctx, uint64_t gen)
{
    km_leg *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return NULL;
    l->ep.c = c;
    l->ep.leg = l;
    l->ep.fd = -1;
    l->ctx = ctx;
    l->gen = gen;
    l->alert = -1;
    l->phase = LEG_CONNECTING;
    return l;
}

/*
 * On librdkafka's thread, in connect_cb, before the connection is handed to
 * the transport's thread: when the TCP connect has completed already (a
 * broker on this host: loopback connects at once) and the thread blocks
 * SIGPIPE (librdkafka's do), the ClientHello goes out from here, and the broker works on it while the transport's thread wakes
 * up, which on a VM whose idle CPUs halt takes tens of microseconds or more
 * (README: Librdkafka's own thread). Nothing is waited for. The leg is not
 * the transport thread's yet, and km_submit orders what was done here
 * before anything that thread does with it. Whatever SSL_connect said, the
 * transport's thread carries on from it (km_leg_start): a failure is
 * reported there, as always.
 */
void km_leg_prestart(km_leg *l)
{
    km_conn *c = l->ep.c;
    struct pollfd p = { .fd = l->ep.fd, .events = POLLOUT };
    int soerr = 0, r;
    socklen_t len = sizeof(soerr);
    char why[256];

    if (!km_thread_blocks_sigpipe() || poll(&p, 1, 0) != 1 || (p.revents & (POLLERR | POLLHUP)) ||
        !(p.revents & POLLOUT) || getsockopt(l->ep.fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0)
        return; /* still connecting, or failed: the transport's thread sees it */
    l->started_ms = km_transport_clock_ms();
    if (km_tls_prepare(l, c->host, c->t->cfg.verify_hostname, why, sizeof(why)) != 0) {
        SSL_free(l->ssl); /* the transport's thread prepares again, and reports */
        l->ssl = NULL;
        ERR_clear_error();
        return;
    }
    l->phase = LEG_HANDSHAKE;
    ERR_clear_error();
    errno = 0;
    r = SSL_connect(l->ssl);
    /* the next event: the ServerHello; anything else, the socket writable
     * at once, and handshake() on the transport's thread says what it was */
    l->prestarted = r <= 0 && SSL_get_error(l->ssl, r) == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
    ERR_clear_error(); /* librdkafka's thread keeps no error of ours */
}

int km_leg_start(km_leg *l, char *why, size_t n)
{
    km_conn *c = l->ep.c;
    int e;

    if (l->prestarted) {
        if ((e = km_register(&l->ep, l->prestarted)) != 0) {
            snprintf(why, n, "epoll: %s", strerror(e));
            return -1;
        }
        return 0;
    }
    l->started_ms = km_transport_clock_ms();
    if (km_tls_prepare(l, c->host, c->t->cfg.verify_hostname, why, n) != 0)
        return -1;
    /* writable = connect finished */
    if ((e = km_register(&l->ep, EPOLLOUT)) != 0) {
        snprintf(why, n, "epoll: %s", strerror(e));
        return -1;
    }
    return 0;
}

int km_leg_open(km_leg *l, char *why, size_t n)
{
    km_conn *c = l->ep.c;
    int fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);

    if (fd < 0) {
        snprintf(why, n, "socket: %s", strerror(errno));
        return -1;
    }
    l->ep.fd = fd;
    km_sockopts_apply(fd, &c->opts, &c->t->default_opts, c->t->cfg.tcp_nodelay);
    if (connect(fd, (struct sockaddr *)&c->addr, c->addrlen) < 0 && errno != EINPROGRESS &&
        errno != EINTR) {
        snprintf(why, n, "connect failed: %s", strerror(errno));
        return -1;
    }
    return km_leg_start(l, why, n);
}

static void fail_tls(km_leg *l, int ssl_err, int sys, const char *when)
{
    km_conn *c = l->ep.c;
    char reason[768];

    km_tls_failure(l, ssl_err, sys, c->host, when, reason, sizeof(reason));
    l->tls_failed = 1;
    km_conn_leg_failed(c, l, reason);
}

static void up(km_leg *l)
{
    l->phase = LEG_UP;
    km_tls_confirmed(l);
    km_conn_leg_up(l->ep.c, l);
}

static void confirm(km_leg *l)
{
    km_conn *c = l->ep.c;
    unsigned char scratch[256];

    for (;;) {
        /* only a connection librdkafka has not seen yet can take data: a
         * spare carries nothing before it becomes the active leg */
        int first = l == c->tls;
        unsigned char *into = first ? c->down + c->down_len : scratch;
        int room = first ? (int)(KM_BUF - c->down_len) : (int)sizeof(scratch);
        ERR_clear_error();
        errno = 0;
        int r = SSL_read(l->ssl, into, room);
        if (r > 0) {
            if (!first) {
                km_conn_leg_failed(c, l, "the broker sent data on a new connection before any "
                                         "request");
                return;
            }
            /* the server spoke first: it took our certificate */
            c->down_len += (size_t)r;
            break;
        }
        int e = SSL_get_error(l->ssl, r);
        if (e == SSL_ERROR_WANT_READ) {
            if (!l->got_ticket) {
                km_watch(&l->ep, EPOLLIN);
                return;
            }
            break;
        }
        if (e == SSL_ERROR_WANT_WRITE) {
            km_watch(&l->ep, EPOLLOUT);
            return;
        }
        fail_tls(l, e, errno, "the broker refused the connection after the TLS 1.3 handshake");
        return;
    }
    up(l);
}

static void handshake(km_leg *l)
{
    ERR_clear_error();
    errno = 0;
    int r = SSL_connect(l->ssl);
    if (r == 1) {
        /* TLS 1.2: the server's Finished came after it checked our
         * certificate. TLS 1.3: ours went last, so the verdict is still to
         * come - its NewSessionTicket (or its alert). */
        if (SSL_version(l->ssl) >= TLS1_3_VERSION && !l->got_ticket) {
            l->phase = LEG_CONFIRM;
            l->deadline_ms = km_transport_clock_ms() + l->ep.c->t->cfg.confirm_timeout_ms;
            confirm(l);
        } else {
            up(l);
        }
        return;
    }
    int e = SSL_get_error(l->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        km_watch(&l->ep, EPOLLIN);
    else if (e == SSL_ERROR_WANT_WRITE)
        km_watch(&l->ep, EPOLLOUT);
    else
        fail_tls(l, e, errno, "TLS handshake failed");
}

static void connected(km_leg *l)
{
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    char reason[128];

    if (getsockopt(l->ep.fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    if (soerr != 0) {
        snprintf(reason, sizeof(reason), "connect failed: %s", strerror(soerr));
        km_conn_leg_failed(l->ep.c, l, reason);
        return;
    }
    l->phase = LEG_HANDSHAKE;
    handshake(l);
}

void km_leg_event(km_leg *l)
{
    switch (l->phase) {
    case LEG_CONNECTING:
        connected(l);
        return;
    case LEG_HANDSHAKE:
        handshake(l);
        return;
    case LEG_CONFIRM:
        confirm(l);
        return;
    case LEG_UP:
        return;
    }
}

void km_leg_timer(km_leg *l, uint64_t now)
{
    if (l->phase != LEG_CONFIRM || now < l->deadline_ms)
        return;
    /* A refusal would have come one round trip after our Finished; a server
     * that sends no tickets never signals acceptance. */
    km_log(l->ep.c->t, LOG_DEBUG, l->ep.c->broker, "no NewSessionTicket within %u ms after the "
           "TLS 1.3 handshake: taking the connection as accepted",
           l->ep.c->t->cfg.confirm_timeout_ms);
    up(l);
}

void km_leg_close(km_leg *l)
{
    if (l->ep.fd < 0)
        return;
    km_unwatch(&l->ep);
    /* close_notify for a connection that was fine; never after a fatal TLS
     * error (OpenSSL forbids it) nor before the handshake ended */
    if (l->ssl && !l->tls_failed && !l->tls_eof && l->phase == LEG_UP) {
        ERR_clear_error();
        SSL_shutdown(l->ssl);
        ERR_clear_error();
    }
    close(l->ep.fd);
    l->ep.fd = -1;
}

void km_leg_free(km_leg *l)
{
    if (l == NULL)
        return;
    if (l->ep.fd >= 0)
        close(l->ep.fd);
    SSL_free(l->ssl);
    SSL_CTX_free(l->ctx);
    free(l);
}
