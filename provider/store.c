/*
 * OSSL_STORE for keystore: URIs. open() only parses the URI; the first
 * load() reads and checks everything that the caller's `expect`, subject
 * search and ?part= ask for, then each load() hands out one object: the
 * private key, the leaf certificate, the chain, the trusted certificates.
 *
 * The key goes by reference: checking it against its certificate decoded
 * it already, and OSSL_STORE imports a referenced key into the caller's
 * key manager through export_object() (its parameters, no decoding). By
 * value, as DER, OSSL_STORE would decode it again, and in OpenSSL 3.0 a
 * decode searches the decoders (0.1 ms a key on the 2-core machine even
 * typed, more on a context's first use). A certificate can only go as DER.
 */
#include <string.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#include "kafka-mtls.h"
#include "kmtls/trace.h"
#include "material.h"
#include "provctx.h"

typedef struct km_store_ctx {
    km_provctx *pc;
    char *uri_text;
    km_uri uri;
    int expect;                 /* OSSL_STORE_INFO_* or 0 */
    X509_NAME *subject;         /* subject search, or NULL */
    km_secret password, key_password;
    km_material material;
    int loaded, failed;
    int next;                   /* index of the next object to hand out */
} km_store_ctx;

static void *store_open(void *provctx, const char *uri)
{
    km_provctx *pc = provctx;
    km_store_ctx *ctx;
    km_status st = { 0 };

    /* Not ours: say nothing, another loader may take it. */
    if (!km_uri_has_scheme(uri))
        return NULL;
    km_trace("open %s", uri);
    if ((ctx = OPENSSL_zalloc(sizeof(*ctx))) == NULL ||
        (ctx->uri_text = OPENSSL_strdup(uri)) == NULL) {
        OPENSSL_free(ctx);
        km_fail(&st, KAFKA_MTLS_R_INTERNAL, "out of memory");
        km_raise(pc, &st);
        return NULL;
    }
    ctx->pc = pc;
    if (!km_uri_parse(uri, &ctx->uri, &st)) {
        km_raise(pc, &st);
        OPENSSL_free(ctx->uri_text);
        OPENSSL_free(ctx);
        return NULL;
    }
    return ctx;
}

static const OSSL_PARAM *store_settable_ctx_params(void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, NULL),
        OSSL_PARAM_octet_string(OSSL_STORE_PARAM_SUBJECT, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_STORE_PARAM_PROPERTIES, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_STORE_PARAM_INPUT_TYPE, NULL, 0),
        OSSL_PARAM_octet_string(KAFKA_MTLS_PARAM_PASSWORD, NULL, 0),
        OSSL_PARAM_octet_string(KAFKA_MTLS_PARAM_KEY_PASSWORD, NULL, 0),
        OSSL_PARAM_END
    };
    (void)provctx;
    return params;
}

static int set_secret(const OSSL_PARAM *p, km_secret *s)
{
    const void *data = NULL;
    size_t len = 0;

    if (p->data_type == OSSL_PARAM_UTF8_STRING) {
        data = p->data;
        len = p->data_size;
    } else if (!OSSL_PARAM_get_octet_string_ptr(p, &data, &len)) {
        return 0;
    }
    return km_secret_set(s, data, len);
}

static int store_set_ctx_params(void *loaderctx, const OSSL_PARAM params[])
{
    km_store_ctx *ctx = loaderctx;
    const OSSL_PARAM *p;

    if (params == NULL)
        return 1;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT)) != NULL &&
        !OSSL_PARAM_get_int(p, &ctx->expect))
        return 0;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_SUBJECT)) != NULL) {
        const unsigned char *der = NULL;
        size_t len = 0;

        if (!OSSL_PARAM_get_octet_string_ptr(p, (const void **)&der, &len))
            return 0;
        X509_NAME_free(ctx->subject);
        if ((ctx->subject = d2i_X509_NAME(NULL, &der, (long)len)) == NULL)
            return 0;
    }
    if ((p = OSSL_PARAM_locate_const(params, KAFKA_MTLS_PARAM_PASSWORD)) != NULL &&
        !set_secret(p, &ctx->password))
        return 0;
    if ((p = OSSL_PARAM_locate_const(params, KAFKA_MTLS_PARAM_KEY_PASSWORD)) != NULL &&
        !set_secret(p, &ctx->key_password))
        return 0;
    return 1; /* properties, input-type and unknown keys: nothing to do */
}

static void plan_request(km_store_ctx *ctx, km_request *rq)
{
    int any = ctx->expect == 0, part = ctx->uri.part;

    rq->libctx = ctx->pc->libctx;
    rq->uri = &ctx->uri;
    rq->password = &ctx->password;
    rq->key_password = &ctx->key_password;
    rq->conf_password_file = ctx->pc->conf_password_file;
    if (ctx->subject != NULL) {
        /* -CAstore lookups: certificates only, or the lookup stops early */
        rq->want_trusted = part != KM_PART_KEYSTORE;
        rq->subject = ctx->subject;
        return;
    }
    rq->want_key = (any || ctx->expect == OSSL_STORE_INFO_PKEY) && part != KM_PART_TRUSTSTORE;
    rq->key_required = ctx->expect == OSSL_STORE_INFO_PKEY;
    rq->want_chain = (any || ctx->expect == OSSL_STORE_INFO_CERT) && part != KM_PART_TRUSTSTORE;
    rq->want_trusted = (any || ctx->expect == OSSL_STORE_INFO_CERT) && part != KM_PART_KEYSTORE;
}

