/* The provider context shared by the operations, and raising errors. */
#ifndef KMTLS_PROVCTX_H
#define KMTLS_PROVCTX_H

#include <openssl/core.h>
#include <openssl/core_dispatch.h>

#include "kmtls/status.h"

typedef struct km_provctx {
    const OSSL_CORE_HANDLE *handle;
    OSSL_LIB_CTX *libctx;            /* a child of the application's context, or (built in) that context */
    int libctx_borrowed;             /* the latter: not ours to free */
    char *conf_password_file;        /* "password-file" config key */
    OSSL_FUNC_core_new_error_fn *new_error;
    OSSL_FUNC_core_set_error_debug_fn *set_error_debug;
    OSSL_FUNC_core_vset_error_fn *vset_error;
} km_provctx;

/* Raises st as an OpenSSL error: its reason, its message, and where it was
 * raised as the error's file, line and function. */
void km_raise(const km_provctx *pc, const km_status *st);

extern const OSSL_DISPATCH km_store_functions[];

#endif
