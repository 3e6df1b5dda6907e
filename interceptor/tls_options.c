/*
 * Under mtls.rotation=live librdkafka runs in plaintext, so it would read
 * none of its ssl.* settings: the plugin reads them here from the client's
 * configuration and builds its own SSL_CTX from them (tls_context.c).
 * What the plugin cannot do the way librdkafka would - load an OpenSSL
 * engine or providers into librdkafka's library context - is refused with a
 * message, at rd_kafka_conf_set when the plugin sees it, else at client
 * creation. The key, certificate and keystore properties are the plugin's
 * own (apply.c refuses the application's), and ssl.ca.certificate.stores
 * is Windows-only, ignored by librdkafka itself elsewhere.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>

#include "kafka-mtls.h"
#include "tls_options.h"

/* A refused setting is "set" when its value is not librdkafka's default. */
static const struct refused {
    const char *name;
    const char *unset;  /* the default value ("" = unset) */
    const char *why;
} refused[] = {
    { "ssl.engine.location", "", "an OpenSSL engine" },
    { "ssl.engine.id", "dynamic", "an OpenSSL engine" },
    { "ssl.providers", "", "OpenSSL providers loaded into librdkafka's library context" },
};

#define NREFUSED (sizeof(refused) / sizeof(refused[0]))

/* A copy of a text property (NULL when unset or empty); 0 when out of memory. */
static int dup_prop(const km_settings *s, const rd_kafka_conf_t *conf, const char *name, char **out)
{
    size_t size = 0;
    char *v;

    *out = NULL;
    if (s->rdk->conf_get(conf, name, NULL, &size) != RD_KAFKA_CONF_OK || size <= 1)
        return 1;
    if ((v = OPENSSL_malloc(size)) == NULL)
        return 0;
    if (s->rdk->conf_get(conf, name, v, &size) != RD_KAFKA_CONF_OK || v[0] == '\0') {
        OPENSSL_free(v);
        return 1;
    }
    *out = v;
    return 1;
}

static void refusal(const struct refused *r, char *errstr, size_t n)
{
    snprintf(errstr, n, "kafka-mtls: %s cannot be honoured with %s=live (%s; the plugin does the TLS "
             "itself, librdkafka runs without it): remove it, or use %s=restart", r->name, KAFKA_MTLS_PROP_ROTATION,
             r->why, KAFKA_MTLS_PROP_ROTATION);
}

static const struct refused *refused_set(const km_settings *s, const rd_kafka_conf_t *conf)
{
    char v[512];

    for (size_t i = 0; i < NREFUSED; i++) {
        km_rdk_conf_text(s->rdk, conf, refused[i].name, v, sizeof(v));
        if (strcmp(v, refused[i].unset) != 0 && v[0] != '\0')
            return &refused[i];
    }
    return NULL;
}

int km_tls_option_refused(const km_settings *s, const rd_kafka_conf_t *conf, const char *name, const char *value,
                          char *errstr, size_t n)
{
    const struct refused *r;

    if (s->applying || name == NULL)
        return 0;
    if (strcmp(name, KAFKA_MTLS_PROP_ROTATION) == 0) {
        if (value == NULL || strcmp(value, "live") != 0 || (r = refused_set(s, conf)) == NULL)
            return 0;
        refusal(r, errstr, n);
        return 1;
    }
    if (!km_settings_live(s))
        return 0;
    for (size_t i = 0; i < NREFUSED; i++)
        if (strcmp(name, refused[i].name) == 0 && value != NULL && value[0] != '\0' &&
            strcmp(value, refused[i].unset) != 0) {
            refusal(&refused[i], errstr, n);
            return 1;
        }
    return 0;
}

/* A function-pointer property as conf_get prints it ("0x..."), or NULL. */
static void *pointer_prop(const km_settings *s, const rd_kafka_conf_t *conf, const char *name)
{
    char v[64];
    void *p = NULL;

    km_rdk_conf_text(s->rdk, conf, name, v, sizeof(v));
    return v[0] != '\0' && sscanf(v, "%p", &p) == 1 ? p : NULL;
}

int km_tls_options_read(km_tls_options *o, const km_settings *s, rd_kafka_t *rk, const rd_kafka_conf_t *conf,
                        char *errstr, size_t n)
{
    const struct refused *r;
    char v[64];
    void *cb;

    memset(o, 0, sizeof(*o));
    if ((r = refused_set(s, conf)) != NULL) {
        refusal(r, errstr, n);
        return 0;
    }
    km_rdk_conf_text(s->rdk, conf, "enable.ssl.certificate.verification", v, sizeof(v));
    o->verify_peer = strcmp(v, "false") != 0;
    /* "https" is librdkafka's default since 2.0; Java's empty value is the
     * plugin's own property (settings.c) and means none */
    km_rdk_conf_text(s->rdk, conf, "ssl.endpoint.identification.algorithm", v, sizeof(v));
    o->verify_hostname = !s->no_hostname_check && strcmp(v, "https") == 0;
    if (!dup_prop(s, conf, "ssl.ca.location", &o->ca_location) || !dup_prop(s, conf, "ssl.ca.pem", &o->ca_pem) ||
        !dup_prop(s, conf, "ssl.crl.location", &o->crl_location) ||
        !dup_prop(s, conf, "ssl.cipher.suites", &o->cipher_suites) ||
        !dup_prop(s, conf, "ssl.curves.list", &o->curves) || !dup_prop(s, conf, "ssl.sigalgs.list", &o->sigalgs)) {
        km_tls_options_clear(o);
        snprintf(errstr, n, "kafka-mtls: out of memory reading the ssl.* settings");
        return 0;
    }
    if ((cb = pointer_prop(s, conf, "ssl.certificate.verify_cb")) != NULL)
        memcpy(&o->verify_cb, &cb, sizeof(o->verify_cb));
    o->rk = rk;
    o->opaque = s->rdk->opaque(rk);
    o->log = s->log;
    return 1;
}

void km_tls_options_clear(km_tls_options *o)
{
    OPENSSL_free(o->ca_location);
    OPENSSL_free(o->ca_pem);
    OPENSSL_free(o->crl_location);
    OPENSSL_free(o->cipher_suites);
    OPENSSL_free(o->curves);
    OPENSSL_free(o->sigalgs);
    memset(o, 0, sizeof(*o));
}
