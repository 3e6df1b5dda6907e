/*
 * The interceptor reads volumes with the same provider as `openssl`: the
 * provider's code is linked in and registered as a built-in in the
 * application's default OSSL_LIB_CTX (kmtls_libctx_default), and the
 * material comes through OSSL_STORE_open_ex().
 */
#include <errno.h>
#include <stdint.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/x509.h>

#include "kafka-mtls.h"
#include "keysource.h"
#include "kmtls/clock.h"
#include "kmtls/provider.h"
#include "material_cache.h"

static const kmtls_libctx *process_libctx;
static pthread_once_t libctx_once = PTHREAD_ONCE_INIT;

/* Lives as long as the process: the plugin is never unloaded (-z nodelete). */
static void libctx_init(void)
{
    process_libctx = kmtls_libctx_default();
}

/* One OSSL_STORE pass, with the passwords the application configured. */
static int load_uri(const char *uri, const char *password, const char *key_password, kmtls_loaded *out,
                    int *reason, char *msg, size_t size)
{
    OSSL_PARAM params[3];
    kmtls_query q = { .uri = uri, .params = kmtls_password_params(params, password, key_password) };

    if (kmtls_store_load(process_libctx->libctx, &q, out))
        return 1;
    *reason = out->reason;
    snprintf(msg, size, "%s", out->msg);
    return 0;
}

/*
 * Watches for what the certificate service does: files written into the
 * volume, and the volume (or a store file's directory) itself removed and
 * made again (the seed's sidecar runs rm -rf VOLUME; mkdir -p VOLUME):
 * source and the directories up to levels above it, whichever exist. A
 * watch lasts one wait, so a directory made anew is watched anew.
 *
 * Not volume_watch.c's job, though both use inotify: this is one bounded
 * wait at client creation for a volume to become readable, so any event
 * near it is a reason to read again and nothing disappearing (IN_MOVED_FROM)
 * can make it ready; the watcher runs for a client's life, tells apart the
 * entries it watches by name, and must see material leave as well as come.
 */
