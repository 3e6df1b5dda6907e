/*
 * The exchange with the CA service (enrol/, kmtls/enrol.h): the CSR, the
 * token when one is needed, the call, and the one fallback there is. A
 * rekey the service refuses because the current certificate cannot renew
 * itself (refused client certificate, 401) becomes a sign with the token,
 * if one is configured. Nothing else falls back: an untrusted service
 * (TLS) or a bad answer must not be tried another way, a refused sign has
 * spent its token, and a service that is down is retried later by the
 * caller (with the certificate it has). The token is read only when it is
 * sent, cleansed after, and never enters a message. Every exchange gets
 * what is left of the caller's deadline (the lock wait, the key generation
 * and a refused rekey before it took the rest), so a renewal that falls
 * back to a sign still ends within the one bound the caller was given.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/x509.h>

#include "enrol_internal.h"
#include "kafka-mtls.h"
#include "kmtls/clock.h"
#include "kmtls/enrol.h"
#include "kmtls/files.h"

int km_svc_built(void)
{
    return 1;
}

int km_svc_duration(const char *s, double *seconds)
{
    return km_enrol_duration(s, seconds);
}

/* The issuer's reason for the service's: what the caller sees in st. */
static int reason_of(km_enrol_reason r)
{
    switch (r) {
    case KM_ENROL_BAD_ARGUMENT:
        return KAFKA_MTLS_R_BAD_REQUEST;
    case KM_ENROL_INTERNAL:
        return KAFKA_MTLS_R_INTERNAL;
    default:
        return KAFKA_MTLS_R_CA_REFUSED;
    }
}

/* What the caller should do, after the service's own message. */
static const char *advice(km_enrol_reason r)
{
    switch (r) {
    case KM_ENROL_UNREACHABLE:
    case KM_ENROL_TIMEOUT:
    case KM_ENROL_SERVICE:
        return "; retry later";
    case KM_ENROL_TLS:
        return "; check mtls.enrol.url and mtls.enrol.ca.location (nothing was sent)";
    default:
        return "";
    }
}

/* One exchange: the service, and its bound. */
typedef struct budget {
    km_enrol_service svc;
    int cut;                       /* the bound is what is left of rq->deadline_ms */
} budget;

static int service_failed(const km_svc_request *rq, const budget *b, km_enrol_reason r, const char *err,
                          km_status *st)
{
    if (r == KM_ENROL_TIMEOUT && b->cut)
        return km_fail(st, reason_of(r), "%s (what was left of %s)%s", err,
                       rq->deadline_by != NULL ? rq->deadline_by : "the caller's bound", advice(r));
    return km_fail(st, reason_of(r), "%s%s", err, advice(r));
}

/* The service for the next exchange, bounded by timeout_ms and by what is
 * left of the deadline; 0 with st set (nothing sent) when nothing is. */
static int budget_of(const km_svc_request *rq, const char *call, budget *b, km_status *st)
{
    long ms = rq->timeout_ms > 0 ? rq->timeout_ms : KM_ENROL_DEFAULT_TIMEOUT_MS;

    b->cut = 0;
    if (rq->deadline_ms > 0) {
        double left = rq->deadline_ms - km_now_ms();

        if (left < 1)
            return km_fail(st, KAFKA_MTLS_R_CA_REFUSED, "%s %s: no time left within %s (nothing was sent); "
                           "retry later", call, rq->url,
                           rq->deadline_by != NULL ? rq->deadline_by : "the caller's bound");
        if (left < (double)ms) {
            ms = (long)left;
            b->cut = 1;
        }
    }
    /* one root file verifies the service and the chain it issues
     * (chain_ca_file NULL: ca_file's, loaded once) */
    b->svc = (km_enrol_service){ .url = rq->url, .ca_file = rq->root, .chain_ca_file = NULL, .timeout_ms = ms };
    return 1;
}

