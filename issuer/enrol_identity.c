/*
 * Names on the CA-service path. The token decides what a client may get;
 * mtls.subject / mtls.san say what it asks for. The CSR carries only a CN
 * (step-ca's template takes the SANs from the token and O, C from its own
 * data), and whatever is configured is compared with what came back
 * before anything is written: a service that issued another identity than
 * the one configured is never trusted with the volume.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "enrol_internal.h"
#include "kafka-mtls.h"
#include "kmtls/x509.h"

int km_svc_csr_cn(const km_svc_request *rq, const char *alias, const char *token_subject, const X509 *current,
                  char *cn, size_t n, km_status *st)
{
    if (rq->subject != NULL) {
        X509_NAME *name = km_subject_build(rq->subject, alias, st);
        int ok = name != NULL && km_name_only_cn(name, cn, n);

        X509_NAME_free(name);
        return ok || (st->reason != 0 ? 0
                                      : km_fail(st, KAFKA_MTLS_R_BAD_REQUEST,
                                                "subject '%s': the CA service needs exactly one CN (the "
                                                "token's subject)", rq->subject));
    }
    if (token_subject != NULL) {
        snprintf(cn, n, "%s", token_subject);
        return 1;
    }
    if (current != NULL && km_name_only_cn(X509_get_subject_name(current), cn, n))
        return 1;
    /* rekey ignores the CSR's name: any CN will do */
    snprintf(cn, n, "%s", alias);
    return 1;
}

/* Every name of a is in b. */
static int names_within(const GENERAL_NAMES *a, const GENERAL_NAMES *b)
{
    for (int i = 0; i < sk_GENERAL_NAME_num(a); i++) {
        int found = 0;

        for (int j = 0; j < sk_GENERAL_NAME_num(b) && !found; j++)
            found = GENERAL_NAME_cmp(sk_GENERAL_NAME_value(a, i), sk_GENERAL_NAME_value(b, j)) == 0;
        if (!found)
            return 0;
    }
    return 1;
}

int km_svc_identity_matches(const km_svc_request *rq, const char *alias, const X509 *leaf, char *why, size_t n)
{
    km_status st = { 0 };
    char want[512], got[512];
    int ok = 1;

    if (rq->subject != NULL) {
        X509_NAME *name = km_subject_build(rq->subject, alias, &st);

        /* the DER order matters too: the broker's principal string follows it */
        if (name == NULL || X509_NAME_cmp(name, X509_get_subject_name(leaf)) != 0) {
            km_name_text(X509_get_subject_name(leaf), got, sizeof(got));
            if (name != NULL)
                km_name_text(name, want, sizeof(want));
            snprintf(why, n, "the service issued the subject '%s', not the configured '%s'", got,
                     name != NULL ? want : rq->subject);
            ok = 0;
        }
        X509_NAME_free(name);
    }
    if (ok && rq->san != NULL) {
        GENERAL_NAMES *want_san = km_san_build(rq->san, alias, &st);
        GENERAL_NAMES *got_san = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
        GENERAL_NAMES *none = sk_GENERAL_NAME_new_null();

        if (want_san == NULL || none == NULL ||
            !names_within(want_san, got_san != NULL ? got_san : none) ||
            !names_within(got_san != NULL ? got_san : none, want_san)) {
            snprintf(why, n, "the service issued other subjectAltNames than the configured '%s'", rq->san);
            ok = 0;
        }
        GENERAL_NAMES_free(want_san);
        GENERAL_NAMES_free(got_san);
        sk_GENERAL_NAME_free(none);
    }
    return ok;
}
