/*
 * Moving connections to new credentials (see "Rotation" in transport.h).
 * Runs on the transport's thread after every batch of events; one
 * connection at a time is moved or drained, oldest generation first.
 *
 * In place (the default): a spare TLS leg with the new credentials is set
 * up beside the connection; once the broker has accepted it, the
 * connection is fenced at a request boundary, and when every forwarded
 * request has its response the spare becomes the active leg. librdkafka's
 * socket never closes, so librdkafka sees nothing at all.
 *
 * By reconnecting (SASL, or cfg.move_by_reconnect): the connection is
 * fenced and, once idle, closed; librdkafka reconnects. Closing the last
 * connections at once made librdkafka raise ALL_BROKERS_DOWN (and `kcat -G`
 * exit) in the prototype, hence "only while another connection has carried
 * a response, or cfg.grace_ms after the rotation or the last such close".
 */
#include <stdint.h>
#include <syslog.h>

#include "internal.h"

/* SASL authenticates a connection, not a client: a new TLS connection
 * would carry librdkafka's requests unauthenticated. */
static int in_place(const km_transport *t, const km_conn *c)
{
    return !t->cfg.move_by_reconnect && !c->req.sasl;
}

/* The spare goes; the connection is UP on its generation again, unfenced,
 * and librdkafka's bytes flow. km_pump ran: c may have been closed. */
static void spare_dropped(km_conn *c)
{
    km_transport *t = c->t;

    if (c->spare) {
        km_leg_close(c->spare);
        km_leg_free(c->spare);
        c->spare = NULL;
    }
    c->fenced = 0;
    c->state = KM_CONN_UP;
    if (t->moving == c)
        t->moving = NULL;
    if (km_pump(c, KM_KICK_ALL) < 0)
        km_conn_close(c, NULL);
}

/* A connection whose spare was opened before it had carried any SASL
 * request, and which then authenticated (librdkafka's SaslHandshake comes
 * right after ApiVersion): its spare would carry the requests
 * unauthenticated, so the spare goes and the connection moves by
 * reconnecting instead (km_drain_tick picks it again). */
static void spare_for_sasl_dropped(km_conn *c)
{
    km_log(c->t, LOG_DEBUG, c->broker, "the connection authenticated with SASL after its move began: "
           "it moves by reconnecting instead");
    spare_dropped(c);
}

static int another_up(const km_transport *t, const km_conn *c)
{
    for (const km_conn *o = t->conns; o; o = o->next)
        if (o != c && o->state >= KM_CONN_UP && o->responses > 0)
            return 1;
    return 0;
}

/* The next connection to move: up, older than the current generation, not
 * refused the current generation already; those that move in place first. */
static km_conn *next_candidate(const km_transport *t)
{
    km_conn *best = NULL;

    for (km_conn *c = t->conns; c; c = c->next) {
        /* borrowed: librdkafka's thread waits for a reply on it (direct.c);
         * it is picked after */
        if (c->state != KM_CONN_UP || c->borrowed || c->tls->gen >= t->seen_gen ||
            c->move_failed_gen >= t->seen_gen)
            continue;
        if (best == NULL || in_place(t, c) > in_place(t, best) ||
            (in_place(t, c) == in_place(t, best) &&
             (c->tls->gen < best->tls->gen ||
              (c->tls->gen == best->tls->gen && c->tls->started_ms < best->tls->started_ms))))
            best = c;
    }
    return best;
}

static void fence(km_conn *c, uint64_t now)
{
    c->state = KM_CONN_DRAINING;
    c->fenced = 1;
    c->drain_deadline_ms = now + c->t->cfg.drain_timeout_ms;
    c->t->moving = c;
    km_conn_interest(c);
}

static void start_spare(km_transport *t, km_conn *c, uint64_t now)
{
    char why[256];
    uint64_t gen = 0;
    SSL_CTX *ctx = km_current_ctx(t, &gen);

    if (ctx == NULL) {
        /* the transport is being freed: nothing is worth moving now */
        c->move_failed_gen = t->seen_gen;
        return;
    }
    c->state = KM_CONN_MOVING;
    c->drain_deadline_ms = now + t->cfg.drain_timeout_ms;   /* for the spare to come up */
    t->moving = c;
    km_conn_interest(c);   /* P is the transport thread's again, if it was quiet */
    if ((c->spare = km_leg_new(c, ctx, gen)) == NULL) {
        SSL_CTX_free(ctx);
        km_drain_spare_failed(c, "out of memory");
        return;
    }
    km_log(t, LOG_DEBUG, c->broker, "opening a TLS connection with generation %llu beside the "
           "one of generation %llu", (unsigned long long)gen, (unsigned long long)c->tls->gen);
    if (km_leg_open(c->spare, why, sizeof(why)) != 0)
        km_drain_spare_failed(c, why);
}

