/*
 * Provider entry: identity, configuration keys, reason strings and the one
 * operation we implement (OSSL_STORE for keystore: URIs).
 */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "kafka-mtls.h"
#include "kdf_limit.h"
#include "kmtls/provider.h"
#include "kmtls/trace.h"
#include "provctx.h"

#ifndef KMTLS_VERSION
#define KMTLS_VERSION "0.1.0"
#endif

static const OSSL_ITEM reason_strings[] = {
    { KAFKA_MTLS_R_BAD_URI, "bad keystore URI" },
    { KAFKA_MTLS_R_RELATIVE_PATH, "relative path" },
    { KAFKA_MTLS_R_NOT_FOUND, "not found" },
    { KAFKA_MTLS_R_READ_FAILED, "cannot read" },
    { KAFKA_MTLS_R_NOT_READY, "volume not ready" },
    { KAFKA_MTLS_R_NO_PASSWORD, "no password" },
    { KAFKA_MTLS_R_PASSWORD_FILE, "bad password file" },
    { KAFKA_MTLS_R_WRONG_PASSWORD, "wrong password" },
    { KAFKA_MTLS_R_INTEGRITY, "integrity check failed" },
    { KAFKA_MTLS_R_CORRUPT, "corrupt keystore" },
    { KAFKA_MTLS_R_UNSUPPORTED_FORMAT, "unsupported format" },
    { KAFKA_MTLS_R_UNSUPPORTED_CONTENT, "unsupported content" },
    { KAFKA_MTLS_R_NO_KEY, "no private key" },
    { KAFKA_MTLS_R_MULTIPLE_KEYS, "several private keys" },
    { KAFKA_MTLS_R_ALIAS_NOT_FOUND, "alias not found" },
    { KAFKA_MTLS_R_KEY_MISMATCH, "key does not match certificate" },
    { KAFKA_MTLS_R_NO_CERTIFICATE, "no certificate" },
    { KAFKA_MTLS_R_LAYOUT, "unrecognised volume layout" },
    { KAFKA_MTLS_R_TOO_LARGE, "file too large" },
    { KAFKA_MTLS_R_INTERNAL, "internal error" },
    { KAFKA_MTLS_R_INSECURE, "insecure" }, /* a refused symlink or owner (kmtls/safe_path.h) */
    { 0, NULL }
};

static void vset_error(const km_provctx *pc, int reason, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    pc->vset_error(pc->handle, (uint32_t)reason, fmt, ap);
    va_end(ap);
}

/* The message with libcrypto's reason behind it, if any ("... (libcrypto:
 * mac verify failure)"): what the user sees, with or without debug = 1.
 * errno is in the message already (km_fail_errno), and an internal error
 * ends with libcrypto's full text. */
void km_raise(const km_provctx *pc, const km_status *st)
{
    const char *why = st->crypto_error != 0 && st->reason != KAFKA_MTLS_R_INTERNAL
                          ? ERR_reason_error_string(st->crypto_error) : NULL;

    if (pc == NULL || pc->new_error == NULL)
        return;
    pc->new_error(pc->handle);
    if (pc->set_error_debug != NULL)
        pc->set_error_debug(pc->handle, st->file, st->line, st->func);
    if (why != NULL)
        vset_error(pc, st->reason, "%s (libcrypto: %s)", st->msg, why);
    else
        vset_error(pc, st->reason, "%s", st->msg);
}

static const OSSL_ALGORITHM store_algorithms[] = {
    { KAFKA_MTLS_URI_SCHEME, "provider=" KAFKA_MTLS_PROVIDER_NAME, km_store_functions,
      "client volume keystores (PKCS#12, JKS, JCEKS, PEM)" },
    { NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM *query_operation(void *provctx, int operation_id, int *no_store)
{
    (void)provctx;
    *no_store = 0;
    return operation_id == OSSL_OP_STORE ? store_algorithms : NULL;
}

static const OSSL_PARAM *gettable_params(void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_NAME, OSSL_PARAM_UTF8_PTR, NULL, 0),
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_VERSION, OSSL_PARAM_UTF8_PTR, NULL, 0),
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_BUILDINFO, OSSL_PARAM_UTF8_PTR, NULL, 0),
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_STATUS, OSSL_PARAM_INTEGER, NULL, 0),
        OSSL_PARAM_END
    };
    (void)provctx;
    return params;
}

static int get_params(void *provctx, OSSL_PARAM params[])
{
    OSSL_PARAM *p;

    (void)provctx;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME)) != NULL &&
        !OSSL_PARAM_set_utf8_ptr(p, KAFKA_MTLS_PROVIDER_NAME))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION)) != NULL &&
        !OSSL_PARAM_set_utf8_ptr(p, KMTLS_VERSION))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO)) != NULL &&
        !OSSL_PARAM_set_utf8_ptr(p, "kafka-mtls " KMTLS_VERSION))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS)) != NULL && !OSSL_PARAM_set_int(p, 1))
        return 0;
    return 1;
}