static int emit(OSSL_CALLBACK *cb, void *cbarg, int type, const char *data_type, const char *structure,
                const void *der, size_t len, const char *desc)
{
    OSSL_PARAM params[6], *p = params;

    *p++ = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type);
    if (data_type != NULL && data_type[0] != '\0')
        *p++ = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, (char *)data_type, 0);
    if (structure != NULL)
        *p++ = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_STRUCTURE, (char *)structure, 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA, (void *)der, len);
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DESC, (char *)desc, 0);
    *p = OSSL_PARAM_construct_end();
    return cb(params, cbarg);
}

/* What a key reference says: only this context's one key is handed out. */
static const char key_reference[] = "kafka-mtls: the private key";

static int emit_key(OSSL_CALLBACK *cb, void *cbarg, const km_material *m)
{
    OSSL_PARAM params[5], *p = params;
    int type = OSSL_OBJECT_PKEY;

    if (m->pkey == NULL) /* a loaded key is always checked, so decoded (assembly.c) */
        return 0;
    *p++ = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type);
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, (char *)m->key_type, 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, (void *)key_reference,
                                             sizeof(key_reference) - 1);
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DESC, "private key", 0);
    *p = OSSL_PARAM_construct_end();
    return cb(params, cbarg);
}

static int store_export_object(void *loaderctx, const void *ref, size_t ref_len, OSSL_CALLBACK *export_cb,
                               void *export_cbarg)
{
    km_store_ctx *ctx = loaderctx;

    if (ctx->material.pkey == NULL || ref_len != sizeof(key_reference) - 1 ||
        memcmp(ref, key_reference, ref_len) != 0)
        return 0;
    return EVP_PKEY_export(ctx->material.pkey, OSSL_KEYMGMT_SELECT_ALL, export_cb, export_cbarg);
}

/* A certificate goes out as read (keystore.h): OSSL_STORE's is its one
 * decode. When that fails, the callback has raised "unsupported"; the
 * reason raised after it, last, names what it was. */
static int emit_cert(km_store_ctx *ctx, OSSL_CALLBACK *cb, void *cbarg, const km_der *c, const char *desc, int n)
{
    km_status st = { 0 };

    if (emit(cb, cbarg, OSSL_OBJECT_CERT, NULL, NULL, c->der, c->len, desc))
        return 1;
    km_fail_crypto(&st, KAFKA_MTLS_R_CORRUPT, "%s: %s %d is not a valid certificate", ctx->uri.path, desc, n);
    km_raise(ctx->pc, &st);
    ctx->failed = 1;
    return 0;
}

static int object_count(const km_store_ctx *ctx)
{
    return (ctx->material.key_der != NULL) + (int)ctx->material.chain.n + (int)ctx->material.trusted.n;
}

static int store_load(void *loaderctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
                      OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    km_store_ctx *ctx = loaderctx;
    km_material *m = &ctx->material;
    int i;

    if (ctx->failed)
        return 0;
    if (!ctx->loaded) {
        km_request rq = { 0 };
        km_status st = { 0 };

        plan_request(ctx, &rq);
        rq.pw_cb = pw_cb;
        rq.pw_cbarg = pw_cbarg;
        ctx->loaded = 1;
        if (!km_material_load(&rq, m, &st)) {
            ctx->failed = 1;
            km_raise(ctx->pc, &st);
            return 0;
        }
        km_trace("%s: %s layout, key %s, %zu chain, %zu trusted", ctx->uri_text, m->layout,
                 m->key_der ? "yes" : "no", m->chain.n, m->trusted.n);
    }
    i = ctx->next++;
    if (m->key_der != NULL && i-- == 0)
        return emit_key(object_cb, object_cbarg, m);
    if (i >= 0 && (size_t)i < m->chain.n)
        return emit_cert(ctx, object_cb, object_cbarg, &m->chain.v[i], i == 0 ? "certificate" : "chain certificate",
                         i + 1);
    i -= (int)m->chain.n;
    if (i >= 0 && (size_t)i < m->trusted.n)
        return emit_cert(ctx, object_cb, object_cbarg, &m->trusted.v[i], "trusted certificate", i + 1);
    return 0;
}

static int store_eof(void *loaderctx)
{
    km_store_ctx *ctx = loaderctx;

    return ctx->failed || (ctx->loaded && ctx->next >= object_count(ctx));
}

static int store_close(void *loaderctx)
{
    km_store_ctx *ctx = loaderctx;

    if (ctx == NULL)
        return 1;
    km_material_clear(&ctx->material);
    km_secret_clear(&ctx->password);
    km_secret_clear(&ctx->key_password);
    X509_NAME_free(ctx->subject);
    km_uri_clear(&ctx->uri);
    OPENSSL_free(ctx->uri_text);
    OPENSSL_free(ctx);
    return 1;
}

const OSSL_DISPATCH km_store_functions[] = {
    { OSSL_FUNC_STORE_OPEN, (void (*)(void))store_open },
    { OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS, (void (*)(void))store_settable_ctx_params },
    { OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))store_set_ctx_params },
    { OSSL_FUNC_STORE_LOAD, (void (*)(void))store_load },
    { OSSL_FUNC_STORE_EXPORT_OBJECT, (void (*)(void))store_export_object },
    { OSSL_FUNC_STORE_EOF, (void (*)(void))store_eof },
    { OSSL_FUNC_STORE_CLOSE, (void (*)(void))store_close },
    { 0, NULL }
};
