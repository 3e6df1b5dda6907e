/* The checks that make an issued chain usable: it certifies our key, for
 * clientAuth, for the identity asked for, and it verifies to the roots. */
#ifndef KME_CHECKS_H
#define KME_CHECKS_H

#include <stddef.h>
#include <openssl/x509.h>
#include "kmtls/enrol.h"

typedef struct kme_expect {
    EVP_PKEY *key;             /* the leaf must certify this public key */
    const char *common_name;   /* the leaf's only CN (sign); NULL: not checked */
    X509 *same_identity;       /* rekey/renew: the leaf keeps this certificate's
                                * subject (DER) and SANs; NULL: not checked */
    X509_STORE *roots;         /* the chain must verify to one of these */
    const char *roots_file;    /* for messages */
} kme_expect;

/* chain: leaf first, as kme_response_chain returns it (already linked).
 * Checked: the leaf's public key is e->key; it has extendedKeyUsage with
 * clientAuth and is not a CA; no certificate in the chain has expired;
 * the identity (above); the chain verifies to e->roots for the TLS client
 * purpose, without the time check (a few minutes of clock skew between us
 * and the service must not refuse a certificate issued just now; expiry
 * is checked above). KM_ENROL_BAD_RESPONSE with the check in err[n]. */
km_enrol_reason kme_check_chain(STACK_OF(X509) *chain, const kme_expect *e,
                                char *err, size_t n);

#endif
