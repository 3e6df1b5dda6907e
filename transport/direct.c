/*
 * A request forwarded from librdkafka's own thread. librdkafka runs its
 * on_request_sent interceptors on the broker's thread right after a whole
 * request went into its socket - here, into P. Forwarding it from there
 * spares waking the transport's thread for it, which on an otherwise idle
 * machine costs tens of microseconds per request (the woken thread's CPU
 * first has to leave its idle state): the request is on the wire when
 * librdkafka goes back to poll. Only for a connection that is simply UP;
 * every other state (the handshake, a move, a drain) stays the transport
 * thread's, which finds the bytes in P as before, and so do responses.
 */
#include <signal.h>

#include "internal.h"

/* SSL_write to a TCP socket whose peer has gone raises SIGPIPE unless the
 * thread blocks it. librdkafka blocks every signal in its threads; in a
 * thread that does not, the transport's thread does the writing. */
static int sigpipe_blocked(void)
{
    static __thread int known; /* 0 not yet asked, 1 blocked, -1 not */
    sigset_t cur;

    if (known == 0)
        known = pthread_sigmask(SIG_BLOCK, NULL, &cur) == 0 && sigismember(&cur, SIGPIPE) == 1 ? 1 : -1;
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

int km_direct_forward(km_transport *t, int fd)
{
    km_conn *c = conn_of(t, fd);
    uint64_t before;

    if (c == NULL || c->state != KM_CONN_UP || c->tls->phase != LEG_UP)
        return 0;
    before = c->req.frames;
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
    return 1;
}

int km_transport_request_sent(km_transport *t, int fd)
{
    int forwarded;

    if (t == NULL || fd < 0 || !sigpipe_blocked())
        return 0;
    pthread_mutex_lock(&t->work);
    forwarded = km_direct_forward(t, fd);
    pthread_mutex_unlock(&t->work);
    return forwarded;
}
