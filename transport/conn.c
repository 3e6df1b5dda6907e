/*
 * A connection as librdkafka sees it: its AF_UNIX end P, the active TLS leg
 * and, while it moves to new credentials, a spare leg. Nothing librdkafka
 * wrote is read before release (UP); pump.c moves bytes after that. A
 * failure before UP closes P while the filler is still queued, which is
 * what makes librdkafka see a failed connect (ECONNRESET).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "internal.h"

/* "host:port", "[v6]:port", "v6:port" (the port after the last colon), or
 * just "host". */
static int split_host(const char *id, char *host, size_t n)
{
    const char *start = id, *end;

    if (*id == '[') {
        start = id + 1;
        if ((end = strchr(start, ']')) == NULL)
            return EINVAL;
    } else if ((end = strrchr(id, ':')) == NULL) {
        end = id + strlen(id);
    }
    if (end == start || (size_t)(end - start) >= n)
        return EINVAL;
    memcpy(host, start, (size_t)(end - start));
    host[end - start] = '\0';
    return 0;
}

km_conn *km_conn_new(km_transport *t, const char *broker_id, int *err)
{
    km_conn *c;
    uint64_t gen;

    if (strlen(broker_id) >= sizeof(c->broker)) {
        *err = EINVAL;
        return NULL;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL) {
        *err = ENOMEM;
        return NULL;
    }
    strcpy(c->broker, broker_id);
    if ((*err = split_host(broker_id, c->host, sizeof(c->host))) != 0) {
        free(c);
        return NULL;
    }
    c->t = t;
    c->serial = __atomic_add_fetch(&t->conn_serial, 1, __ATOMIC_RELAXED);
    c->plain.c = c;
    c->plain.fd = -1;
    c->state = KM_CONN_CONNECTING;
    km_frames_init(&c->req, 1);
    km_frames_init(&c->resp, 0);
    c->add_cmd.kind = KM_CMD_ADD;
    c->add_cmd.conn = c;
    SSL_CTX *ctx = km_current_ctx(t, &gen);
    if (ctx == NULL) {
        free(c);
        *err = ESHUTDOWN;
        return NULL;
    }
    if ((c->tls = km_leg_new(c, ctx, gen)) == NULL) {
        SSL_CTX_free(ctx);
        free(c);
        *err = ENOMEM;
        return NULL;
    }
    return c;
}

void km_conn_free(km_conn *c)
{
    km_leg_free(c->tls);
    km_leg_free(c->spare);
    /* plaintext Kafka traffic, SASL passwords included */
    if (c->up)
        OPENSSL_clear_free(c->up, KM_BUF);
    if (c->down)
        OPENSSL_clear_free(c->down, KM_BUF);
    free(c);
}

void km_conn_discard(km_conn *c)
{
    /* P first: closing it with the filler queued sets ECONNRESET on L */
    if (c->plain.fd >= 0)
        close(c->plain.fd);
    km_conn_free(c);
}

void km_conn_close(km_conn *c, const char *why)
{
    km_transport *t = c->t;

    if (c->dead)
        return;
    if (why)
        km_log(t, LOG_DEBUG, c->broker, "closing the connection: %s", why);
    km_drain_forget(t, c);
    km_unwatch(&c->plain);
    if (c->plain.fd >= 0)
        close(c->plain.fd);   /* first: see km_conn_discard */
    c->plain.fd = -1;
    if (c->spare)
        km_leg_close(c->spare);
    km_leg_close(c->tls);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->dead = 1;
    c->prev = NULL;
    c->next = t->graveyard;
    t->graveyard = c;
}

/* Confirmed: drop the filler, so librdkafka's end becomes writable and
 * librdkafka finds SO_ERROR 0 - "connected". */