static int watch_source(const char *source, int levels)
{
    const uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE |
                          IN_DELETE_SELF | IN_MOVE_SELF;
    char dir[4096];
    struct stat sb;
    int fd, watched = 0;

    snprintf(dir, sizeof(dir), "%s", source);
    if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
        return -1;
    for (int up = 0; up <= levels; up++) {
        if (up > 0) {
            char *slash = strrchr(dir, '/');

            if (slash == NULL)
                break;
            *(slash == dir ? slash + 1 : slash) = '\0';
        }
        if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) && inotify_add_watch(fd, dir, mask) >= 0)
            watched++;
    }
    if (watched == 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A source that does not exist yet (a volume the certificate service has
 * not made, a store file not written) is not ready, not missing: the
 * settings accepted it because its parent exists. */
static int pending_source(const char *source, int reason, char *msg, size_t n)
{
    struct stat sb;

    if (reason != KAFKA_MTLS_R_NOT_FOUND || lstat(source, &sb) == 0 || errno != ENOENT)
        return reason;
    snprintf(msg, n, "%s does not exist yet (the certificate service creates it)", source);
    return KAFKA_MTLS_R_NOT_READY;
}

static void wait_for_change(int fd, int timeout_ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    char buf[4096];

    if (fd < 0) {
        /* no inotify: re-check at a modest pace */
        struct timespec ts = { 0, (long)(timeout_ms < 100 ? timeout_ms : 100) * 1000000L };
        nanosleep(&ts, NULL);
        return;
    }
    if (poll(&pfd, 1, timeout_ms) > 0)
        while (read(fd, buf, sizeof(buf)) > 0)
            ;
}

int km_keysource_ready(void)
{
    pthread_once(&libctx_once, libctx_init);
    return process_libctx != NULL;
}

OSSL_LIB_CTX *km_keysource_libctx(void)
{
    return km_keysource_ready() ? process_libctx->libctx : NULL;
}

/* 1 when the trust read of a volume found nothing because the volume was
 * not the one whose identity was just read: no directory there at that
 * moment, or another one (a swap between the two opens). Taken as "no
 * truststore", it would leave the broker's CA to librdkafka's defaults
 * (the system's public CAs) instead of the volume's. */
static int torn(const kmtls_loaded *ks, const kmtls_loaded *ts, int ts_ok)
{
    if (ts_ok || ks->volume.ino == 0)
        return 0; /* trust read, or not a directory read (nothing known) */
    return ts->volume.ino == 0 || ks->volume.dev != ts->volume.dev || ks->volume.ino != ts->volume.ino;
}

/* A client whose material librdkafka takes (mtls.rotation=restart) needs
 * it as PEM text; under mtls.rotation=live the plugin's SSL_CTX takes the
 * decoded objects and no text is made. */
static int with_text(const km_settings *s, km_pem_bundle *b, char *errstr, size_t errstr_size)
{
    if (km_settings_live(s) || km_pem_bundle_text(b))
        return 1;
    km_pem_bundle_clear(b);
    snprintf(errstr, errstr_size, "kafka-mtls: out of memory converting the key material");
    return 0;
}

static int load_once(const km_settings *s, int no_wait, km_pem_bundle *out, int *reason_out,
                     char *errstr, size_t errstr_size, km_cache_key *cache_key, int *torn_out)
{
    const char *source = km_settings_source(s), *prop = km_settings_source_property(s);
    const char *trust = s->truststore != NULL ? s->truststore : source;
    const char *trust_pw = s->truststore != NULL ? s->truststore_password : s->keystore_password;
    char ks_uri[8192], ts_uri[8192], msg[640];
    kmtls_loaded ks = { 0 }, ts = { 0 };
    double deadline = km_now_ms() + (no_wait ? 0.0 : (double)s->wait_ms);
    int reason = 0, watch = -1, ok = 0, done = 0;

    memset(out, 0, sizeof(*out));
    *reason_out = 0;
    if (!km_keysource_ready()) {
        snprintf(errstr, errstr_size, "kafka-mtls: cannot initialise OpenSSL (provider registration failed)");
        return 0;
    }
    if (km_cache_get(cache_key, out))
        return with_text(s, out, errstr, errstr_size);
    kmtls_store_uri(ks_uri, sizeof(ks_uri), source, "keystore", s->alias, s->password_file);
    kmtls_store_uri(ts_uri, sizeof(ts_uri), trust, "truststore", s->truststore == NULL ? s->alias : NULL,
                    s->password_file);
    for (;;) {
        if (load_uri(ks_uri, s->keystore_password, s->key_password, &ks, &reason, msg, sizeof(msg))) {
            ok = 1;
            break;
        }
        reason = pending_source(source, reason, msg, sizeof(msg));
        if (reason != KAFKA_MTLS_R_NOT_READY || km_now_ms() >= deadline)
            break;
        if (watch < 0 && (watch = watch_source(source, 2)) >= 0)
            continue; /* re-check once the watch is in place: no change is missed */
        wait_for_change(watch, (int)(deadline - km_now_ms()) + 1);
        if (watch >= 0)
            close(watch);
        watch = -1;
    }
    if (watch >= 0)
        close(watch);
    if (!ok) {
        *reason_out = reason;
        if (reason == KAFKA_MTLS_R_NOT_READY && !no_wait)
            snprintf(errstr, errstr_size, "kafka-mtls: %s: still not ready after %s=%ld: %s", prop,
                     KAFKA_MTLS_PROP_WAIT_MS, s->wait_ms, msg);
        else
            snprintf(errstr, errstr_size, "kafka-mtls: %s: %s", prop, msg);
        return 0;
    }
    if (ks.key == NULL || sk_X509_num(ks.certs) <= 0) {
        snprintf(errstr, errstr_size, "kafka-mtls: %s: %s has %s", prop, source,
                 ks.key == NULL ? "no private key" : "no certificate for its private key");
        goto done;
    }
    /* A volume without a truststore leaves the broker's CA to librdkafka's
     * defaults; a truststore that was named must load. */
    int ts_ok = load_uri(ts_uri, trust_pw, NULL, &ts, &reason, msg, sizeof(msg));
    if (s->truststore == NULL && torn(&ks, &ts, ts_ok)) {
        *torn_out = 1;
        snprintf(errstr, errstr_size, "kafka-mtls: %s: %s was replaced between reading its key and "
                 "its trusted certificates", prop, source);
        *reason_out = KAFKA_MTLS_R_NOT_READY;
        goto done;
    }
    if (!ts_ok && (s->truststore != NULL || reason != KAFKA_MTLS_R_NOT_FOUND)) {
        snprintf(errstr, errstr_size, "kafka-mtls: %s: %s",
                 s->truststore != NULL ? "ssl.truststore.location" : prop, msg);
        *reason_out = reason;
        goto done;
    }
    if (!km_pem_bundle_make(ks.key, ks.certs, ts.certs, out)) {
        snprintf(errstr, errstr_size, "kafka-mtls: out of memory converting the key material");
        goto done;
    }
    if (!with_text(s, out, errstr, errstr_size))
        goto done;
    done = 1;
done:
    kmtls_loaded_clear(&ks);
    kmtls_loaded_clear(&ts);
    return done;
}

/*
 * The key and chain and the trusted certificates come from two opens; a
 * volume replaced in between (a directory swapped by rename, Kubernetes
 * re-pointing ..data) would pair one volume's identity with the other's
 * trust. When the volume's files changed during the read, read again; and
 * when the trust read found no truststore because the volume was not
 * there or was another directory (the provider says which directory each
 * read held: a directory swapped out and back in leaves the fingerprint as
 * it was). After 5 reads the last one stands; a torn one fails.
 */
int km_keysource_load(const km_settings *s, int no_wait, km_pem_bundle *out, int *reason_out,
                      char *errstr, size_t errstr_size)
{
    for (int attempt = 1;; attempt++) {
        km_cache_key before = km_cache_key_of(s), after;
        int mixed = 0;
        int ok = load_once(s, no_wait, out, reason_out, errstr, errstr_size, &before, &mixed);

        after = km_cache_key_of(s);
        if (!mixed && before.valid && after.valid &&
            CRYPTO_memcmp(before.digest, after.digest, sizeof(before.digest)) == 0) {
            if (ok) { /* only what was read from one unchanged volume is kept */
                km_cache_put(&before, out);
                memcpy(out->cache_digest, before.digest, sizeof(out->cache_digest));
                out->cached = 1;
            }
            return ok;
        }
        /* Changed meanwhile: read again, up to 5 times, then use the last
         * read (the provider read each open from one directory). A torn
         * read (mixed) failed in load_once, its message saying why. */
        if (!before.valid || !after.valid || attempt == 5)
            return ok;
        if (ok)
            km_pem_bundle_clear(out);
    }
}
