/* The SSL_CTX of a live-rotation client, built from the plugin's material
 * and the client's ssl.* settings. */
#ifndef KMTLS_TLS_CONTEXT_H
#define KMTLS_TLS_CONTEXT_H

#include <stddef.h>
#include <openssl/ssl.h>

#include "pem_bundle.h"
#include "tls_options.h"

/*
 * A client SSL_CTX, as librdkafka would build it from its ssl.* settings,
 * presenting b's key and chain (from b's decoded objects: nothing is
 * decoded again) and trusting b's CAs, or else ssl.ca.location / ssl.ca.pem
 * / "probe" / OpenSSL's default paths. o must outlive the SSL_CTX (its
 * verify callback reads o). NULL with err naming the property and the cause:
 * a cipher list, curve or sigalg OpenSSL refuses, unreadable CAs or CRLs,
 * or a key that does not match the certificate.
 */
SSL_CTX *km_tls_context_new(const km_tls_options *o, const km_pem_bundle *b, char *err, size_t n);

#endif
