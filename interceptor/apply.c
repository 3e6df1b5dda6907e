/*
 * on_new runs after librdkafka has finalised the configuration and before
 * it builds the SSL context, so properties set here on the client's own
 * configuration take effect. Errors returned from on_new are only logged:
 * failing closed means making the SSL context fail with our message.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "apply.h"
#include "kafka-mtls.h"
#include "issuing.h"
#include "keysource.h"
#include "material_cache.h"
#include "live.h"
#include "renewer.h"

#define PLUGIN_NAME "kafka-mtls"

static int set(rd_kafka_conf_t *conf, km_settings *s, const char *name, const char *value,
               char *errstr, size_t errstr_size)
{
    char err[512];
    rd_kafka_conf_res_t r;

    s->applying = 1; /* our own on_conf_set must let these through */
    r = s->rdk->conf_set(conf, name, value, err, sizeof(err));
    s->applying = 0;
    if (r != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "kafka-mtls: cannot set %s: %s", name, err);
        return 0;
    }
    return 1;
}

/* The application's own TLS material and ours cannot both apply. */
static int check_conflicts(const rd_kafka_conf_t *conf, const km_settings *s, int with_ca,
                           char *errstr, size_t errstr_size)
{
    static const char *const mine[] = { "ssl.key.pem", "ssl.key.location", "ssl.certificate.pem",
                                        "ssl.certificate.location", "ssl.keystore.location" };
    static const char *const ca[] = { "ssl.ca.pem", "ssl.ca.location" };

    for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]); i++)
        if (km_rdk_conf_is_set(s->rdk, conf, mine[i])) {
            snprintf(errstr, errstr_size,
                     "kafka-mtls: configuration conflict: %s is set by the application and %s=%s "
                     "supplies the client key and certificate; remove one of them%s", mine[i],
                     km_settings_source_property(s), km_settings_source(s),
                     strcmp(mine[i], "ssl.keystore.location") == 0
                         ? " (or set plugin.library.paths first, so the plugin reads ssl.keystore.location)"
                         : "");
            return 0;
        }
    for (size_t i = 0; with_ca && i < sizeof(ca) / sizeof(ca[0]); i++)
        if (km_rdk_conf_is_set(s->rdk, conf, ca[i])) {
            snprintf(errstr, errstr_size,
                     "kafka-mtls: configuration conflict: %s is set by the application and %s "
                     "supplies the trusted CA certificates; remove one of them", ca[i],
                     s->truststore ? "ssl.truststore.location" : km_settings_source_property(s));
            return 0;
        }
    return 1;
}

/* TLS must be on: plaintext is upgraded, never kept. */
static int upgrade_protocol(rd_kafka_conf_t *conf, km_settings *s, char *errstr, size_t errstr_size)
{
    char proto[32];

    km_rdk_conf_text(s->rdk, conf, "security.protocol", proto, sizeof(proto));
    if (strcmp(proto, "plaintext") == 0)
        return set(conf, s, "security.protocol", "ssl", errstr, errstr_size);
    if (strcmp(proto, "sasl_plaintext") == 0)
        return set(conf, s, "security.protocol", "sasl_ssl", errstr, errstr_size);
    return 1;
}

