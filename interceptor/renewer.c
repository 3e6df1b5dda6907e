/*
 * One sleeping thread per client: it wakes at the start of the renew window
 * of the certificate in use (and of the volume's current one), and never
 * polls the volume in between.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "at_exit.h"
#include "issuing.h"
#include "keysource.h"
#include "kmtls/fingerprint.h"
#include "kmtls/issuer.h"
#include "renewer.h"
#include "volume_watch.h"

#define PLUGIN_NAME "kafka-mtls"
#define RETRY_SECONDS 60         /* default; KAFKA_MTLS_RENEW_RETRY_SECONDS */
#define WATCH_SECONDS 1

typedef struct km_renewer {
    km_exit_hook at_exit;
    int joined;                 /* by the exit handler */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    rd_kafka_t *rk;
    km_settings *s;         /* a copy: the client's conf may go first */
    km_renew_before rb;
    time_t in_use_window;   /* when the certificate in use enters its window */
    long retry_seconds;     /* after a failed renewal */
    char in_use_subject[256];
    char in_use_not_after[32];
} km_renewer;

/* Sleeps until `until`, stop, or a change of the volume's files (with a
 * CA: a volume replaced meanwhile is looked at again at once, not at the
 * next window). The change is seen by the files' fingerprint, compared every
 * WATCH_SECONDS: stat calls only, no keystore read. 1 if asked to stop. */
static int sleep_until(km_renewer *r, time_t until)
{
    unsigned long long seen = km_fingerprint(km_settings_source(r->s));
    int stop, watch = km_is_issuer(r->s);

    pthread_mutex_lock(&r->mu);
    while (!r->stop && time(NULL) < until) {
        time_t slice = watch && time(NULL) + WATCH_SECONDS < until ? time(NULL) + WATCH_SECONDS : until;
        struct timespec ts = { .tv_sec = slice, .tv_nsec = 0 };

        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        if (watch && !r->stop && km_fingerprint(km_settings_source(r->s)) != seen)
            break;
    }
    stop = r->stop;
    pthread_mutex_unlock(&r->mu);
    return stop;
}

/* KAFKA_MTLS_RENEW_RETRY_SECONDS (1 to 3600), else RETRY_SECONDS. */
static long retry_seconds(void)
{
    const char *v = getenv(KAFKA_MTLS_ENV_RENEW_RETRY_SECONDS);
    char *end;
    long s;

    if (v == NULL || v[0] == '\0')
        return RETRY_SECONDS;
    errno = 0;
    s = strtol(v, &end, 10);
    return errno == 0 && *end == '\0' && s >= 1 && s <= 3600 ? s : RETRY_SECONDS;
}

static void log_line(km_renewer *r, int level, const char *line)
{
    km_client_log_line(&r->s->log, r->rk, level, line);
}

/* The volume's renew window start, read through the provider. */
static time_t volume_window(km_renewer *r, km_vol_state *state)
{
    km_vol_check c;
    km_issue_target t;
    char ignored[512];

    if (!km_issue_target_of(r->s, &t, ignored, sizeof(ignored))) {
        *state = KM_VOL_UNREADABLE; /* said at client creation */
        return time(NULL);
    }
    *state = km_volume_check(km_keysource_libctx(), t.volume, t.alias, r->s->ca_cert, &r->rb, time(NULL), &c);
    km_vol_check_clear(&c);
    return c.window_start;
}

static void *run(void *arg)
{
    km_renewer *r = arg;
    /* under mtls.rotation=live the running client moves to what is renewed
     * and rotation.c warns about the certificate in use: only the volume's
     * own renew window matters here */
    int issuer = km_is_issuer(r->s), warned = km_settings_live(r->s);
    char line[1200], said[1024] = "";

    for (;;) {
        km_vol_state state = KM_VOL_FRESH;
        time_t next = r->in_use_window, vol_window;

        if (issuer) {
            vol_window = volume_window(r, &state);
            if (state != KM_VOL_FRESH && state != KM_VOL_OTHER_CA)
                vol_window = time(NULL);
            if (warned || vol_window < next)
                next = vol_window;
        } else if (warned) {
            break; /* nothing left to do without a CA */
        }
        if (sleep_until(r, next))
            break;
        if (!warned && time(NULL) >= r->in_use_window) {
            snprintf(line, sizeof(line), "kafka-mtls: the client certificate in use (%s) expires on %s; "
                     "%s a new client instance picks up the new certificate", r->in_use_subject,
                     r->in_use_not_after, issuer ? "the volume is renewed in the background;"
                                                 : "no CA is configured to renew it;");
            log_line(r, 4, line);
            warned = 1;
        }
        if (issuer && time(NULL) >= next) {
            char err[1024];

            if (km_issue_if_needed(r->s, line, sizeof(line), err, sizeof(err))) {
                if (line[0] != '\0')
                    log_line(r, 5, line);
                km_volume_changed(km_settings_source(r->s)); /* live clients look at once */
                volume_window(r, &state);
                said[0] = '\0';
            } else if (strcmp(err, said) != 0) {
                /* once per reason: a volume it cannot read is left alone,
                 * and looked at again when it changes */
                log_line(r, 3, err);
                snprintf(said, sizeof(said), "%s", err);
            }
            if (state != KM_VOL_FRESH && state != KM_VOL_OTHER_CA && sleep_until(r, time(NULL) + r->retry_seconds))
                break;
        }
    }
    return NULL;
}

static void ask_to_stop(km_renewer *r)
{
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* The process exits with the client alive (at_exit.h): a renewer in an
 * enrolment exchange may outlast the bound, and the exit goes on then. */
static void ask_at_exit(void *opaque)
{
    ask_to_stop(opaque);
}

static void join_at_exit(void *opaque, const struct timespec *until)
{
    km_renewer *r = opaque;

    r->joined = pthread_timedjoin_np(r->thread, NULL, until) == 0;
}

static rd_kafka_resp_err_t stop(rd_kafka_t *rk, void *opaque)
{
    km_renewer *r = opaque;

    (void)rk;
    km_at_exit_remove(&r->at_exit);
    ask_to_stop(r);
    if (!r->joined)
        pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    km_settings_free(r->s);
    OPENSSL_free(r);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

int km_renewer_start(rd_kafka_t *rk, const km_settings *s, const km_pem_bundle *in_use)
{
    km_renewer *r = OPENSSL_zalloc(sizeof(*r));
    char err[256];

    if (r == NULL || (r->s = km_settings_dup(s)) == NULL ||
        !km_renew_before_parse(s->renew_before, &r->rb, err, sizeof(err)) ||
        km_renewal_state(in_use->leaf_cert, &r->rb, time(NULL), &r->in_use_window) < 0) {
        if (r != NULL)
            km_settings_free(r->s);
        OPENSSL_free(r);
        return 0;
    }
    r->rk = rk;
    r->retry_seconds = retry_seconds();
    snprintf(r->in_use_subject, sizeof(r->in_use_subject), "%s", in_use->subject);
    snprintf(r->in_use_not_after, sizeof(r->in_use_not_after), "%s", in_use->not_after);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if (pthread_create(&r->thread, NULL, run, r) != 0) {
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        km_settings_free(r->s);
        OPENSSL_free(r);
        return 0;
    }
    km_at_exit_add(&r->at_exit, ask_at_exit, join_at_exit, r);
    s->rdk->add_on_destroy(rk, PLUGIN_NAME, stop, r);
    return 1;
}