static const OSSL_ITEM *get_reason_strings(void *provctx)
{
    (void)provctx;
    return reason_strings;
}

static void teardown(void *provctx)
{
    km_provctx *pc = provctx;

    if (pc == NULL)
        return;
    if (!pc->libctx_borrowed)
        OSSL_LIB_CTX_free(pc->libctx);
    OPENSSL_free(pc->conf_password_file);
    OPENSSL_free(pc);
}

static const OSSL_DISPATCH provider_functions[] = {
    { OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))teardown },
    { OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))gettable_params },
    { OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))get_params },
    { OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))query_operation },
    { OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, (void (*)(void))get_reason_strings },
    { 0, NULL }
};

/* Reads our keys from the provider's OPENSSL_CONF section. */
static void read_config(km_provctx *pc, OSSL_FUNC_core_get_params_fn *core_get_params)
{
    const char *password_file = NULL, *debug = NULL, *kdf = NULL, *jceks = NULL, *entries = NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_ptr(KAFKA_MTLS_CONF_PASSWORD_FILE, (char **)&password_file, 0),
        OSSL_PARAM_utf8_ptr(KAFKA_MTLS_CONF_DEBUG, (char **)&debug, 0),
        OSSL_PARAM_utf8_ptr(KAFKA_MTLS_CONF_MAX_KDF_ITERATIONS, (char **)&kdf, 0),
        OSSL_PARAM_utf8_ptr(KAFKA_MTLS_CONF_MAX_JCEKS_ITERATIONS, (char **)&jceks, 0),
        OSSL_PARAM_utf8_ptr(KAFKA_MTLS_CONF_MAX_ENTRIES, (char **)&entries, 0),
        OSSL_PARAM_END
    };

    if (core_get_params != NULL && core_get_params(pc->handle, params)) {
        if (password_file != NULL && *password_file != '\0')
            pc->conf_password_file = OPENSSL_strdup(password_file);
        km_caps_configure(kdf, jceks, entries);
    }
    if (debug != NULL && strcmp(debug, "1") == 0)
        km_trace_enable();
}

static int provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in, const OSSL_DISPATCH **out,
                         void **provctx, int builtin)
{
    OSSL_FUNC_core_get_params_fn *core_get_params = NULL;
    OSSL_FUNC_core_get_libctx_fn *core_get_libctx = NULL;
    km_provctx *pc = OPENSSL_zalloc(sizeof(*pc));

    if (pc == NULL)
        return 0;
    pc->handle = handle;
    for (const OSSL_DISPATCH *f = in; f->function_id != 0; f++) {
        switch (f->function_id) {
        case OSSL_FUNC_CORE_GET_PARAMS:
            core_get_params = OSSL_FUNC_core_get_params(f);
            break;
        case OSSL_FUNC_CORE_GET_LIBCTX:
            core_get_libctx = OSSL_FUNC_core_get_libctx(f);
            break;
        case OSSL_FUNC_CORE_NEW_ERROR:
            pc->new_error = OSSL_FUNC_core_new_error(f);
            break;
        case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
            pc->set_error_debug = OSSL_FUNC_core_set_error_debug(f);
            break;
        case OSSL_FUNC_CORE_VSET_ERROR:
            pc->vset_error = OSSL_FUNC_core_vset_error(f);
            break;
        default:
            break;
        }
    }
    if (pc->vset_error == NULL)
        pc->new_error = NULL;
    read_config(pc, core_get_params);
    /*
     * Our crypto (PBKDF2, AES, decoders) runs where the application's
     * would. As a module, through a child context, which sees the
     * application's providers. Built in, linked to the libcrypto it is
     * registered with, directly in the context it was added to, as
     * OpenSSL's own built-in providers do (provider-base(7),
     * core_get_libctx): a child context has method stores of its own, and
     * in OpenSSL 3.0 filling them (the decoders a first certificate
     * needs) cost 0.5 ms of a plugin client's start-up, on top of the
     * same work in the application's context for what OSSL_STORE decodes.
     */
    if (builtin && core_get_libctx != NULL) {
        pc->libctx = (OSSL_LIB_CTX *)core_get_libctx(handle);
        pc->libctx_borrowed = 1;
    } else {
        pc->libctx = OSSL_LIB_CTX_new_child(handle, in);
    }
    if (pc->libctx == NULL && !pc->libctx_borrowed) {
        teardown(pc);
        return 0;
    }
    *out = provider_functions;
    *provctx = pc;
    return 1;
}

int kmtls_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                        const OSSL_DISPATCH **out, void **provctx)
{
    return provider_init(handle, in, out, provctx, 0);
}

int kmtls_provider_init_builtin(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                                const OSSL_DISPATCH **out, void **provctx)
{
    return provider_init(handle, in, out, provctx, 1);
}