static void release(km_conn *c)
{
    while (c->held > 0) {
        size_t want = c->held < KM_BUF ? c->held : KM_BUF;
        ssize_t r = read(c->plain.fd, c->up, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            /* the filler is in P's queue since km_transport_connect: only
             * librdkafka closing its end can take it away */
            km_conn_close(c, "librdkafka closed its end before TLS was up");
            return;
        }
        c->held -= (size_t)r;
    }
    c->state = KM_CONN_UP;
    c->t->counters.handshakes_ok++;
    if (km_pump(c, KM_KICK_ALL) < 0)
        km_conn_close(c, NULL);
}

void km_conn_start(km_conn *c)
{
    char why[256];
    int e;

    if (km_pump_alloc(c) != 0) {
        km_conn_leg_failed(c, c->tls, "out of memory");
        return;
    }
    if (c->tls->prestarted)
        c->t->counters.prestarted++;
    if (km_leg_start(c->tls, why, sizeof(why)) != 0) {
        km_conn_leg_failed(c, c->tls, why);
        return;
    }
    /* P: only librdkafka hanging up matters (the filler makes P readable,
     * and is not to be read yet) */
    if ((e = km_register(&c->plain, EPOLLRDHUP)) != 0) {
        km_conn_leg_failed(c, c->tls, strerror(e));
        return;
    }
    km_log(c->t, LOG_DEBUG, c->broker, "connecting with credentials of generation %llu",
           (unsigned long long)c->tls->gen);
}

void km_conn_leg_up(km_conn *c, km_leg *l)
{
    if (l == c->tls)
        release(c);
    else
        km_drain_spare_up(c);
}

void km_conn_leg_failed(km_conn *c, km_leg *l, const char *reason)
{
    if (l != c->tls) {
        km_drain_spare_failed(c, reason);
        return;
    }
    km_log(c->t, LOG_ERR, c->broker, "%s", reason);
    c->t->counters.handshakes_failed++;
    km_conn_close(c, NULL);
}

void km_conn_switch(km_conn *c)
{
    km_leg *old = c->tls;

    km_leg_close(old);
    km_leg_free(old);
    c->tls = c->spare;
    c->spare = NULL;
    c->fenced = 0;
    c->state = KM_CONN_UP;
    c->t->counters.moved++;
    if (km_pump(c, KM_KICK_ALL) < 0)
        km_conn_close(c, NULL);
}

static void spare_event(km_conn *c, km_leg *l, uint32_t events)
{
    if (l->phase != LEG_UP) {
        km_leg_event(l);
        return;
    }
    /* up and waiting for the switch, watched for nothing but hang-ups (its
     * tickets wait in the socket) */
    if (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP))
        km_drain_spare_failed(c, "the broker closed the new connection before it was used");
}

void km_conn_event(km_conn *c, km_leg *leg, uint32_t events)
{
    if (leg == NULL) {
        if (events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)) {
            /* librdkafka closed its fd (setup timeout, client destroyed, or
             * it gave up on the connection): nothing is left to deliver to */
            km_conn_close(c, "librdkafka closed its end");
            return;
        }
    } else if (leg == c->spare) {
        spare_event(c, leg, events);
        return;
    } else if (leg->phase != LEG_UP) {
        km_leg_event(leg);
        return;
    }
    if (c->state < KM_CONN_UP)
        return;
    unsigned kick = 0;
    /* EPOLLRDHUP: a TLS socket watched for nothing else (pump.c) */
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | (leg ? EPOLLRDHUP : 0)))
        kick |= leg ? KM_KICK_TLS_IN : KM_KICK_PLAIN_IN;
    if (events & EPOLLOUT)
        kick |= leg ? KM_KICK_TLS_OUT : KM_KICK_PLAIN_OUT;
    if (km_pump(c, kick) < 0)
        km_conn_close(c, NULL);
}

void km_conn_timer(km_conn *c, uint64_t now)
{
    if (c->tls->phase == LEG_CONFIRM)
        km_leg_timer(c->tls, now);
    else if (c->spare && c->spare->phase == LEG_CONFIRM)
        km_leg_timer(c->spare, now);
}
