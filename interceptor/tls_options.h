/*
 * librdkafka's ssl.* settings, for the TLS the plugin does itself under
 * mtls.rotation=live (librdkafka then runs in plaintext and would ignore
 * them): each one is honoured (tls_context.c) or refused, never ignored.
 */
#ifndef KMTLS_TLS_OPTIONS_H
#define KMTLS_TLS_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <librdkafka/rdkafka.h>

#include "client_log.h"
#include "settings.h"

/* librdkafka's ssl.certificate.verify_cb (rd_kafka_conf_set_ssl_cert_verify_cb). */
typedef int km_app_verify_cb(rd_kafka_t *rk, const char *broker_name, int32_t broker_id, int *x509_error,
                             int depth, const char *buf, size_t size, char *errstr, size_t errstr_size,
                             void *opaque);

typedef struct km_tls_options {
    int verify_peer;            /* enable.ssl.certificate.verification */
    int verify_hostname;        /* ssl.endpoint.identification.algorithm=https */
    char *ca_location;          /* ssl.ca.location: a file, a directory or "probe" */
    char *ca_pem;               /* ssl.ca.pem */
    char *crl_location;         /* ssl.crl.location */
    char *cipher_suites;        /* ssl.cipher.suites */
    char *curves;               /* ssl.curves.list */
    char *sigalgs;              /* ssl.sigalgs.list */
    km_app_verify_cb *verify_cb;/* ssl.certificate.verify_cb */
    rd_kafka_t *rk;             /* for verify_cb: the client and its opaque */
    void *opaque;
    km_client_log log;          /* where a refusal by verify_cb is explained */
} km_tls_options;

/*
 * Reads the client's ssl.* settings (on_new). 0 with errstr for one that
 * the plugin's TLS cannot honour (an OpenSSL engine, ssl.providers), else 1.
 */
int km_tls_options_read(km_tls_options *o, const km_settings *s, rd_kafka_t *rk, const rd_kafka_conf_t *conf,
                        char *errstr, size_t errstr_size);
void km_tls_options_clear(km_tls_options *o);

/*
 * At rd_kafka_conf_set: 1 (errstr says why) if setting name=value cannot be
 * honoured - one of the refused ssl.* settings while mtls.rotation=live, or
 * mtls.rotation=live while conf already holds one - else 0.
 */
int km_tls_option_refused(const km_settings *s, const rd_kafka_conf_t *conf, const char *name,
                          const char *value, char *errstr, size_t errstr_size);

#endif
