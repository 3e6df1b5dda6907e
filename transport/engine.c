/*
 * The transport's thread: one epoll loop over every connection's two
 * sockets plus an eventfd through which other threads hand it commands
 * (a new connection, a stats request, stop). Connections, their SSL
 * objects and the drain logic are touched by this thread only; the mutex
 * guards the command queue and the current SSL_CTX/generation.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define MAX_EVENTS 64

uint64_t km_transport_clock_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t km_transport_clock_ms(void)
{
    return km_transport_clock_us() / 1000u;
}

int km_register(km_endpoint *ep, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = ep};

    if (epoll_ctl(ep->c->t->epfd, EPOLL_CTL_ADD, ep->fd, &ev) < 0)
        return errno;
    ep->events = events;
    return 0;
}

void km_watch(km_endpoint *ep, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = ep};

    if (ep->fd < 0 || events == ep->events)
        return;
    /* cannot fail for a registered fd; ENOMEM would leave the old mask,
     * which only costs a spurious wake-up */
    if (epoll_ctl(ep->c->t->epfd, EPOLL_CTL_MOD, ep->fd, &ev) == 0)
        ep->events = events;
}

void km_unwatch(km_endpoint *ep)
{
    if (ep->fd >= 0)
        epoll_ctl(ep->c->t->epfd, EPOLL_CTL_DEL, ep->fd, NULL);
    ep->events = 0;
}

