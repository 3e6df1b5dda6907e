/*
 * Reading a keystore: URI exactly as clients do: through OSSL_STORE in a
 * library context where the provider is loaded. The one load loop of the
 * command, the plugin and the tests.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#include "kafka-mtls.h"
#include "kmtls/provider.h"
#include "material.h"

/* The provider's error is the last one raised: its code, its text and
 * where it was raised. */
static void take_error(kmtls_loaded *out)
{
    const char *data = NULL, *file = NULL, *func = NULL;
    int flags = 0, line = 0;
    unsigned long e;

    out->msg[0] = '\0';
    while ((e = ERR_get_error_all(&file, &line, &func, &data, &flags)) != 0) {
        const char *base = file != NULL ? strrchr(file, '/') : NULL;

        out->error = e;
        if ((flags & ERR_TXT_STRING) && data != NULL && data[0] != '\0')
            snprintf(out->msg, sizeof(out->msg), "%s", data);
        else
            ERR_error_string_n(e, out->msg, sizeof(out->msg));
        snprintf(out->origin, sizeof(out->origin), "%s:%d %s", base != NULL ? base + 1 : file ? file : "?", line,
                 func != NULL ? func : "?");
    }
    if (out->msg[0] == '\0')
        snprintf(out->msg, sizeof(out->msg), "cannot read it");
    out->reason = out->error != 0 ? ERR_GET_REASON(out->error) : KAFKA_MTLS_R_INTERNAL;
}

static int keep(OSSL_STORE_INFO *info, kmtls_loaded *out)
{
    X509 *x;

    switch (OSSL_STORE_INFO_get_type(info)) {
    case OSSL_STORE_INFO_PKEY:
        if (out->nkeys++ > 0)
            return 1; /* counted: a caller asking for one key has it */
        return (out->key = OSSL_STORE_INFO_get1_PKEY(info)) != NULL;
    case OSSL_STORE_INFO_CERT:
        if ((x = OSSL_STORE_INFO_get1_CERT(info)) != NULL && sk_X509_push(out->certs, x))
            return 1;
        X509_free(x);
        return 0;
    default:
        return 1;
    }
}

static int find(OSSL_STORE_CTX *ctx, const X509_NAME *subject)
{
    OSSL_STORE_SEARCH *s = OSSL_STORE_SEARCH_by_name((X509_NAME *)subject);
    int ok = s != NULL && OSSL_STORE_find(ctx, s);

    OSSL_STORE_SEARCH_free(s);
    return ok;
}

int kmtls_store_load(OSSL_LIB_CTX *libctx, const kmtls_query *q, kmtls_loaded *out)
{
    OSSL_STORE_CTX *ctx = NULL;
    int ok = 1;

    memset(out, 0, sizeof(*out));
    ERR_clear_error();
    km_pinned_forget();
    if ((out->certs = sk_X509_new_null()) == NULL ||
        (ctx = OSSL_STORE_open_ex(q->uri, libctx, NULL, NULL, NULL, q->params, NULL, NULL)) == NULL ||
        (q->expect != 0 && !OSSL_STORE_expect(ctx, q->expect)) || (q->subject != NULL && !find(ctx, q->subject)))
        ok = 0;
    while (ok && !OSSL_STORE_eof(ctx)) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(ctx);

        if (info == NULL) {
            /* A store with nothing to yield ends with the error flag set
             * but no error queued (libcrypto 3.0); a failure queues one. */
            ok = !OSSL_STORE_error(ctx) || (OSSL_STORE_eof(ctx) && ERR_peek_error() == 0);
            break;
        }
        ok = keep(info, out);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(ctx);
    if (!ok) {
        kmtls_loaded_clear(out);
        take_error(out);
    }
    out->volume = km_pinned_last();
    ERR_clear_error();
    return ok;
}

void kmtls_loaded_clear(kmtls_loaded *l)
{
    EVP_PKEY_free(l->key);
    sk_X509_pop_free(l->certs, X509_free);
    memset(l, 0, sizeof(*l));
}

const OSSL_PARAM *kmtls_password_params(OSSL_PARAM params[3], const char *password, const char *key_password)
{
    OSSL_PARAM *p = params;

    if (password != NULL)
        *p++ = OSSL_PARAM_construct_octet_string(KAFKA_MTLS_PARAM_PASSWORD, (void *)password, strlen(password));
    if (key_password != NULL)
        *p++ = OSSL_PARAM_construct_octet_string(KAFKA_MTLS_PARAM_KEY_PASSWORD, (void *)key_password,
                                                 strlen(key_password));
    *p = OSSL_PARAM_construct_end();
    return params;
}
