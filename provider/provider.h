/* The provider context shared by the operations, and error raising. */
#ifndef KMTLS_PROVIDER_H
#define KMTLS_PROVIDER_H

#include <openssl/core.h>
#include <openssl/core_dispatch.h>

typedef struct km_provctx {
    const OSSL_CORE_HANDLE *handle;
    OSSL_LIB_CTX *libctx;            /* child of the application's context */
    char *conf_password_file;        /* "password-file" config key */
    int debug;
    OSSL_FUNC_core_new_error_fn *new_error;
    OSSL_FUNC_core_set_error_debug_fn *set_error_debug;
    OSSL_FUNC_core_vset_error_fn *vset_error;
} km_provctx;

/* Raises an OpenSSL error with one of kafka_mtls_reason and a message. */
#define km_raise(pc, reason, ...) km_raise_at(pc, reason, __FILE__, __LINE__, __func__, __VA_ARGS__)
void km_raise_at(const km_provctx *pc, int reason, const char *file, int line, const char *func,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void km_debug(const km_provctx *pc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

extern const OSSL_DISPATCH km_store_functions[];

/* OSSL_provider_init's body; also what OSSL_PROVIDER_add_builtin takes. */
int kmtls_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                        const OSSL_DISPATCH **out, void **provctx);

#endif
