/* Whether a private key belongs to a certificate kept as read (key_match.c). */
#ifndef KMTLS_KEY_MATCH_H
#define KMTLS_KEY_MATCH_H

#include <openssl/types.h>

#include "keystore.h"

/* 1 when pkey is cert's key, 0 when it is not (libcrypto's error queued),
 * -1 when cert does not decode. *decoded is the certificate when it had to
 * be decoded (the caller frees it), else NULL. */
int km_key_matches_cert(OSSL_LIB_CTX *libctx, const km_der *cert, EVP_PKEY *pkey, X509 **decoded);

#endif
