/* What one load of a keystore: URI is asked for, and what it yields. */
#ifndef KMTLS_MATERIAL_H
#define KMTLS_MATERIAL_H

#include <stddef.h>
#include <openssl/core.h>
#include <openssl/x509.h>

#include "kmtls/provider.h"
#include "kmtls/secret.h"
#include "keystore.h"
#include "kmtls/status.h"
#include "uri.h"

typedef struct km_request {
    OSSL_LIB_CTX *libctx;
    const km_uri *uri;
    const km_secret *password;      /* explicit store password, or NULL */
    const km_secret *key_password;  /* explicit key password (JKS/JCEKS), or NULL */
    const char *conf_password_file; /* provider configuration default, or NULL */
    OSSL_PASSPHRASE_CALLBACK *pw_cb;
    void *pw_cbarg;
    int want_key, want_chain, want_trusted;
    int key_required;               /* no key in the store is an error */
    const X509_NAME *subject;       /* only trusted certificates with this subject */
    const int *pinned_fd;           /* the volume directory held open for this read
                                     * (pinning.c), or NULL */
} km_request;

typedef struct km_material {
    const char *layout;
    unsigned char *key_der;         /* PrivateKeyInfo DER, or NULL */
    size_t key_len;
    char key_type[32];              /* "RSA", "EC", "ED25519", ...: the key manager
                                     * OSSL_STORE imports the key into */
    EVP_PKEY *pkey;                 /* key_der decoded (for the check against its
                                     * certificate), handed out by reference */
    km_ders chain;                  /* leaf first, as read; none when not wanted */
    km_ders trusted;                /* as read (keystore.h); none when not wanted */
} km_material;

/*
 * Reads what rq asks for, afresh (a refreshed volume is seen by the next
 * load), and checks it before anything is handed out: a failure never
 * yields half the material, save one: a certificate that has a
 * certificate's outer shape but does not decode fails where OSSL_STORE
 * decodes it, after what came before it (store.c; the plugin's load loop
 * then drops it all). A volume is read whole from one side of a swap
 * (pinning.c). 1, or 0 with st set.
 */
int km_material_load(const km_request *rq, km_material *out, km_status *st);

/* The directory (or ..data target) the last read on this thread held
 * open, zero when it held none; km_pinned_forget() zeroes it. */
km_volume_id km_pinned_last(void);
void km_pinned_forget(void);
void km_material_clear(km_material *m);

#endif
