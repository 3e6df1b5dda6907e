/*
 * The plugin as a client of a CA service. The properties become a
 * km_svc_request; the exchange and the write are the issuer's
 * (km_svc_issue), under the volume lock issuing.c holds, by the deadline
 * issuing.c set (mtls.wait.ms from the start of client creation, the lock
 * wait included), so that clients queued on the lock never wait longer
 * than they were told to.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "enrolling.h"
#include "kafka-mtls.h"
#include "keysource.h"
#include "kmtls/clock.h"
#include "kmtls/issuer.h"

int km_enrols(const km_settings *s)
{
    return s->enrol_url != NULL;
}

long km_enrol_timeout_ms(const km_settings *s)
{
    long t = s->enrol_timeout_ms > 0 ? s->enrol_timeout_ms
                                     : s->wait_ms > 0 ? s->wait_ms : KAFKA_MTLS_WAIT_MS_DEFAULT;

    return t > 600000 ? 600000 : t;
}

int km_enrol_config_ok(const km_settings *s, char *errstr, size_t n)
{
    const char *half = s->enrol_root != NULL ? KAFKA_MTLS_PROP_ENROL_CA_LOCATION
                       : s->enrol_token_file != NULL ? KAFKA_MTLS_PROP_ENROL_TOKEN_FILE
                       : s->enrol_not_after != NULL ? KAFKA_MTLS_PROP_ENROL_NOT_AFTER
                       : s->enrol_timeout_ms != 0 ? KAFKA_MTLS_PROP_ENROL_TIMEOUT_MS : NULL;

    if (!km_enrols(s)) {
        if (half == NULL)
            return 1;
        snprintf(errstr, n, "kafka-mtls: %s is set but %s is not: set the CA service's URL, or neither", half,
                 KAFKA_MTLS_PROP_ENROL_URL);
        return 0;
    }
    if (s->enrol_root == NULL) {
        snprintf(errstr, n, "kafka-mtls: %s needs %s (the service's root certificate, PEM)",
                 KAFKA_MTLS_PROP_ENROL_URL, KAFKA_MTLS_PROP_ENROL_CA_LOCATION);
        return 0;
    }
    if (s->ca_cert != NULL || s->ca_key != NULL) {
        snprintf(errstr, n, "kafka-mtls: configuration conflict: %s and %s both make the plugin the issuer; "
                 "a client of a CA service holds no CA (remove %s)", KAFKA_MTLS_PROP_ENROL_URL,
                 s->ca_key != NULL ? KAFKA_MTLS_PROP_CA_KEY_LOCATION : KAFKA_MTLS_PROP_CA_LOCATION,
                 s->ca_key != NULL ? KAFKA_MTLS_PROP_CA_KEY_LOCATION : KAFKA_MTLS_PROP_CA_LOCATION);
        return 0;
    }
    if (s->enrol_timeout_ms > 0 && s->wait_ms > 0 && s->enrol_timeout_ms > s->wait_ms) {
        snprintf(errstr, n, "kafka-mtls: %s=%ld is longer than %s=%ld: the clients waiting for this one's "
                 "enrolment would give up first", KAFKA_MTLS_PROP_ENROL_TIMEOUT_MS, s->enrol_timeout_ms,
                 KAFKA_MTLS_PROP_WAIT_MS, s->wait_ms);
        return 0;
    }
    if (s->validity_days != 0 || s->validity != NULL) {
        snprintf(errstr, n, "kafka-mtls: %s is a local CA's lifetime; with %s ask the service for one with %s",
                 s->validity != NULL ? KAFKA_MTLS_PROP_VALIDITY : KAFKA_MTLS_PROP_VALIDITY_DAYS,
                 KAFKA_MTLS_PROP_ENROL_URL, KAFKA_MTLS_PROP_ENROL_NOT_AFTER);
        return 0;
    }
    return 1;
}

int km_enrol_locked(const km_settings *s, const char *store_password, double deadline_ms, const char *deadline_by,
                    char *issued, size_t issued_size, char *errstr, size_t n)
{
    km_svc_request rq = { .libctx = km_keysource_libctx(), .volume = km_settings_source(s), .alias = s->alias,
                          .url = s->enrol_url, .root = s->enrol_root, .token_file = s->enrol_token_file,
                          .subject = s->subject, .san = s->san, .key_type = s->key_type,
                          .not_after = s->enrol_not_after, .timeout_ms = km_enrol_timeout_ms(s),
                          .deadline_ms = deadline_ms, .deadline_by = deadline_by,
                          .store_password = store_password };
    km_svc_result res;
    km_status st = { 0 };
    km_renew_before rb;
    char until[32] = "?", err[256];

    issued[0] = '\0';
    if (!km_enrol_config_ok(s, errstr, n))
        return 0;
    if (km_renew_before_parse(s->renew_before, &rb, err, sizeof(err)))
        rq.rb = &rb;
    if (!km_svc_issue(&rq, &res, &st)) {
        snprintf(errstr, n, "kafka-mtls: enrolling %s=%s with the CA service failed: %s",
                 km_settings_source_property(s), rq.volume, st.msg);
        return 0;
    }
    km_utc_text(res.issued.not_after, until, sizeof(until));
    if (res.left_alone)
        snprintf(issued, issued_size, "kafka-mtls: %s=%s: %s (%s)", km_settings_source_property(s), rq.volume,
                 res.note, KAFKA_MTLS_PROP_ENROL_CA_LOCATION);
    else
        snprintf(issued, issued_size, "kafka-mtls: %s a certificate for %s (serial %s, until %s) from the CA "
                 "service %s into %s (%s: %s)%s%s", strcmp(res.call, "sign") == 0 ? "enrolled" : "renewed",
                 res.issued.subject, res.issued.serial, until, s->enrol_url, rq.volume, res.call, res.note,
                 res.issued.warning[0] ? "; warning: " : "", res.issued.warning[0] ? res.issued.warning
                 : res.in_window ? "; warning: it is inside its renew window (" KAFKA_MTLS_PROP_RENEW_BEFORE
                                   ") already: every client start renews it again" : "");
    return 1;
}
