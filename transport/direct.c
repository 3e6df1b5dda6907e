/*
 * librdkafka's own thread at work. On this machine kind, handing a request
 * or a response from one thread to another that sleeps costs tens of
 * microseconds (the woken thread's CPU first has to leave its idle state;
 * transport/README.md measures it), and a synchronous producer
 * pays every hand-off on every message. librdkafka runs its on_request_sent
 * interceptors on the broker's thread right after a whole request went into
 * its socket - here, into P - and km_transport_request_sent does three
 * things from there, all only for a connection that is simply UP (every
 * other state - the handshake, a move, a drain - stays the transport
 * thread's, as do connections whose caller does not block SIGPIPE):
 *
 * - forward: the request is read from P, counted and SSL_written now, so it
 *   is on the wire when librdkafka goes back to poll;
 * - quiet: P's EPOLLIN is no longer watched, so librdkafka's next request
 *   does not wake the transport's thread for nothing (it would only find P
 *   already emptied, and contend for the lock). Bytes that no request call
 *   follows - a request bigger than the socket pair holds, which librdkafka
 *   writes in parts; raw SASL tokens after SaslHandshake v0, for which a
 *   connection never goes quiet - are found by the quiet tick: every
 *   KM_QUIET_TICK_MS the transport's thread looks into P (FIONREAD) and
 *   forwards what has lain there since the tick before. Only a request
 *   answered at once (below) and no bigger than KM_QUIET_MAX_REQUEST makes
 *   a connection quiet (after a Fetch long-poll it would only tick while
 *   the broker holds it), and quiet ends KM_QUIET_IDLE_MS after the last
 *   such request, so an idle client does not tick;
 * - reply wait: a request alone in flight, of a kind the broker answers at
 *   once (not a Fetch long-poll, not a group join), whose like has lately
 *   been answered within half of cfg.reply_wait_us: the thread waits up to
 *   cfg.reply_wait_us for the response on the TLS socket itself, decrypts
 *   it and puts it in P before it returns - librdkafka's next poll finds it
 *   there, as it would with its own TLS, and no other thread woke. The wait
 *   ends early when the application produces (km_transport_nudge, from the
 *   plugin's on_send) so a new message is never held back by it; while it
 *   lasts the transport's thread keeps off the connection (c->borrowed).
 *   librdkafka asks on_request_sent not to block: this wait is bounded, is
 *   taken only where a reply is due within it, and cfg.reply_wait_us < 0
 *   turns it off.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Requests whose response a broker sends as soon as it has done the work
 * (Kafka API keys 0, 2, 3, 8, 9, 10, 12, 18, 22):
 * Produce, ListOffsets, Metadata, OffsetCommit, OffsetFetch,
 * FindCoordinator, Heartbeat, ApiVersions, InitProducerId. Fetch (long-poll),
 * JoinGroup and SyncGroup (the group's pace) and the admin requests (with
 * timeouts of their own) are left to the transport's thread. */
static int answered_at_once(int api_key)
{
    switch (api_key) {
    case 0: case 2: case 3: case 8: case 9: case 10: case 12: case 18: case 22:
        return 1;
    default:
        return 0;
    }
}

/* SSL_write to a TCP socket whose peer has gone raises SIGPIPE unless the
 * thread blocks it. librdkafka blocks every signal in its threads; in a
 * thread that does not, the transport's thread does the writing. */
int km_thread_blocks_sigpipe(void)
{
    sigset_t cur;

    return pthread_sigmask(SIG_BLOCK, NULL, &cur) == 0 && sigismember(&cur, SIGPIPE) == 1;
}

/* Asked once per thread: on every request it would cost a system call, and
 * librdkafka's threads never change their mask. */
static int sigpipe_blocked(void)
{
    static __thread int known; /* 0 not yet asked, 1 blocked, -1 not */

    if (known == 0)
        known = km_thread_blocks_sigpipe() ? 1 : -1;
    return known > 0;
}

/* librdkafka's fd number is reused once it closed a socket: the newest
 * connection made on it is the one its thread is writing to. */
static km_conn *conn_of(km_transport *t, int fd)
{
    km_conn *found = NULL;

    for (km_conn *c = t->conns; c; c = c->next)
        if (c->rk_fd == fd && (found == NULL || c->serial > found->serial))
            found = c;
    return found;
}

/* Simply UP: not in a handshake, not being moved or drained. */
static int steady(const km_conn *c)
{
    return !c->dead && c->state == KM_CONN_UP && c->tls->phase == LEG_UP && !c->fenced &&
           c->spare == NULL && c->t->moving != c;
}

int km_direct_quiet(const km_conn *c)
{
    return c->quiet && steady(c);
}

static int forward(km_transport *t, km_conn *c)
{
    uint64_t before;

    if (c == NULL || c->borrowed || !steady(c))
        return 0;
    before = c->req.frames;
    uint64_t bytes = c->up_bytes;
    if (km_pump_up(c) < 0) {
        /* finished (the TLS write failed, logged): closed here, under the
         * lock; the transport's thread frees it after its next batch */
        km_conn_close(c, NULL);
        return 0;
    }
    /* 0: the transport's thread had taken the request already */
    if (c->req.frames == before)
        return 0;
    t->counters.direct++;
    uint64_t now = km_transport_clock_ms();
    /* quiet pays where requests and replies alternate quickly; after a
     * long-poll it would only tick while the broker holds the Fetch */
    int quiet = !c->req.sasl_raw && answered_at_once(c->req.last_api_key) &&
                c->up_bytes - bytes <= KM_QUIET_MAX_REQUEST &&
                (c->caught_ms == 0 || now - c->caught_ms >= KM_QUIET_IDLE_MS);
    if (quiet)
        c->quiet_ms = now;
    if (quiet != c->quiet) {
        c->quiet = quiet;
        km_conn_interest(c);
        /* the transport's thread may sleep without a timeout: it must
         * start ticking */
        if (quiet && !t->ticking)
            km_wake(t);
    }
    return 1;
}

