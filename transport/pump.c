/*
 * Bytes of an UP connection: requests from librdkafka (P) go out through
 * SSL_write only - there is no other path from P to the broker - and what
 * SSL_read yields goes to P. Both directions are accounted in Kafka frames
 * (frames.c), which is what lets drain.c close at a request boundary with
 * every response delivered. One 16 KiB buffer each way; a direction stops
 * (and its source is no longer polled) while its buffer is not yet written
 * out, so a slow side holds the other back instead of growing memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/err.h>

#include "internal.h"

/* Work done per wake-up before other connections get their turn; level-
 * triggered epoll brings us back for the rest. */
#define PUMP_ROUNDS 32

int km_pump_alloc(km_conn *c)
{
    c->up = malloc(KM_BUF);
    c->down = malloc(KM_BUF);
    return c->up && c->down ? 0 : -1;
}

/* The end of an UP connection. librdkafka reports the disconnect itself
 * (it sees EOF); what it cannot know is a TLS-level cause, so only that is
 * an error here. */
static int tls_error(km_conn *c, int e, int sys, const char *what)
{
    char r[768];
    unsigned long last = ERR_peek_last_error();

    c->tls->tls_eof = 1;
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && sys == 0) ||
        (e == SSL_ERROR_SSL && ERR_GET_REASON(last) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
        /* with or without close_notify: a Kafka frame cut short is caught
         * by librdkafka's own framing */
        km_log(c->t, LOG_DEBUG, c->broker, "the broker closed the connection");
        c->tls->tls_failed = e != SSL_ERROR_ZERO_RETURN;
    } else if (e == SSL_ERROR_SYSCALL) {
        km_log(c->t, LOG_INFO, c->broker, "connection to the broker lost: %s", strerror(sys));
        c->tls->tls_failed = 1;
    } else {
        km_tls_failure(c->tls, e, sys, c->host, what, r, sizeof(r));
        km_log(c->t, LOG_ERR, c->broker, "%s", r);
        c->tls->tls_failed = 1;
    }
    ERR_clear_error();
    return -1;
}

/* librdkafka -> broker. 1 progress, 0 nothing to do now, -1 finished. */
static int up_step(km_conn *c)
{
    km_leg *l = c->tls;

    if (c->up_off < c->up_len) {
        ERR_clear_error();
        errno = 0;
        int r = SSL_write(l->ssl, c->up + c->up_off, (int)(c->up_len - c->up_off));
        l->write_wants_write = l->write_wants_read = 0;
        if (r > 0) {
            c->up_off += (size_t)r;
            if (c->up_off < c->up_len)
                return 1;
            c->up_off = c->up_len = 0;
            /* a short read emptied P: another read would only say EAGAIN,
             * and epoll reports what librdkafka writes next */
            return c->up_drained ? 0 : 1;
        }
        int sys = errno, e = SSL_get_error(l->ssl, r);
        if (e == SSL_ERROR_WANT_WRITE) {
            l->write_wants_write = 1;
            return 0;
        }
        if (e == SSL_ERROR_WANT_READ) {
            l->write_wants_read = 1;
            return 0;
        }
        /* what librdkafka sent is lost with the connection; it sees the
         * close and retries the request on its next one */
        return tls_error(c, e, sys, "TLS write failed");
    }
    size_t want = KM_BUF;
    if (c->fenced) {
        /* draining: finish the request in progress, start no new one */
        want = km_frames_to_boundary(&c->req);
        if (want == 0)
            return 0;
        if (want > KM_BUF)
            want = KM_BUF;
    }
    ssize_t r = read(c->plain.fd, c->up, want);
    if (r > 0) {
        uint64_t before = c->req.expecting;
        uint64_t done = km_frames_feed(&c->req, c->up, (size_t)r);
        uint64_t expecting = c->req.expecting - before;
        c->awaiting += expecting;
        c->up_bytes += (uint64_t)r;
        /* a request alone in flight: its reply time is what decides the
         * reply wait (direct.c) */
        if (done)
            c->lone_sent_us = done == 1 && expecting == 1 && c->awaiting == 1 ? km_transport_clock_us() : 0;
        c->up_len = (size_t)r;
        c->up_off = 0;
        c->up_drained = (size_t)r < want;
        return 1;
    }
    if (r < 0 && errno == EAGAIN)
        return 0;
    if (r < 0 && errno == EINTR)
        return 1;
    km_log(c->t, LOG_DEBUG, c->broker, "librdkafka closed the connection");
    return -1;
}

