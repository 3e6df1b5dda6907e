/* Client creation with a CA configured: the plugin is the volume's issuer. */
#ifndef KMTLS_ISSUING_H
#define KMTLS_ISSUING_H

#include <librdkafka/rdkafka.h>
#include "keysource.h"
#include "settings.h"

/* A CA certificate and key are configured. */
int km_is_issuer(const km_settings *s);

/*
 * The material for a client being created, in this order: a ready volume
 * with a certificate outside its renew window is used as it is; a missing,
 * not-ready, expiring or expired one is issued or renewed under the volume
 * lock when a CA is configured; without a CA an expiring certificate is used
 * with a warning, an expired one fails closed, a not-ready volume is waited
 * for (mtls.wait.ms). 1, or 0 with errstr.
 */
int km_obtain(rd_kafka_t *rk, const km_settings *s, km_pem_bundle *b, char *errstr, size_t errstr_size);

/* Where the plugin issues (issue_target.c): mtls.volume and mtls.alias, or
 * the directory and ALIAS of ssl.keystore.location=DIR/ALIAS.keystore.jks. */
typedef struct km_issue_target {
    char volume[4096];
    char alias_buf[256];
    const char *alias;       /* NULL: the directory's name */
} km_issue_target;

/* 1, or 0 with errstr: a keystore file not named ALIAS.keystore.*, a
 * truststore named elsewhere, a truststore password that differs. */
int km_issue_target_of(const km_settings *s, km_issue_target *t, char *errstr, size_t errstr_size);

/* Issues or renews the volume under its lock if it still needs it.
 * Returns 1 (also when another process already did: then issued is ""),
 * 0 with errstr. issued describes what was written (for the log). */
int km_issue_if_needed(const km_settings *s, char *issued, size_t issued_size, char *errstr,
                       size_t errstr_size);

#endif
