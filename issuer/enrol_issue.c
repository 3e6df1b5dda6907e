/*
 * km_svc_issue: a certificate from the CA service, written into the volume
 * exactly as a local CA's (km_issue_store). The order: what the volume
 * holds and whether it is ours (enrol_current.c), which call (enrol_plan.c),
 * a new key made here, the exchange (enrol_sign.c), the identity the
 * configuration asks for (enrol_identity.c), then the write, with the
 * configured root as the trust anchor.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <openssl/x509.h>

#include "enrol_internal.h"
#include "kafka-mtls.h"
#include "kmtls/clock.h"
#include "kmtls/seed.h"
#include "kmtls/x509.h"

int km_svc_available(void)
{
    return km_svc_built();
}

int km_svc_not_after_check(const char *value, km_status *st)
{
    double secs = 0;

    if (!km_svc_built())
        return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "this kafka-mtls was built without enrolment "
                       "(libcurl and json-c were not found)");
    if (value == NULL || !km_svc_duration(value, &secs) || secs < 1 ||
        secs > (double)KM_MAX_VALIDITY_DAYS * 86400)
        return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST,
                       "lifetime '%s': expected a duration such as 24h, 90m or 1h30m (units h, m, s), "
                       "at least 1s", value != NULL ? value : "");
    return 1;
}

int km_svc_url_check(const char *url, km_status *st)
{
    if (!km_svc_built())
        return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "this kafka-mtls was built without enrolment "
                       "(libcurl and json-c were not found)");
    if (url == NULL || strncasecmp(url, "https://", 8) != 0 || url[8] == '\0' || url[8] == '/')
        return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST,
                       "CA service URL '%s': expected https://host[:port][/prefix] (the token and the "
                       "certificate request are never sent in the clear)", url != NULL ? url : "");
    return 1;
}

int km_svc_token_file_check(const char *path, km_status *st)
{
    struct stat sb;

    if (path == NULL || path[0] != '/')
        return km_fail(st, KAFKA_MTLS_R_RELATIVE_PATH, "token file '%s': not an absolute path",
                       path != NULL ? path : "");
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return km_fail(st, KAFKA_MTLS_R_READ_FAILED, "token file %s: not a regular file", path);
    return 1;
}

/* The request's fields, all but the root file's content. */
static int check_fields(const km_svc_request *rq, km_status *st)
{
    char alias[KM_MAX_ALIAS + 1];

    if (!km_svc_built())
        return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "this kafka-mtls was built without enrolment "
                       "(libcurl and json-c were not found)");
    if (rq->volume == NULL || rq->volume[0] != '/')
        return km_fail(st, KAFKA_MTLS_R_RELATIVE_PATH, "volume %s: not an absolute path",
                       rq->volume ? rq->volume : "(none)");
    if (!km_svc_url_check(rq->url, st) ||
        (rq->token_file != NULL && !km_svc_token_file_check(rq->token_file, st)))
        return 0;
    if (rq->root == NULL)
        return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "the CA service needs its root certificate "
                       "(mtls.enrol.ca.location, --enrol-ca)");
    if (rq->timeout_ms < 0 || rq->timeout_ms > 600000)
        return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "timeout %ld ms: expected 1 to 600000", rq->timeout_ms);
    return (rq->key_type == NULL || km_key_type_check(rq->key_type, st)) &&
           (rq->subject == NULL || km_subject_check(rq->subject, st)) &&
           (rq->san == NULL || km_san_check(rq->san, st)) &&
           (rq->not_after == NULL || km_svc_not_after_check(rq->not_after, st)) &&
           km_alias_resolve(rq->volume, rq->alias, alias, sizeof(alias), st);
}

int km_svc_request_check(const km_svc_request *rq, km_status *st)
{
    STACK_OF(X509) *roots;

    if (!check_fields(rq, st) || (roots = km_read_certs_pem(rq->libctx, rq->root, "CA service root", st)) == NULL)
        return 0;
    sk_X509_pop_free(roots, X509_free);
    return 1;
}

/* The stores' CA side: the first intermediate issues, the rest and the
 * configured root follow it, the root is the anchor (km_ca's shape, with
 * no key: the service keeps it). */
static int ca_of(STACK_OF(X509) *issued, X509 *anchor, km_ca *ca, km_status *st)
{
    memset(ca, 0, sizeof(*ca));
    if ((ca->chain = sk_X509_new_null()) == NULL)
        goto oom;
    for (int i = 1; i < sk_X509_num(issued); i++) {
        X509 *x = sk_X509_value(issued, i);

        if (X509_cmp(x, anchor) == 0)
            continue; /* a service that sends the root too: it is ours to place */
        if (ca->cert == NULL) {
            if (!X509_up_ref(x))
                goto oom;
            ca->cert = x;
        } else if (!X509_up_ref(x)) {
            goto oom;
        } else if (!sk_X509_push(ca->chain, x)) {
            X509_free(x);
            goto oom;
        }
    }
    if (!X509_up_ref(anchor))
        goto oom;
    if (ca->cert == NULL) {
        ca->cert = anchor; /* issued by the root itself */
        ca->anchor = anchor;
        return 1;
    }
    if (!sk_X509_push(ca->chain, anchor)) {
        X509_free(anchor);
        goto oom;
    }
    ca->anchor = anchor;
    return 1;
oom:
    km_ca_clear(ca);
    return km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
}