void km_wake(km_transport *t)
{
    uint64_t one = 1;

    /* EAGAIN means the counter is already non-zero: a wake-up is pending */
    while (write(t->wakefd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

SSL_CTX *km_current_ctx(km_transport *t, uint64_t *gen)
{
    SSL_CTX *ctx = NULL;

    pthread_mutex_lock(&t->mu);
    if (!t->stopping) {
        SSL_CTX_up_ref(t->ctx);
        ctx = t->ctx;
        *gen = t->gen;
    }
    pthread_mutex_unlock(&t->mu);
    return ctx;
}

int km_submit(km_transport *t, km_cmd *cmd)
{
    pthread_mutex_lock(&t->mu);
    if (t->stopping != 0) {
        pthread_mutex_unlock(&t->mu);
        return ESHUTDOWN;
    }
    cmd->next = NULL;
    if (t->cmd_tail)
        t->cmd_tail->next = cmd;
    else
        t->cmd_head = cmd;
    t->cmd_tail = cmd;
    pthread_mutex_unlock(&t->mu);
    km_wake(t);
    return 0;
}

static void fill_stats(km_transport *t, km_cmd *cmd, uint64_t gen)
{
    km_transport_counts st = t->counters;
    size_t i = 0;

    st.generation = gen;
    st.conns = st.conns_up = st.conns_old = 0;
    for (km_conn *c = t->conns; c; c = c->next) {
        st.conns++;
        st.conns_up += c->state >= KM_CONN_UP;
        st.conns_old += c->tls->gen < gen;
        if (i < cmd->max_conns) {
            km_conn_info *cs = &cmd->conns[i++];
            memset(cs, 0, sizeof(*cs));
            snprintf(cs->broker_id, sizeof(cs->broker_id), "%s", c->broker);
            cs->generation = c->tls->gen;
            cs->state = c->state >= KM_CONN_UP ? c->state
                        : c->tls->phase == LEG_HANDSHAKE ? KM_CONN_HANDSHAKE
                        : c->tls->phase == LEG_CONFIRM   ? KM_CONN_CONFIRM
                                                         : KM_CONN_CONNECTING;
            cs->requests = c->req.frames;
            cs->responses = c->responses;
            cs->awaiting = c->awaiting;
            cs->held = c->held_total;
        }
    }
    if (cmd->st)
        *cmd->st = st;
    cmd->result = (int)st.conns;
}

/* Takes the queued commands; returns t->stopping (0, KM_STOP or KM_HALT). */
static int run_commands(km_transport *t)
{
    km_cmd *cmd, *next;
    uint64_t drained, gen;
    int stopping;

    while (read(t->wakefd, &drained, sizeof(drained)) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&t->mu);
    cmd = t->cmd_head;
    t->cmd_head = t->cmd_tail = NULL;
    stopping = t->stopping;
    gen = t->gen;
    pthread_mutex_unlock(&t->mu);

    for (; cmd; cmd = next) {
        next = cmd->next;
        if (cmd->kind == KM_CMD_ADD) {
            km_conn *c = cmd->conn;
            if (stopping) {
                km_conn_discard(c);
                continue;
            }
            c->next = t->conns;
            if (t->conns)
                t->conns->prev = c;
            t->conns = c;
            km_conn_start(c);
        } else {
            pthread_mutex_lock(&t->mu);
            if (stopping) {
                cmd->result = -1;
            } else {
                fill_stats(t, cmd, gen);
            }
            cmd->done = 1;
            pthread_cond_broadcast(&t->cond);
            pthread_mutex_unlock(&t->mu);
        }
    }
    return stopping;
}

static void note_generation(km_transport *t, uint64_t now)
{
    uint64_t gen;
    unsigned old = 0;

    pthread_mutex_lock(&t->mu);
    gen = t->gen;
    pthread_mutex_unlock(&t->mu);
    if (gen == t->seen_gen)
        return;
    t->seen_gen = gen;
    t->rotated_ms = now;
    for (km_conn *c = t->conns; c; c = c->next)
        old += c->tls->gen < gen;
    km_log(t, LOG_INFO, NULL, "new credentials (generation %llu): %u connection(s) of older "
           "generations %s", (unsigned long long)gen, old,
           t->cfg.keep_old ? "are kept until they close (keep_old)" : "will move, one at a time");
}

/* epoll_wait's timeout: the nearest deadline of any connection or drain. */
static int next_timeout(km_transport *t, uint64_t now)
{
    uint64_t soonest = km_drain_deadline(t);

    for (km_conn *c = t->conns; c; c = c->next) {
        if (c->tls->phase == LEG_CONFIRM && c->tls->deadline_ms < soonest)
            soonest = c->tls->deadline_ms;
        if (c->spare && c->spare->phase == LEG_CONFIRM && c->spare->deadline_ms < soonest)
            soonest = c->spare->deadline_ms;
    }
    /* quiet connections: their P is looked into every KM_QUIET_TICK_MS */
    t->ticking = km_direct_ticking(t);
    if (t->ticking && t->quiet_tick_ms < soonest)
        soonest = t->quiet_tick_ms;
    if (soonest == UINT64_MAX)
        return -1;
    if (soonest <= now)
        return 0;
    return soonest - now > 60000 ? 60000 : (int)(soonest - now);
}

static void bury(km_transport *t)
{
    km_conn *c, *next;

    for (c = t->graveyard; c; c = next) {
        next = c->next;
        km_conn_free(c);
    }
    t->graveyard = NULL;
}

/* With work held, the transport's thread gone or ending. */
static void close_all(km_transport *t)
{
    while (t->conns)
        km_conn_close(t->conns, NULL);
    bury(t);
}

static void *engine_main(void *arg)
{
    km_transport *t = arg;
    struct epoll_event evs[MAX_EVENTS];
    int stopping = 0;

    pthread_mutex_lock(&t->work);
    while (!stopping) {
        uint64_t now = km_transport_clock_ms();
        int timeout = next_timeout(t, now), n;

        pthread_mutex_unlock(&t->work);
        n = epoll_wait(t->epfd, evs, MAX_EVENTS, timeout);
        pthread_mutex_lock(&t->work);

        if (n < 0 && errno != EINTR) {
            km_log(t, LOG_ERR, NULL, "epoll_wait: %s; closing every connection", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            km_endpoint *ep = evs[i].data.ptr;
            if (ep == NULL) {
                int asked = run_commands(t);
                if (asked > stopping)
                    stopping = asked;
                continue;
            }
            /* a connection closed earlier in this batch is in the graveyard,
             * not yet freed, so ep is still valid memory */
            if (!ep->c->dead && !ep->c->borrowed)
                km_conn_event(ep->c, ep->leg, evs[i].events);
        }
        now = km_transport_clock_ms();
        for (km_conn *c = t->conns, *next; c; c = next) {
            next = c->next;
            km_conn_timer(c, now);
        }
        note_generation(t, now);
        km_direct_tick(t, now);
        km_drain_tick(t, now);
        bury(t);
    }
    if (stopping != KM_HALT)
        close_all(t);
    /* commands queued before stop was seen */
    run_commands(t);
    t->halted = stopping == KM_HALT;
    pthread_mutex_unlock(&t->work);
    return NULL;
}

static void apply_defaults(km_transport_config *cfg)
{
    if (cfg->drain_timeout_ms == 0)
        cfg->drain_timeout_ms = KM_DEFAULT_DRAIN_MS;
    if (cfg->grace_ms == 0)
        cfg->grace_ms = KM_DEFAULT_GRACE_MS;
    if (cfg->confirm_timeout_ms == 0)
        cfg->confirm_timeout_ms = KM_DEFAULT_CONFIRM_MS;
    if (cfg->reply_wait_us == 0)
        cfg->reply_wait_us = KM_DEFAULT_REPLY_WAIT_US;
    else if (cfg->reply_wait_us > 1000000)
        cfg->reply_wait_us = 1000000;
}

km_transport *km_transport_new(const km_transport_config *cfg, SSL_CTX *initial, char *err, size_t n)
{
    km_transport *t;
    sigset_t all, saved;
    int rc;

    if (initial == NULL) {
        snprintf(err, n, "kafka-mtls: transport: no SSL_CTX");
        return NULL;
    }
    if ((t = calloc(1, sizeof(*t))) == NULL) {
        snprintf(err, n, "kafka-mtls: transport: out of memory");
        return NULL;
    }
    if (cfg)
        t->cfg = *cfg;
    apply_defaults(&t->cfg);
    t->epfd = t->wakefd = t->nudgefd = -1;
    pthread_mutex_init(&t->mu, NULL);
    pthread_mutex_init(&t->work, NULL);
    pthread_cond_init(&t->cond, NULL);
    t->gen = t->seen_gen = 1;
    int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (probe >= 0) {
        km_sockopts_read(probe, &t->default_opts);
        close(probe);
    }

    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if ((t->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        (t->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
        (t->nudgefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
        epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->wakefd, &ev) < 0) {
        snprintf(err, n, "kafka-mtls: transport: %s", strerror(errno));
        goto fail;
    }
    SSL_CTX_up_ref(initial);
    t->ctx = initial;
    /* No signal is ever delivered to this thread: SIGPIPE from a write to a
     * closed TCP peer stays pending here (write returns EPIPE) instead of
     * killing an application that did not ignore it. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    rc = pthread_create(&t->thread, NULL, engine_main, t);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (rc != 0) {
        snprintf(err, n, "kafka-mtls: transport: cannot start its thread: %s", strerror(rc));
        SSL_CTX_free(t->ctx);
        goto fail;
    }
    return t;
fail:
    if (t->nudgefd >= 0)
        close(t->nudgefd);
    if (t->wakefd >= 0)
        close(t->wakefd);
    if (t->epfd >= 0)
        close(t->epfd);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->work);
    pthread_mutex_destroy(&t->mu);
    free(t);
    return NULL;
}

int km_transport_set_ctx(km_transport *t, SSL_CTX *ctx)
{
    SSL_CTX *old;

    if (t == NULL || ctx == NULL)
        return EINVAL;
    SSL_CTX_up_ref(ctx);
    pthread_mutex_lock(&t->mu);
    old = t->ctx;
    t->ctx = ctx;
    t->gen++;
    pthread_mutex_unlock(&t->mu);
    SSL_CTX_free(old);   /* connections of that generation hold their own reference */
    km_wake(t);
    return 0;
}

int km_transport_stats(km_transport *t, km_transport_counts *st, km_conn_info *conns, size_t max_conns)
{
    km_cmd cmd = {.kind = KM_CMD_STATS, .st = st, .conns = conns,
                  .max_conns = conns ? max_conns : 0};

    if (t == NULL) {
        errno = EINVAL;
        return -1;
    }
    if (km_submit(t, &cmd) != 0) {
        errno = ESHUTDOWN;
        return -1;
    }
    pthread_mutex_lock(&t->mu);
    while (!cmd.done)
        pthread_cond_wait(&t->cond, &t->mu);
    pthread_mutex_unlock(&t->mu);
    if (cmd.result < 0)
        errno = ESHUTDOWN;
    return cmd.result;
}

/* The first of stop and halt asked for is the one done. */
static void ask_to_end(km_transport *t, int how)
{
    pthread_mutex_lock(&t->mu);
    if (t->stopping == 0)
        t->stopping = how;
    pthread_mutex_unlock(&t->mu);
    km_wake(t);
}

void km_transport_halt(km_transport *t)
{
    if (t == NULL)
        return;
    ask_to_end(t, KM_HALT);
    km_transport_nudge(t); /* a broker thread waiting for a reply looks up */
}

void km_transport_join_until(km_transport *t, const struct timespec *until)
{
    if (t != NULL && !t->joined)
        t->joined = pthread_timedjoin_np(t->thread, NULL, until) == 0;
}

void km_transport_free(km_transport *t)
{
    if (t == NULL)
        return;
    ask_to_end(t, KM_STOP);
    if (!t->joined)
        pthread_join(t->thread, NULL);
    if (t->halted) { /* what the halted thread left */
        pthread_mutex_lock(&t->work);
        close_all(t);
        pthread_mutex_unlock(&t->work);
    }
    close(t->nudgefd);
    close(t->wakefd);
    close(t->epfd);
    SSL_CTX_free(t->ctx);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->work);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
