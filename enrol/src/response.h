/* A success response's body turned into certificates, with the checks that
 * need nothing but the body. Factored out of the exchange so that it can
 * be fuzzed without a network (tests/fuzz/fuzz_enrol_response.c). */
#ifndef KME_RESPONSE_H
#define KME_RESPONSE_H

#include <stddef.h>
#include <openssl/x509.h>
#include "kmtls/enrol.h"

/* body[len] (body[len] must be '\0') -> *chain = certChain as X509s, leaf
 * first. Checked: the JSON (message.c); each string is exactly one PEM
 * CERTIFICATE block (no headers, nothing but whitespace around it) of
 * exactly one DER certificate; certChain[0] is crt; ca, when present, is
 * certChain[1]; each certChain[i] is issued by certChain[i + 1] (names,
 * key identifiers, the issuer is a CA, and the signature verifies).
 * KM_ENROL_BAD_RESPONSE names the field and the check in err[n] (without
 * the URL); *chain is then NULL. Leaves libcrypto's error queue empty. */
km_enrol_reason kme_response_chain(const char *body, size_t len, STACK_OF(X509) **chain,
                                   char *err, size_t n);

#endif