/* The connection being moved: 1 if it is done (the next may start). */
static int progress(km_transport *t, km_conn *c, uint64_t now)
{
    if (c->state == KM_CONN_MOVING) {
        if (now < c->drain_deadline_ms)
            return 0;
        km_drain_spare_failed(c, "no TLS connection within drain_timeout_ms");
        return 1;
    }
    if (km_pump_idle(c)) {
        uint64_t from = c->tls->gen;
        if (c->spare && c->req.sasl) {
            spare_for_sasl_dropped(c);
            return 1;
        }
        if (c->spare) {
            /* logged first: the switch forwards what librdkafka queued
             * behind the fence at once */
            km_log(t, LOG_INFO, c->broker, "moved from generation %llu to %llu at a request "
                   "boundary (%llu requests, %llu responses so far); librdkafka saw nothing",
                   (unsigned long long)from, (unsigned long long)c->spare->gen,
                   (unsigned long long)c->req.frames, (unsigned long long)c->responses);
            t->moving = NULL;
            km_conn_switch(c);
            return 1;
        }
        km_log(t, LOG_INFO, c->broker, "connection of generation %llu closed at a request "
               "boundary, every response delivered (%llu requests, %llu responses); librdkafka "
               "reconnects with generation %llu", (unsigned long long)from,
               (unsigned long long)c->req.frames, (unsigned long long)c->responses,
               (unsigned long long)t->seen_gen);
        t->counters.drained++;
        /* the next one that would be left alone waits a grace period of its
         * own, so that librdkafka has reconnected this one meanwhile */
        t->rotated_ms = now;
        km_conn_close(c, NULL);
        return 1;
    }
    if (now < c->drain_deadline_ms)
        return 0;
    km_log(t, LOG_WARNING, c->broker, "connection of generation %llu still had %llu response(s) "
           "due after drain_timeout_ms=%u: closing it anyway (librdkafka retries what it had "
           "sent on it)", (unsigned long long)c->tls->gen, (unsigned long long)c->awaiting,
           t->cfg.drain_timeout_ms);
    t->counters.drain_timeouts++;
    km_conn_close(c, NULL);
    return 1;
}

void km_drain_tick(km_transport *t, uint64_t now)
{
    if (t->cfg.keep_old)
        return;
    for (;;) {
        if (t->moving && !progress(t, t->moving, now))
            return;
        km_conn *c = next_candidate(t);
        if (c == NULL)
            return;
        if (in_place(t, c)) {
            start_spare(t, c, now);
            continue;
        }
        if (!another_up(t, c) && now < t->rotated_ms + t->cfg.grace_ms)
            return;
        km_log(t, LOG_DEBUG, c->broker, "draining the connection of generation %llu to close "
               "it (%llu response(s) due)", (unsigned long long)c->tls->gen,
               (unsigned long long)c->awaiting);
        fence(c, now);
    }
}

void km_drain_spare_up(km_conn *c)
{
    if (c->req.sasl) {
        spare_for_sasl_dropped(c);
        return;
    }
    /* the broker took the new credentials: now stop at a boundary */
    km_log(c->t, LOG_DEBUG, c->broker, "the broker accepted generation %llu: waiting for %llu "
           "response(s) at a request boundary", (unsigned long long)c->spare->gen,
           (unsigned long long)c->awaiting);
    fence(c, km_transport_clock_ms());
}

void km_drain_spare_failed(km_conn *c, const char *reason)
{
    km_transport *t = c->t;
    uint64_t gen = c->spare ? c->spare->gen : t->seen_gen;

    km_log(t, LOG_ERR, c->broker, "the new credentials (generation %llu) did not work: %s; the "
           "connection stays on generation %llu", (unsigned long long)gen, reason,
           (unsigned long long)c->tls->gen);
    /* not again for this generation (nor the loop in km_drain_tick) */
    c->move_failed_gen = gen > t->seen_gen ? gen : t->seen_gen;
    t->counters.move_failures++;
    spare_dropped(c);
}

uint64_t km_drain_deadline(const km_transport *t)
{
    if (t->cfg.keep_old)
        return UINT64_MAX;
    if (t->moving)
        return t->moving->drain_deadline_ms;
    km_conn *c = next_candidate(t);
    if (c != NULL && !in_place(t, c))
        return t->rotated_ms + t->cfg.grace_ms;
    return UINT64_MAX;
}

void km_drain_forget(km_transport *t, km_conn *c)
{
    if (t->moving == c)
        t->moving = NULL;
}