/* broker -> librdkafka */
static int down_step(km_conn *c)
{
    km_leg *l = c->tls;

    if (c->down_off < c->down_len) {
        ssize_t w = send(c->plain.fd, c->down + c->down_off, c->down_len - c->down_off,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            uint64_t done = km_frames_feed(&c->resp, c->down + c->down_off, (size_t)w);
            c->responses += done;
            c->awaiting = c->awaiting > done ? c->awaiting - done : 0;
            if (done && c->lone_sent_us) {
                uint64_t took = km_transport_clock_us() - c->lone_sent_us;
                c->reply_us = c->reply_us ? (c->reply_us * 7 + took) / 8 : took;
                c->lone_sent_us = 0;
            }
            c->down_off += (size_t)w;
            if (c->down_off < c->down_len)
                return 1;
            c->down_off = c->down_len = 0;
            /* nothing decrypted is left over: another SSL_read would only
             * read the socket to say WANT_READ, and epoll reports what the
             * broker sends next */
            return SSL_has_pending(l->ssl) ? 1 : 0;
        }
        if (w < 0 && errno == EAGAIN)
            return 0;
        if (w < 0 && errno == EINTR)
            return 1;
        km_log(c->t, LOG_DEBUG, c->broker, "librdkafka closed the connection");
        return -1;
    }
    ERR_clear_error();
    errno = 0;
    int r = SSL_read(l->ssl, c->down, KM_BUF);
    l->read_wants_write = 0;
    if (r > 0) {
        c->down_len = (size_t)r;
        c->down_off = 0;
        return 1;
    }
    int sys = errno, e = SSL_get_error(l->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        return 0;
    if (e == SSL_ERROR_WANT_WRITE) {
        l->read_wants_write = 1;
        return 0;
    }
    /* the broker is gone; SSL_read runs only once everything before is
     * delivered, so nothing is left to flush to librdkafka */
    return tls_error(c, e, sys, "TLS read failed");
}

void km_conn_interest(km_conn *c)
{
    km_leg *l = c->tls;
    uint32_t tls = 0, plain = EPOLLRDHUP;

    /* a quiet connection whose replies librdkafka's thread takes hears
     * only a hang-up: watching for each reply, and not for the next, would
     * cost two epoll_ctl a message (direct.c) */
    if (c->replies_lent && km_direct_quiet(c))
        tls |= EPOLLRDHUP;
    else if (c->down_len == 0)
        tls |= EPOLLIN;
    if (l->write_wants_read)
        tls |= EPOLLIN;
    if (c->up_len > 0 || l->read_wants_write)
        tls |= EPOLLOUT;
    if (c->quiet && !km_direct_quiet(c))
        c->quiet = 0;   /* a move or drain began: P is the transport thread's again */
    if (c->up_len == 0 && !(c->fenced && km_frames_to_boundary(&c->req) == 0) && !c->quiet)
        plain |= EPOLLIN;
    if (c->down_len > 0)
        plain |= EPOLLOUT;
    km_watch(&l->ep, tls);
    km_watch(&c->plain, plain);
    /* a spare that is up waits for the switch: hang-ups only */
    if (c->spare && c->spare->phase == LEG_UP)
        km_watch(&c->spare->ep, 0);
}

/* One direction until it stops making progress or its turn is up - but
 * never leaving records in OpenSSL's read-ahead buffer while the buffer
 * towards librdkafka is free: no epoll event would bring us back for them. */
static int run(km_conn *c, int (*step)(km_conn *))
{
    for (int i = 0;; i++) {
        int r = step(c);
        if (r <= 0)
            return r;
        if (i >= PUMP_ROUNDS && !(step == down_step && SSL_has_pending(c->tls->ssl)))
            return 0;
    }
}

int km_pump(km_conn *c, unsigned kick)
{
    km_leg *l = c->tls;
    /* Only the directions that can move: a read that would only say
     * EAGAIN costs a syscall per wake-up, on every request. */
    int up = (kick & (KM_KICK_PLAIN_IN | KM_KICK_ALL)) || c->up_len > 0 ||
             ((kick & KM_KICK_TLS_IN) && l->write_wants_read);
    int down = (kick & (KM_KICK_TLS_IN | KM_KICK_PLAIN_OUT | KM_KICK_ALL)) ||
               ((kick & KM_KICK_TLS_OUT) && l->read_wants_write);

    if (up && run(c, up_step) < 0)
        return -1;
    if (down && run(c, down_step) < 0)
        return -1;
    /* what the down direction delivered may have let the fence's frame end */
    km_conn_interest(c);
    return 0;
}

int km_pump_up(km_conn *c)
{
    if (run(c, up_step) < 0)
        return -1;
    km_conn_interest(c);
    return 0;
}

int km_pump_idle(const km_conn *c)
{
    return c->up_len == 0 && km_frames_at_boundary(&c->req) && c->awaiting == 0 &&
           c->down_len == 0 && km_frames_at_boundary(&c->resp);
}
