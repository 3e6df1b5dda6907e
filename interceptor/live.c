/*
 * The wiring of a live-rotation client. librdkafka calls connect_cb on a
 * broker thread, with the broker lock held, and passes the application's
 * opaque, not ours: the client's transport reaches it through a
 * thread-local set by an on_thread_start interceptor for broker threads.
 * The transport is freed in on_conf_destroy, which librdkafka runs for the
 * client's configuration after it has joined its broker threads (in
 * on_destroy they still run and may be inside connect_cb).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <openssl/crypto.h>

#include "kafka-mtls.h"
#include "live.h"
#include "live_state.h"
#include "rotation.h"
#include "tls_context.h"

#define LIVE_NAME "kafka-mtls-live" /* its interceptors, beside the plugin's own */

static __thread km_transport *broker_transport;

static int connect_cb(int fd, const struct sockaddr *addr, int addrlen, const char *id, void *opaque)
{
    km_transport *t = broker_transport;

    (void)opaque;
    /* a thread that is not one of this client's broker threads gets no
     * socket: librdkafka logs "Failed to connect" and closes fd */
    if (t == NULL || addrlen < 0)
        return EINVAL;
    return km_transport_connect(t, fd, addr, (socklen_t)addrlen, id);
}

static rd_kafka_resp_err_t on_thread_start(rd_kafka_t *rk, rd_kafka_thread_type_t type, const char *name,
                                           void *opaque)
{
    (void)rk, (void)name;
    if (type == RD_KAFKA_THREAD_BROKER)
        broker_transport = ((km_live *)opaque)->transport;
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* librdkafka wrote a whole request on sockfd, on the broker's thread: the
 * transport sends it from here rather than wake its own thread for it. */
static rd_kafka_resp_err_t on_request_sent(rd_kafka_t *rk, int sockfd, const char *brokername, int32_t brokerid,
                                           int16_t ApiKey, int16_t ApiVersion, int32_t CorrId, size_t size,
                                           void *opaque)
{
    (void)rk, (void)brokername, (void)brokerid, (void)ApiKey, (void)ApiVersion, (void)CorrId, (void)size;
    km_transport_request_sent(((km_live *)opaque)->transport, sockfd);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* The application produced: a broker thread waiting for a reply
 * (mtls.rotation.reply.wait.us) stops waiting, so the new message goes out
 * at once. On the application's thread; an atomic load when none waits. */
static rd_kafka_resp_err_t on_send(rd_kafka_t *rk, rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)m;
    km_transport_nudge(((km_live *)opaque)->transport);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static void transport_log(void *opaque, int level, const char *line)
{
    km_live *l = opaque;

    km_client_log_line(&l->s->log, l->rk, level, line);
}

static void changed(void *opaque)
{
    km_rotation_check(opaque);
}

/* The process exits with this client alive (at_exit.h). A rotation the
 * watcher is still running may hand the halted transport a context: it is
 * only kept, never used. */
static void ask_at_exit(void *opaque)
{
    km_live *l = opaque;

    km_volume_watch_ask_stop(l->watch);
    km_transport_halt(l->transport);
}

static void join_at_exit(void *opaque, const struct timespec *until)
{
    km_live *l = opaque;

    km_volume_watch_join_until(l->watch, until);
    km_transport_join_until(l->transport, until);
}

static void live_free(km_live *l)
{
    if (l == NULL)
        return;
    if (l->at_exit.ask != NULL)
        km_at_exit_remove(&l->at_exit);
    km_volume_watch_stop(l->watch);   /* no rotation runs after this */
    km_transport_free(l->transport);  /* closes librdkafka's ends it still holds */
    if (l->held)
        km_cache_release(l->held_digest);
    km_pem_bundle_clear(&l->in_use);
    km_tls_options_clear(&l->tls);
    km_settings_free(l->s);
    OPENSSL_free(l);
}

/* What the transport did, for log_level=7: how much of the traffic went
 * without a thread hand-off (transport/direct.c). */
static void log_counts(km_live *l)
{
    km_transport_counts st;
    char line[512];

    if (l->transport == NULL || l->s->log.level < LOG_DEBUG || km_transport_stats(l->transport, &st, NULL, 0) < 0)
        return;
    snprintf(line, sizeof(line), "kafka-mtls: transport: %llu handshakes (%llu failed, %llu begun on librdkafka's "
             "threads), %llu connections moved; "
             "%llu requests sent on librdkafka's threads, %llu replies taken there (%llu waits), %llu quiet "
             "catches", (unsigned long long)st.handshakes_ok, (unsigned long long)st.handshakes_failed,
             (unsigned long long)st.prestarted,
             (unsigned long long)st.moved, (unsigned long long)st.direct, (unsigned long long)st.replies_direct,
             (unsigned long long)st.reply_waits, (unsigned long long)st.quiet_catches);
    km_client_log_line(&l->s->log, l->rk, LOG_DEBUG, line);
}

static rd_kafka_resp_err_t on_conf_destroy(void *opaque)
{
    log_counts(opaque);
    live_free(opaque);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* An application connect_cb or socket_cb would be handed what librdkafka
 * writes: plaintext. conf_get prints a callback as "0x..."; connect_cb is
 * unset by default, socket_cb is librdkafka's own. */
static int refuse_callbacks(const km_settings *s, const rd_kafka_conf_t *conf, char *errstr, size_t n)
{
    char v[64], dflt[64] = "";
    rd_kafka_conf_t *fresh;

    km_rdk_conf_text(s->rdk, conf, "connect_cb", v, sizeof(v));
    if (v[0] != '\0') {
        snprintf(errstr, n, "kafka-mtls: %s=live: the application sets its own connect_cb, which would "
                 "receive librdkafka's plaintext socket: remove it, or use %s=restart",
                 KAFKA_MTLS_PROP_ROTATION, KAFKA_MTLS_PROP_ROTATION);
        return 0;
    }
    if ((fresh = s->rdk->conf_new()) != NULL) {
        km_rdk_conf_text(s->rdk, fresh, "socket_cb", dflt, sizeof(dflt));
        s->rdk->conf_destroy(fresh);
    }
    km_rdk_conf_text(s->rdk, conf, "socket_cb", v, sizeof(v));
    if (strcmp(v, dflt) != 0) {
        snprintf(errstr, n, "kafka-mtls: %s=live: the application sets its own socket_cb, whose sockets "
                 "would carry librdkafka's plaintext: remove it, or use %s=restart",
                 KAFKA_MTLS_PROP_ROTATION, KAFKA_MTLS_PROP_ROTATION);
        return 0;
    }
    return 1;
}

/* librdkafka before 2.8 sets TCP_NODELAY only once connected, on what is
 * then the AF_UNIX end, where it fails (and librdkafka gives up on the
 * connection): the transport sets it on the TCP socket instead. From 2.8
 * it is set before connect_cb, on the TCP socket, and kept there. */
static int take_nodelay(const km_settings *s, rd_kafka_conf_t *conf, int *nodelay, char *errstr, size_t n)
{
    char v[16], err[256];

    *nodelay = 0;
    if (s->rdk->version >= 0x02080000)
        return 1;
    km_rdk_conf_text(s->rdk, conf, "socket.nagle.disable", v, sizeof(v));
    if (strcmp(v, "true") != 0)
        return 1;
    *nodelay = 1;
    if (s->rdk->conf_set(conf, "socket.nagle.disable", "false", err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, n, "kafka-mtls: cannot take over socket.nagle.disable: %s", err);
        return 0;
    }
    return 1;
}

/* librdkafka's TLS off: the transport does it. */
static int plaintext_below(km_settings *s, rd_kafka_conf_t *conf, char *errstr, size_t n)
{
    char proto[32], err[256];
    const char *to;
    rd_kafka_conf_res_t r;

    km_rdk_conf_text(s->rdk, conf, "security.protocol", proto, sizeof(proto));
    to = strncmp(proto, "sasl_", 5) == 0 ? "sasl_plaintext" : "plaintext";
    s->applying = 1;
    r = s->rdk->conf_set(conf, "security.protocol", to, err, sizeof(err));
    s->applying = 0;
    if (r != RD_KAFKA_CONF_OK) {
        snprintf(errstr, n, "kafka-mtls: cannot set security.protocol=%s: %s", to, err);
        return 0;
    }
    return 1;
}

static km_live *live_new(rd_kafka_t *rk, rd_kafka_conf_t *conf, km_settings *s, const km_pem_bundle *b,
                         char *errstr, size_t n)
{
    km_live *l = OPENSSL_zalloc(sizeof(*l));
    km_transport_config cfg = { 0 };
    const char *paths[2];
    SSL_CTX *ctx;
    char err[256];

    if (l == NULL || (l->s = km_settings_dup(s)) == NULL || !km_pem_bundle_copy(&l->in_use, b)) {
        snprintf(errstr, n, "kafka-mtls: out of memory");
        live_free(l);
        return NULL;
    }
    l->rk = rk;
    l->generation = 1;
    /* l->seen stays invalid: the volume may have changed since it was read
     * for this client, so the watcher's first look reads it again (and
     * finds the same material, in the usual case) */
    if (!km_renew_before_parse(s->renew_before, &l->rb, err, sizeof(err))) {
        snprintf(errstr, n, "kafka-mtls: %s: %s", KAFKA_MTLS_PROP_RENEW_BEFORE, err);
        live_free(l);
        return NULL;
    }
    if (!km_tls_options_read(&l->tls, s, rk, conf, errstr, n) || !take_nodelay(s, conf, &cfg.tcp_nodelay, errstr, n) ||
        (ctx = km_tls_context_new(&l->tls, b, errstr, n)) == NULL) {
        live_free(l);
        return NULL;
    }
    cfg.log = transport_log;
    cfg.log_opaque = l;
    cfg.verify_hostname = l->tls.verify_hostname;
    cfg.keep_old = s->rotation_existing != NULL && strcmp(s->rotation_existing, "keep") == 0;
    cfg.drain_timeout_ms = (unsigned)s->drain_timeout_ms;
    cfg.reply_wait_us = s->reply_wait_us > 0 ? (int)s->reply_wait_us : -1;
    /* SASL authenticates each connection: every one of a SASL client moves
     * by reconnecting, decided before its first request (the transport
     * also sees SaslHandshake, but only once it has been sent) */
    {
        char proto[32];

        km_rdk_conf_text(s->rdk, conf, "security.protocol", proto, sizeof(proto));
        cfg.move_by_reconnect = strncmp(proto, "sasl_", 5) == 0;
    }
    l->transport = km_transport_new(&cfg, ctx, err, sizeof(err));
    SSL_CTX_free(ctx);
    if (l->transport == NULL) {
        snprintf(errstr, n, "%s", err);
        live_free(l);
        return NULL;
    }
    paths[0] = km_settings_source(s);
    paths[1] = s->truststore;
    if ((l->watch = km_volume_watch_start(paths, 2, s->rotation_poll_ms, changed, l)) == NULL) {
        snprintf(errstr, n, "kafka-mtls: cannot start watching %s for new certificates", paths[0]);
        live_free(l);
        return NULL;
    }
    km_at_exit_add(&l->at_exit, ask_at_exit, join_at_exit, l);
    return l;
}

int km_live_apply(rd_kafka_t *rk, rd_kafka_conf_t *conf, km_settings *s, const km_pem_bundle *b, char *errstr,
                  size_t n)
{
    km_live *l;
    rd_kafka_resp_err_t err;

    if (!refuse_callbacks(s, conf, errstr, n) || (l = live_new(rk, conf, s, b, errstr, n)) == NULL)
        return 0;
    /* from here the configuration owns l: freed with it, after the broker threads */
    if ((err = s->rdk->add_on_conf_destroy(conf, LIVE_NAME, on_conf_destroy, l)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, n, "kafka-mtls: cannot register the live-rotation interceptors: %s", s->rdk->err2str(err));
        live_free(l);
        return 0;
    }
    if ((err = s->rdk->add_on_thread_start(rk, LIVE_NAME, on_thread_start, l)) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        (err = s->rdk->add_on_request_sent(rk, LIVE_NAME, on_request_sent, l)) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        (err = s->rdk->add_on_send(rk, LIVE_NAME, on_send, l)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, n, "kafka-mtls: cannot register the live-rotation interceptors: %s", s->rdk->err2str(err));
        return 0;
    }
    s->rdk->conf_set_connect_cb(conf, connect_cb);
    /* last: until here a failure still fails client creation closed */
    return plaintext_below(s, conf, errstr, n);
}