/* sign: the token's CSR (CN: the configured subject's, else the token's). */
static int sign(const km_svc_request *rq, const km_svc_exchange *ex, STACK_OF(X509) **chain,
                km_svc_result *res, km_status *st)
{
    budget b;
    km_secret token = { 0 };
    km_status read = { 0 };
    X509_REQ *csr = NULL;
    char sub[128], cn[128], err[1024];
    km_enrol_reason r;
    double t0;
    int ok = 0;

    if (rq->token_file == NULL)
        return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "%s, and there is no token (mtls.enrol.token.file, "
                       "--token-file) to enrol with", ex->why != NULL ? ex->why : "a new enrolment is needed");
    if (!km_read_password_at(AT_FDCWD, rq->token_file, rq->token_file, KAFKA_MTLS_R_PASSWORD_FILE, 0, &token,
                             &read))
        return km_fail(st, read.reason, "token file: %s", read.msg);
    b.cut = 0;
    if ((r = km_enrol_token_subject(token.data, sub, sizeof(sub), err, sizeof(err))) != KM_ENROL_OK) {
        service_failed(rq, &b, r, err, st);
        goto done;
    }
    if (!km_svc_csr_cn(rq, ex->alias, sub, NULL, cn, sizeof(cn), st))
        goto done;
    if ((r = km_enrol_csr_new(ex->key, cn, &csr, err, sizeof(err))) != KM_ENROL_OK) {
        service_failed(rq, &b, r, err, st);
        goto done;
    }
    if (!budget_of(rq, "sign", &b, st))
        goto done;
    t0 = km_now_ms();
    r = km_enrol_sign(&b.svc, csr, token.data, rq->not_after, chain, err, sizeof(err));
    res->service_ms += km_now_ms() - t0;
    if (r != KM_ENROL_OK) {
        service_failed(rq, &b, r, err, st);
        goto done;
    }
    res->call = "sign";
    ok = 1;
done:
    km_secret_clear(&token);
    X509_REQ_free(csr);
    return ok;
}

/* rekey: mutual TLS with the current certificate; sign when the service
 * says it cannot renew itself and a token is there. */
static int rekey(const km_svc_request *rq, const km_svc_exchange *ex, STACK_OF(X509) **chain,
                 km_svc_result *res, km_status *st)
{
    budget b = { .cut = 0 };
    const km_svc_current *cur = ex->current;
    X509_REQ *csr = NULL;
    char cn[128], err[1024];
    km_enrol_reason r;
    double t0;

    if (!km_svc_csr_cn(rq, ex->alias, NULL, cur->leaf, cn, sizeof(cn), st))
        return 0;
    if ((r = km_enrol_csr_new(ex->key, cn, &csr, err, sizeof(err))) != KM_ENROL_OK)
        return service_failed(rq, &b, r, err, st);
    if (!budget_of(rq, "rekey", &b, st)) {
        X509_REQ_free(csr);
        return 0;
    }
    t0 = km_now_ms();
    r = km_enrol_rekey(&b.svc, csr, cur->leaf, cur->key, cur->chain, chain, err, sizeof(err));
    res->service_ms += km_now_ms() - t0;
    X509_REQ_free(csr);
    if (r == KM_ENROL_OK) {
        res->call = "rekey";
        return 1;
    }
    if ((r == KM_ENROL_CERT_REFUSED || r == KM_ENROL_UNAUTHORIZED) && rq->token_file != NULL) {
        snprintf(res->note, sizeof(res->note), "the renewal was refused (%s): enrolled again with the token",
                 err);
        return sign(rq, ex, chain, res, st);
    }
    return service_failed(rq, &b, r, err, st);
}

int km_svc_obtain(const km_svc_request *rq, const km_svc_exchange *ex, STACK_OF(X509) **chain,
                  km_svc_result *res, km_status *st)
{
    *chain = NULL;
    return ex->call == KM_SVC_REKEY ? rekey(rq, ex, chain, res, st) : sign(rq, ex, chain, res, st);
}
