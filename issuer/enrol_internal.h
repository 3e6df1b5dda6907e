/* Internal interfaces of the issuer's CA-service path (enrol_*.c). */
#ifndef KMTLS_ENROL_INTERNAL_H
#define KMTLS_ENROL_INTERNAL_H

#include <stddef.h>
#include <time.h>
#include <openssl/types.h>
#include <openssl/x509.h>

#include "issue_internal.h"
#include "kmtls/issuer.h"

/* enrol_current.c: what the volume holds now, and whether it is ours. */
typedef struct km_svc_current {
    EVP_PKEY *key;                 /* NULL: no readable key and certificate */
    X509 *leaf;
    STACK_OF(X509) *chain;         /* the keystore's certificates after the leaf */
    int ours;                      /* the leaf chains to the configured root */
    int expired;                   /* expired or not yet valid */
    char why[400];                 /* what was found, for messages */
} km_svc_current;

/* Reads keystore:VOLUME?alias=ALIAS through the provider. A volume that
 * cannot be read is no current certificate (why says so), not a failure. */
void km_svc_current_read(const km_svc_request *rq, const char *alias, STACK_OF(X509) *roots, time_t now,
                         km_svc_current *cur);
void km_svc_current_clear(km_svc_current *cur);

/*
 * The chain leaf <- chain[0] <- ... as far as one of roots: *anchor = that
 * root (not up-referenced: it is roots'). The time is not checked (expiry
 * is the caller's question). 1 if it verifies, else 0.
 */
int km_svc_anchor(OSSL_LIB_CTX *libctx, STACK_OF(X509) *roots, X509 *leaf, STACK_OF(X509) *chain,
                  X509 **anchor);

/* enrol_plan.c: which call to make (pure; tests/unit/test_enrol_plan.c). */
typedef enum km_svc_call { KM_SVC_SIGN = 0, KM_SVC_REKEY } km_svc_call;

typedef struct km_svc_facts {
    int have_current;              /* a readable key + certificate that chains to root */
    int expired;
    int same_key_type;             /* the current key is of the key type asked for */
    int same_lifetime;             /* the current lifetime is the one asked for */
    int same_identity;             /* the configured subject/SANs are the current ones */
} km_svc_facts;

/* The first call, with why[n] saying why (for the result's note). */
km_svc_call km_svc_plan(const km_svc_facts *f, char *why, size_t n);
/* key is of spec's algorithm and size. */
int km_svc_same_key_type(EVP_PKEY *key, const km_key_spec *spec);
/* The current lifetime (notAfter - notBefore) is what was asked for
 * (asked_seconds <= 0: the service's default, which rekey keeps). */
int km_svc_same_lifetime(time_t not_before, time_t not_after, double asked_seconds);

/* enrol_identity.c: names. */
/* The CN the CSR carries: the configured subject's, else the token's
 * subject (token may be NULL: then the current certificate's CN). */
int km_svc_csr_cn(const km_svc_request *rq, const char *alias, const char *token_subject, const X509 *current,
                  char *cn, size_t n, km_status *st);
/* The configured subject and SANs (those set) are leaf's exactly: 1, or
 * 0 with why[n] naming the difference. */
int km_svc_identity_matches(const km_svc_request *rq, const char *alias, const X509 *leaf, char *why, size_t n);

/* enrol_sign.c (enrol_none.c without libcurl/json-c): the service. */
typedef struct km_svc_exchange {
    km_svc_call call;              /* what to ask first */
    const char *why;               /* why (km_svc_plan), for messages */
    EVP_PKEY *key;                 /* the new key */
    const km_svc_current *current; /* for rekey */
    const char *alias;
} km_svc_exchange;

/* Asks the service; on success *chain = leaf + intermediates (free with
 * sk_X509_pop_free(*chain, X509_free)) and res->call, res->note,
 * res->service_ms set. 0 with st set. */
int km_svc_obtain(const km_svc_request *rq, const km_svc_exchange *ex, STACK_OF(X509) **chain,
                  km_svc_result *res, km_status *st);
/* km_enrol_duration, or 0 when enrolment is not built. */
int km_svc_duration(const char *s, double *seconds);
int km_svc_built(void);

#endif