static rd_kafka_resp_err_t close_chain_fd(rd_kafka_t *rk, rd_kafka_thread_type_t type,
                                          const char *name, void *opaque)
{
    km_settings *s = opaque;
    int fd = __atomic_exchange_n(&s->memfd, -1, __ATOMIC_ACQ_REL);

    (void)rk, (void)type, (void)name;
    if (fd >= 0)
        close(fd); /* the SSL context was built before the first thread */
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/*
 * librdkafka < 2.8 sends only the leaf of ssl.certificate.pem; a chain
 * file is sent whole. The chain goes through an anonymous memory file, so
 * nothing touches the disk.
 */
static int set_certificate(rd_kafka_t *rk, rd_kafka_conf_t *conf, km_settings *s,
                           const km_pem_bundle *b, char *errstr, size_t errstr_size)
{
    char path[64];
    size_t len, off = 0;
    int fd;

    if (b->chain == NULL)
        return set(conf, s, "ssl.certificate.pem", b->leaf, errstr, errstr_size);
    if ((fd = memfd_create("kafka-mtls-chain", MFD_CLOEXEC)) < 0) {
        snprintf(errstr, errstr_size, "kafka-mtls: memfd_create for the certificate chain failed");
        return 0;
    }
    for (len = strlen(b->chain); off < len;) {
        ssize_t n = write(fd, b->chain + off, len - off);
        if (n <= 0) {
            close(fd);
            snprintf(errstr, errstr_size, "kafka-mtls: writing the certificate chain failed");
            return 0;
        }
        off += (size_t)n;
    }
    if (s->memfd >= 0)
        close(s->memfd);
    s->memfd = fd;
    s->rdk->add_on_thread_start(rk, PLUGIN_NAME, close_chain_fd, s);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    return set(conf, s, "ssl.certificate.location", path, errstr, errstr_size);
}

/*
 * Makes rd_kafka_new() fail with our message: the SSL context cannot be
 * built from a file whose "path" is the reason. Only a property the
 * application left unset is used: the client's configuration shares the
 * application's strings, and replacing one would free it under the
 * application's feet.
 */
static void fail_closed(rd_kafka_conf_t *conf, km_settings *s, const char *reason)
{
    /* In librdkafka's order of preference for the message it prints:
     * "Failed to open ssl.keystore.location: <reason>", then "Failed to load
     * OpenSSL provider \"<reason>\"" (a list: no commas), then files whose
     * error names only the property (the reason is still in the log). */
    static const char *const carriers[] = { "ssl.keystore.location", "ssl.providers",
                                            "ssl.certificate.location", "ssl.key.location",
                                            "ssl.ca.location" };
    char ignored[512], text[1024];

    snprintf(text, sizeof(text), "%s", reason);
    upgrade_protocol(conf, s, ignored, sizeof(ignored));
    for (size_t i = 0; i < sizeof(carriers) / sizeof(carriers[0]); i++) {
        if (km_rdk_conf_is_set(s->rdk, conf, carriers[i]))
            continue;
        if (strcmp(carriers[i], "ssl.providers") == 0)
            for (char *c = strchr(text, ','); c != NULL; c = strchr(c, ','))
                *c = ';';
        if (set(conf, s, carriers[i], text, ignored, sizeof(ignored)))
            return;
    }
}

static rd_kafka_resp_err_t release_material(rd_kafka_t *rk, void *opaque)
{
    (void)rk;
    km_cache_release(opaque);
    OPENSSL_free(opaque);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* The client holds the cache entry of its material until it is destroyed
 * (material_cache.h): the last one destroyed clears the key. */
static void hold_material(rd_kafka_t *rk, km_settings *s, const km_pem_bundle *b)
{
    unsigned char *digest;

    if (!km_cache_hold(b))
        return;
    if ((digest = OPENSSL_memdup(b->cache_digest, sizeof(b->cache_digest))) == NULL ||
        s->rdk->add_on_destroy(rk, PLUGIN_NAME "-material", release_material, digest) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        km_cache_release(b->cache_digest);
        OPENSSL_free(digest);
    }
}

int km_apply(rd_kafka_t *rk, rd_kafka_conf_t *conf, km_settings *s, char *errstr, size_t errstr_size)
{
    km_pem_bundle b;
    int ok;

    km_client_log_init(&s->log, s->rdk, conf); /* every line from here on goes the application's way */
    if (s->volume == NULL && s->keystore == NULL && km_rdk_conf_is_set(s->rdk, conf, "ssl.keystore.location")) {
        snprintf(errstr, errstr_size,
                 "kafka-mtls: ssl.keystore.location was set before plugin.library.paths, so librdkafka "
                 "took it as its own; set plugin.library.paths first so that kafka-mtls reads it");
        fail_closed(conf, s, errstr);
        return 0;
    }
    if (s->volume == NULL && s->keystore == NULL && !km_settings_use_env_volume(s, errstr, errstr_size)) {
        fail_closed(conf, s, errstr);
        return 0;
    }
    if (s->volume != NULL && s->keystore != NULL) {
        snprintf(errstr, errstr_size, "kafka-mtls: configuration conflict: both %s and "
                 "ssl.keystore.location are set; use one", KAFKA_MTLS_PROP_VOLUME);
        fail_closed(conf, s, errstr);
        return 0;
    }
    if (!check_conflicts(conf, s, 0, errstr, errstr_size) || !km_obtain(rk, s, &b, errstr, errstr_size)) {
        km_cache_sweep();
        fail_closed(conf, s, errstr);
        return 0;
    }
    ok = check_conflicts(conf, s, b.trusted != NULL, errstr, errstr_size) &&
         (km_settings_live(s) ? km_live_apply(rk, conf, s, &b, errstr, errstr_size) : /* the plugin's own TLS */
         set(conf, s, "ssl.key.pem", b.key, errstr, errstr_size) &&
         set_certificate(rk, conf, s, &b, errstr, errstr_size) &&
         (b.trusted == NULL || set(conf, s, "ssl.ca.pem", b.trusted, errstr, errstr_size)) &&
         (!s->no_hostname_check ||
          set(conf, s, "ssl.endpoint.identification.algorithm", "none", errstr, errstr_size)) &&
         upgrade_protocol(conf, s, errstr, errstr_size));
    if (ok && !km_renewer_start(rk, s, &b))
        km_client_log_line(&s->log, rk, 4, "kafka-mtls: cannot start the renewal watch; "
                                           "renewal happens at client creation only");
    if (ok)
        hold_material(rk, s, &b);
    km_pem_bundle_clear(&b);
    if (!ok) {
        km_cache_sweep(); /* what was read for this client goes with it */
        fail_closed(conf, s, errstr);
    }
    return ok;
}