/* A token file others can read lets them enrol as this client. */
static void token_file_warning(const char *path, km_issue_result *res)
{
    struct stat sb;

    if (path != NULL && stat(path, &sb) == 0 && (sb.st_mode & 077) != 0)
        snprintf(res->warning, sizeof(res->warning),
                 "token file %s is readable by group or others (mode %03o); chmod 600 it", path,
                 (unsigned)(sb.st_mode & 0777));
}

static void facts_of(const km_svc_request *rq, const char *alias, const km_key_spec *ks, const km_svc_current *cur,
                     km_svc_facts *f)
{
    double asked = 0;
    time_t nb = 0, na = 0;
    char why[256];

    memset(f, 0, sizeof(*f));
    f->have_current = cur->key != NULL && cur->ours;
    if (!f->have_current)
        return;
    f->expired = cur->expired;
    f->same_key_type = km_svc_same_key_type(cur->key, ks);
    if (rq->not_after != NULL)
        km_svc_duration(rq->not_after, &asked);
    f->same_lifetime = km_time_of(X509_get0_notBefore(cur->leaf), &nb) &&
                       km_time_of(X509_get0_notAfter(cur->leaf), &na) && km_svc_same_lifetime(nb, na, asked);
    f->same_identity = km_svc_identity_matches(rq, alias, cur->leaf, why, sizeof(why));
}

int km_svc_issue(const km_svc_request *rq, km_svc_result *res, km_status *st)
{
    char alias[KM_MAX_ALIAS + 1], why[256], mismatch[700], key_err[256];
    km_svc_current cur = { 0 };
    km_svc_facts facts;
    km_key_spec ks;
    km_ca ca = { 0 };
    STACK_OF(X509) *roots = NULL, *issued = NULL;
    EVP_PKEY *key = NULL;
    X509 *anchor = NULL;
    km_issue_request store = { 0 };
    double t0;
    int ok = 0;

    memset(res, 0, sizeof(*res));
    if (!check_fields(rq, st) || !km_alias_resolve(rq->volume, rq->alias, alias, sizeof(alias), st))
        return 0;
    if (!km_key_spec_parse(rq->key_type, &ks, key_err, sizeof(key_err)))
        return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "%s", key_err);
    if ((roots = km_read_certs_pem(rq->libctx, rq->root, "CA service root", st)) == NULL)
        return 0;
    km_svc_current_read(rq, alias, roots, time(NULL), &cur);
    if (cur.key != NULL && !cur.ours && !rq->take_over_other_ca) {
        res->left_alone = 1;
        snprintf(res->note, sizeof(res->note), "%s: left alone (not this CA service's)", cur.why);
        ok = 1;
        goto done;
    }
    facts_of(rq, alias, &ks, &cur, &facts);
    {
        km_svc_exchange ex = { .call = km_svc_plan(&facts, why, sizeof(why)), .current = &cur, .alias = alias };

        t0 = km_now_ms();
        key = km_key_generate(rq->libctx, &ks, st);
        res->issued.keygen_ms = km_now_ms() - t0;
        if (key == NULL)
            goto done;
        ex.key = key;
        ex.why = why;
        if (!km_svc_obtain(rq, &ex, &issued, res, st))
            goto done;
    }
    if (!km_svc_identity_matches(rq, alias, sk_X509_value(issued, 0), mismatch, sizeof(mismatch))) {
        km_fail(st, KAFKA_MTLS_R_CA_REFUSED, "%s %s: %s; nothing was written", res->call, rq->url, mismatch);
        goto done;
    }
    /* enrol/ verified the chain to root already; this finds which root */
    if (!km_svc_anchor(rq->libctx, roots, sk_X509_value(issued, 0), issued, &anchor)) {
        km_fail(st, KAFKA_MTLS_R_CA_REFUSED, "%s %s: the issued chain does not verify to %s; nothing was written",
                res->call, rq->url, rq->root);
        goto done;
    }
    if (!ca_of(issued, anchor, &ca, st))
        goto done;
    store.libctx = rq->libctx;
    store.volume = rq->volume;
    store.alias = alias;
    store.store_password = rq->store_password;
    {
        double keygen_ms = res->issued.keygen_ms;

        if (!km_issue_store(&store, key, sk_X509_value(issued, 0), &ca, 0, &res->issued, st))
            goto done;
        res->issued.keygen_ms = keygen_ms;
    }
    if (res->call != NULL && strcmp(res->call, "sign") == 0)
        token_file_warning(rq->token_file, &res->issued);
    /* the service chose the lifetime: a window as long would renew it forever */
    res->in_window = rq->rb != NULL &&
                     km_renewal_state(sk_X509_value(issued, 0), rq->rb, time(NULL), NULL) != KM_CERT_FRESH;
    if (res->note[0] == '\0')
        snprintf(res->note, sizeof(res->note), "%s", why);
    ok = 1;
done:
    km_ca_clear(&ca);
    sk_X509_pop_free(issued, X509_free);
    sk_X509_pop_free(roots, X509_free);
    EVP_PKEY_free(key);
    km_svc_current_clear(&cur);
    return ok;
}
