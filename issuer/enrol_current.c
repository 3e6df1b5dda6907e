/*
 * What the volume holds before an enrolment: its key and chain, read
 * exactly as clients read them (keystore:VOLUME?alias=ALIAS&part=keystore
 * through the provider), and whether they are ours. With a CA service
 * "ours" means the chain verifies to the configured root: the service
 * issues from intermediates of its own, which the configuration does not
 * name, and the root is the one thing a client is told to trust.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "enrol_internal.h"
#include "kmtls/provider.h"
#include "kmtls/x509.h"

int km_svc_anchor(OSSL_LIB_CTX *libctx, STACK_OF(X509) *roots, X509 *leaf, STACK_OF(X509) *chain,
                  X509 **anchor)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new_ex(libctx, NULL);
    STACK_OF(X509) *built;
    int ok = 0;

    *anchor = NULL;
    ERR_set_mark();
    if (store == NULL || ctx == NULL)
        goto done;
    for (int i = 0; i < sk_X509_num(roots); i++)
        if (!X509_STORE_add_cert(store, sk_X509_value(roots, i)))
            goto done;
    /* expiry is the caller's question; the purpose is a TLS client's */
    X509_STORE_set_flags(store, X509_V_FLAG_NO_CHECK_TIME);
    if (!X509_STORE_CTX_init(ctx, store, leaf, chain) ||
        !X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) || X509_verify_cert(ctx) != 1)
        goto done;
    built = X509_STORE_CTX_get0_chain(ctx);
    /* the anchor as the caller holds it, not the context's copy */
    for (int i = 0; i < sk_X509_num(roots) && *anchor == NULL; i++)
        if (X509_cmp(sk_X509_value(roots, i), sk_X509_value(built, sk_X509_num(built) - 1)) == 0)
            *anchor = sk_X509_value(roots, i);
    ok = *anchor != NULL;
done:
    ERR_pop_to_mark();
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok;
}

void km_svc_current_read(const km_svc_request *rq, const char *alias, STACK_OF(X509) *roots, time_t now,
                         km_svc_current *cur)
{
    kmtls_loaded ks = { 0 };
    char uri[8192], serial[64];
    X509 *anchor;

    memset(cur, 0, sizeof(*cur));
    kmtls_store_uri(uri, sizeof(uri), rq->volume, "keystore", alias, NULL);
    if (!kmtls_store_load(rq->libctx, &(kmtls_query){ .uri = uri }, &ks)) {
        snprintf(cur->why, sizeof(cur->why), "%s", ks.msg);
        goto done;
    }
    if (ks.key == NULL || sk_X509_num(ks.certs) < 1) {
        snprintf(cur->why, sizeof(cur->why), "the keystore has no %s",
                 ks.key == NULL ? "private key" : "certificate");
        goto done;
    }
    cur->key = ks.key;
    ks.key = NULL;
    cur->leaf = sk_X509_shift(ks.certs);
    cur->chain = ks.certs;
    ks.certs = NULL;
    cur->expired = km_cert_validity(cur->leaf, now) != KM_VALID_NOW;
    cur->ours = km_svc_anchor(rq->libctx, roots, cur->leaf, cur->chain, &anchor);
    km_serial_hex(cur->leaf, serial, sizeof(serial));
    snprintf(cur->why, sizeof(cur->why), "the certificate (serial %s) %s", serial,
             !cur->ours ? "does not chain to the CA service's root"
                        : cur->expired ? "is expired or not valid yet" : "chains to the CA service's root");
done:
    kmtls_loaded_clear(&ks);
}

void km_svc_current_clear(km_svc_current *cur)
{
    EVP_PKEY_free(cur->key);
    X509_free(cur->leaf);
    sk_X509_pop_free(cur->chain, X509_free);
    memset(cur, 0, sizeof(*cur));
}