int km_direct_forward(km_transport *t, int fd)
{
    return forward(t, conn_of(t, fd));
}

static int wait_wanted(const km_transport *t, const km_conn *c)
{
    int wait_us = t->cfg.reply_wait_us;

    return wait_us > 0 && steady(c) && c->awaiting == 1 && c->lone_sent_us != 0 &&
           answered_at_once(c->req.last_api_key) && c->reply_us * 2 <= (uint64_t)wait_us &&
           c->up_len == 0 && c->down_len == 0 && !SSL_has_pending(c->tls->ssl);
}

/* With t->work held; returns with it held. */
static void wait_for_reply(km_transport *t, km_conn *c)
{
    unsigned us = (unsigned)t->cfg.reply_wait_us;
    struct timespec limit = {.tv_sec = us / 1000000u, .tv_nsec = (long)(us % 1000000u) * 1000};
    struct pollfd p[2] = {{.fd = c->tls->ep.fd, .events = POLLIN}, {.fd = t->nudgefd, .events = POLLIN}};
    uint64_t before = c->responses;
    int r;

    /* the transport's thread must not be woken by the response (it would
     * race for it): the TLS socket is watched for a hang-up only, and the
     * connection lent. It stays so after a reply taken here, for the next
     * request: with replies quick, only a wait that runs out or a request
     * not waited for gives the reply back to the transport's thread. */
    c->replies_lent = 1;
    km_conn_interest(c);
    c->borrowed = 1;
    t->counters.reply_waits++;
    atomic_fetch_add(&t->waiting, 1);
    pthread_mutex_unlock(&t->work);
    r = ppoll(p, 2, &limit, NULL);
    pthread_mutex_lock(&t->work);
    if (t->halted) { /* the process is exiting (km_transport_halt): hands off */
        atomic_fetch_sub(&t->waiting, 1);
        c->borrowed = 0;
        return;
    }
    if (atomic_fetch_sub(&t->waiting, 1) == 1 && p[1].revents) {
        uint64_t drained;
        /* the last wait to end re-arms the nudge */
        while (read(t->nudgefd, &drained, sizeof(drained)) < 0 && errno == EINTR)
            ;
    }
    c->borrowed = 0;
    if (r > 0 && p[0].revents) {
        c->replies_lent = c->awaiting > 1 ? 0 : 1; /* pipelined: the rest is the transport thread's */
        if (km_pump(c, KM_KICK_TLS_IN) < 0) {
            km_conn_close(c, NULL);
            return;
        }
        if (c->awaiting > 0 && c->replies_lent) {
            c->replies_lent = 0;
            km_conn_interest(c);
        }
    } else {
        c->replies_lent = 0;
        km_conn_interest(c);
    }
    if (c->responses > before)
        t->counters.replies_direct++;
}

int km_transport_request_sent(km_transport *t, int fd)
{
    int forwarded;

    if (t == NULL || fd < 0 || !sigpipe_blocked())
        return 0;
    pthread_mutex_lock(&t->work);
    if (t->halted) {
        pthread_mutex_unlock(&t->work);
        return 0;
    }
    km_conn *c = conn_of(t, fd);
    forwarded = forward(t, c);
    if (forwarded && wait_wanted(t, c)) {
        wait_for_reply(t, c);
    } else if (forwarded && c->replies_lent) {
        c->replies_lent = 0; /* its reply is the transport thread's to take */
        km_conn_interest(c);
    }
    pthread_mutex_unlock(&t->work);
    return forwarded;
}

void km_transport_nudge(km_transport *t)
{
    uint64_t one = 1;

    if (t == NULL || atomic_load_explicit(&t->waiting, memory_order_relaxed) == 0)
        return;
    while (write(t->nudgefd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

int km_direct_ticking(const km_transport *t)
{
    for (const km_conn *c = t->conns; c; c = c->next)
        if (km_direct_quiet(c))
            return 1;
    return 0;
}

void km_direct_tick(km_transport *t, uint64_t now)
{
    /* after every batch of events, but due only every KM_QUIET_TICK_MS */
    if (now < t->quiet_tick_ms)
        return;
    t->quiet_tick_ms = now + KM_QUIET_TICK_MS;
    for (km_conn *c = t->conns, *next; c; c = next) {
        int queued = 0;

        next = c->next;
        if (!c->quiet || c->borrowed)
            continue;
        if (!steady(c)) {
            c->quiet = 0;
            km_conn_interest(c);
            continue;
        }
        if (ioctl(c->plain.fd, FIONREAD, &queued) != 0 || queued <= 0) {
            c->stranded = 0;
            if (now - c->quiet_ms >= KM_QUIET_IDLE_MS) {
                c->quiet = 0;   /* idle: no more ticking for it */
                km_conn_interest(c);
            }
        } else if (!c->stranded || c->stranded_at != c->up_bytes) {
            /* bytes in P: a request whose call is just coming, most likely
             * (librdkafka calls right after writing); stranded only if
             * they are still there, untouched, one tick later */
            c->stranded = 1;
            c->stranded_at = c->up_bytes;
        } else {
            /* bytes without a request call after them: the transport's
             * thread takes this connection's requests again */
            c->stranded = 0;
            c->quiet = 0;
            c->caught_ms = now;
            t->counters.quiet_catches++;
            if (km_pump(c, KM_KICK_PLAIN_IN) < 0)
                km_conn_close(c, NULL);
        }
    }
}
