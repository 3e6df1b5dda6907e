/*
 * From new files on the volume to a new credential generation in the
 * transport, on the watcher's thread. The provider re-reads and checks the
 * volume (key and certificate must match, the volume must be ready; a
 * volume that changed during the read is read again: keysource.c), and the
 * SSL_CTX is built and checked before the transport sees it, so a
 * half-written update never reaches the wire: the client keeps the
 * generation it has until the volume is whole again.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "kafka-mtls.h"
#include "keysource.h"
#include "kmtls/x509.h"
#include "rotation.h"
#include "tls_context.h"

static void say(km_live *l, int level, const char *line)
{
    km_client_log_line(&l->s->log, l->rk, level, line);
}

/* A reason to keep the material in use, said once until it changes. */
static void refuse(km_live *l, int level, const char *why)
{
    char line[1400];

    if (strcmp(l->refused, why) == 0)
        return;
    snprintf(l->refused, sizeof(l->refused), "%s", why);
    snprintf(line, sizeof(line), "kafka-mtls: %s=%s: new material not used: %s; the client keeps its "
             "certificate %s (generation %llu, valid until %s)", km_settings_source_property(l->s),
             km_settings_source(l->s), why, l->in_use.subject, (unsigned long long)l->generation,
             l->in_use.not_after);
    say(l, level, line);
}

static void warn_window(km_live *l)
{
    time_t window;
    char line[1024];
    int state = km_renewal_state(l->in_use.leaf_cert, &l->rb, time(NULL), &window);

    if (l->window_warned || state == KM_CERT_FRESH || state < 0)
        return;
    l->window_warned = 1;
    snprintf(line, sizeof(line), "kafka-mtls: the client certificate in use (%s) %s on %s and no newer "
             "one has appeared on %s=%s yet; the running client moves to one as soon as it does",
             l->in_use.subject, state == KM_CERT_EXPIRED ? "expired" : "expires", l->in_use.not_after,
             km_settings_source_property(l->s), km_settings_source(l->s));
    say(l, LOG_WARNING, line);
}

/* The material read is new and whole: make it the next generation. */
static void rotate(km_live *l, km_pem_bundle *b)
{
    char err[512], line[1400], serial[64], why[600];
    SSL_CTX *ctx;
    time_t window;
    int state = km_renewal_state(b->leaf_cert, &l->rb, time(NULL), &window);

    if (state == KM_CERT_EXPIRED) {
        snprintf(why, sizeof(why), "its certificate %s is expired or not yet valid (until %s)", b->subject,
                 b->not_after);
        refuse(l, LOG_WARNING, why);
        return;
    }
    if ((ctx = km_tls_context_new(&l->tls, b, err, sizeof(err))) == NULL) {
        refuse(l, LOG_WARNING, err);
        return;
    }
    l->generation++;
    km_serial_hex(b->leaf_cert, serial, sizeof(serial));
    snprintf(line, sizeof(line), "kafka-mtls: %s=%s: new certificate %s (serial %s, valid until %s) is "
             "generation %llu: new connections present it now; %s", km_settings_source_property(l->s),
             km_settings_source(l->s), b->subject, serial, b->not_after, (unsigned long long)l->generation,
             l->s->rotation_existing != NULL && strcmp(l->s->rotation_existing, "keep") == 0
                 ? "existing ones keep the old one until they close (mtls.rotation.existing=keep)"
                 : "existing ones move to it one at a time");
    say(l, LOG_NOTICE, line); /* before the transport's own lines about it */
    km_transport_set_ctx(l->transport, ctx);
    SSL_CTX_free(ctx); /* the transport holds its own reference */
    km_pem_bundle_clear(&l->in_use);
    l->in_use = *b;           /* taken over */
    memset(b, 0, sizeof(*b));
    /* the cache keeps a key only while a client uses it: hold the new
     * entry, let the replaced one go (which clears what nobody holds) */
    if (l->held)
        km_cache_release(l->held_digest);
    if ((l->held = km_cache_hold(&l->in_use)) != 0)
        memcpy(l->held_digest, l->in_use.cache_digest, sizeof(l->held_digest));
    l->refused[0] = '\0';
    l->window_warned = 0;
}

void km_rotation_check(km_live *l)
{
    km_cache_key now = km_cache_key_of(l->s);
    km_pem_bundle b;
    char err[1024];
    int reason = 0;

    if (now.valid && l->seen.valid && CRYPTO_memcmp(now.digest, l->seen.digest, sizeof(now.digest)) == 0) {
        warn_window(l);
        return; /* nothing on the volume changed since the last read */
    }
    if (!km_keysource_load(l->s, 1, &b, &reason, err, sizeof(err))) {
        /* a volume being rewritten is not ready until it is whole: normal
         * for a moment, said at a lower level than a broken one */
        l->seen = now;
        refuse(l, reason == KAFKA_MTLS_R_NOT_READY ? LOG_INFO : LOG_WARNING,
               strncmp(err, "kafka-mtls: ", 12) == 0 ? err + 12 : err);
        km_cache_sweep(); /* nothing read is kept */
        return;
    }
    l->seen = now;
    if (km_pem_bundle_same(&b, &l->in_use)) {
        km_pem_bundle_clear(&b);
        km_cache_sweep();
        l->refused[0] = '\0';
        warn_window(l);
        return;
    }
    rotate(l, &b);
    km_pem_bundle_clear(&b); /* empty unless refused */
    km_cache_sweep();        /* what was read and refused is not kept */
    warn_window(l);
}
