/*
 * Reading a keystore: URI exactly as clients do: through the kafka-mtls
 * provider's OSSL_STORE, in a library context where it is loaded.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#include "issue_internal.h"
#include "kafka-mtls.h"

static void append(char *uri, size_t n, const char *s, int encode)
{
    size_t o = strlen(uri);

    for (; *s != '\0' && o + 4 < n; s++) {
        if (encode && (*s == '%' || *s == '?' || *s == '&' || *s == '#' || *s == '='))
            o += (size_t)snprintf(uri + o, n - o, "%%%02X", (unsigned char)*s);
        else
            uri[o++] = *s;
    }
    uri[o] = '\0';
}

static void param(char *uri, size_t n, const char *name, const char *value)
{
    if (value == NULL)
        return;
    append(uri, n, strchr(uri, '?') != NULL ? "&" : "?", 0);
    append(uri, n, name, 0);
    append(uri, n, "=", 0);
    append(uri, n, value, 1);
}

void km_store_uri(char *uri, size_t n, const char *path, const char *part, const char *alias,
                  const char *password_file)
{
    snprintf(uri, n, "%s:", KAFKA_MTLS_URI_SCHEME);
    append(uri, n, path, 1);
    param(uri, n, KAFKA_MTLS_URI_PART, part);
    param(uri, n, KAFKA_MTLS_URI_ALIAS, alias);
    param(uri, n, KAFKA_MTLS_URI_PASSWORD_FILE, password_file);
}

/* The provider's message (the text of the last error) and its reason. */
static int last_error(char *msg, size_t n)
{
    const char *data = NULL;
    int flags = 0;
    unsigned long e, last = 0;

    msg[0] = '\0';
    while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        last = e;
        if ((flags & ERR_TXT_STRING) && data != NULL && data[0] != '\0')
            snprintf(msg, n, "%s", data);
        else
            ERR_error_string_n(e, msg, n);
    }
    if (msg[0] == '\0')
        snprintf(msg, n, "cannot read it");
    return last != 0 ? ERR_GET_REASON(last) : KAFKA_MTLS_R_INTERNAL;
}

void km_loaded_clear(km_loaded *l)
{
    EVP_PKEY_free(l->key);
    sk_X509_pop_free(l->certs, X509_free);
    memset(l, 0, sizeof(*l));
}

int km_store_load(OSSL_LIB_CTX *libctx, const char *uri, int expect, km_loaded *out, char *msg, size_t n)
{
    return km_store_load_ex(libctx, uri, expect, NULL, out, msg, n);
}

int km_store_load_ex(OSSL_LIB_CTX *libctx, const char *uri, int expect, const OSSL_PARAM *params,
                     km_loaded *out, char *msg, size_t n)
{
    OSSL_STORE_CTX *ctx = NULL;
    int ok = 1;

    memset(out, 0, sizeof(*out));
    ERR_clear_error();
    if ((out->certs = sk_X509_new_null()) == NULL ||
        (ctx = OSSL_STORE_open_ex(uri, libctx, NULL, NULL, NULL, params, NULL, NULL)) == NULL ||
        (expect != 0 && !OSSL_STORE_expect(ctx, expect)))
        ok = 0;
    while (ok && !OSSL_STORE_eof(ctx)) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(ctx);
        X509 *x = NULL;

        if (info == NULL) {
            /* A store with nothing to yield ends with the error flag set
             * but no error queued (libcrypto 3.0); a failure queues one. */
            ok = !OSSL_STORE_error(ctx) || (OSSL_STORE_eof(ctx) && ERR_peek_error() == 0);
            break;
        }
        if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY && out->key == NULL) {
            ok = (out->key = OSSL_STORE_INFO_get1_PKEY(info)) != NULL;
        } else if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_CERT) {
            ok = (x = OSSL_STORE_INFO_get1_CERT(info)) != NULL && sk_X509_push(out->certs, x);
            if (!ok)
                X509_free(x);
        }
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(ctx);
    if (!ok) {
        int reason = last_error(msg, n);

        km_loaded_clear(out);
        out->reason = reason;
    }
    ERR_clear_error();
    return ok;
}
