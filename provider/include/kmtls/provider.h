/*
 * The provider library's public interface, for programs that link it
 * instead of loading kafka-mtls.so (the plugin, the command, the tests):
 * the provider registered as a built-in in a library context of their own,
 * keystore: URIs built and read through OSSL_STORE exactly as any
 * OpenSSL program reads them, and what the provider tells for diagnostics.
 * Everything else about a volume comes through OSSL_STORE; the loadable
 * module exports only OSSL_provider_init.
 */
#ifndef KMTLS_PROVIDER_H
#define KMTLS_PROVIDER_H

#include <stddef.h>
#include <openssl/core.h>
#include <openssl/types.h>
#include <openssl/x509.h>

/* OSSL_provider_init's body (the module: its crypto in a child of the
 * application's context). */
int kmtls_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                        const OSSL_DISPATCH **out, void **provctx);
/* What OSSL_PROVIDER_add_builtin takes from code linked to the same
 * libcrypto: its crypto directly in the context it is added to. */
int kmtls_provider_init_builtin(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                                const OSSL_DISPATCH **out, void **provctx);

/* A library context with kafka-mtls registered as a built-in and loaded. */
typedef struct kmtls_libctx {
    OSSL_LIB_CTX *libctx;
    OSSL_PROVIDER *kafka_mtls, *dflt;
} kmtls_libctx;

/* A private context, "default" loaded beside kafka-mtls for the
 * algorithms: what a program that reads volumes apart from anything else
 * uses (the command, the tests). NULL on failure (nothing to free). */
kmtls_libctx *kmtls_libctx_new(void);
/*
 * The application's global default context (libctx its address, the same
 * in every thread: OSSL_LIB_CTX_get0_global_default), with kafka-mtls added
 * once for the process and never unloaded (never to be freed), the
 * default provider's fallback kept: where librdkafka reads its own ssl.*
 * files and builds its SSL_CTX, so the application's OpenSSL configuration
 * (providers, default properties) applies to the volume as it would to
 * librdkafka, and the decoders and algorithms OpenSSL 3.0 builds for a
 * context on first use are built once, not once per context. What the
 * plugin uses. NULL if the provider cannot be loaded there.
 */
const kmtls_libctx *kmtls_libctx_default(void);
/* Unloads the providers, then frees the context: a context freed with
 * providers still loaded leaks what they allocated. */
void kmtls_libctx_free(kmtls_libctx *lc);

/* keystore:PATH?part=PART&alias=ALIAS&password-file=PWFILE (NULLs omitted),
 * with %XX escapes where the grammar needs them. */
void kmtls_store_uri(char *uri, size_t n, const char *path, const char *part, const char *alias,
                     const char *password_file);

/* What kmtls_store_load reads: uri, what to expect (0 or OSSL_STORE_INFO_*),
 * a subject search (or NULL), OSSL_STORE_open_ex parameters (or NULL). */
typedef struct kmtls_query {
    const char *uri;
    int expect;
    const X509_NAME *subject;
    const OSSL_PARAM *params;
} kmtls_query;

/* A directory's identity (st_dev, st_ino); zero: none or unknown. */
typedef struct km_volume_id {
    unsigned long long dev, ino;
} km_volume_id;

typedef struct kmtls_loaded {
    EVP_PKEY *key;          /* the first private key yielded, or NULL */
    int nkeys;              /* how many were yielded */
    STACK_OF(X509) *certs;  /* every certificate, in the order yielded */
    /* the volume directory (for Kubernetes, ..data's target) this read held
     * open, also on failure; zero when it held none (a file, a volume not
     * there at that moment) or the provider is another copy's (a module) */
    km_volume_id volume;
    /* on failure: */
    unsigned long error;    /* the last error's code */
    int reason;             /* its reason: the provider's kafka_mtls_reason */
    char msg[640];          /* its text: the provider's message */
    char origin[160];       /* where it was raised: "volume.c:160 seed_layout" */
} kmtls_loaded;

/* Every object of q->uri through OSSL_STORE in libctx. 1, or 0 with the
 * failure in out (and nothing else). */
int kmtls_store_load(OSSL_LIB_CTX *libctx, const kmtls_query *q, kmtls_loaded *out);
void kmtls_loaded_clear(kmtls_loaded *l);

/* OSSL_STORE_open_ex parameters carrying a store and a key password
 * (KAFKA_MTLS_PARAM_*; either may be NULL): params must hold 3. */
const OSSL_PARAM *kmtls_password_params(OSSL_PARAM params[3], const char *password, const char *key_password);

/* What discovery finds at a keystore: URI, without opening a store. */
typedef struct kmtls_volume_info {
    char layout[32];        /* "seed", "cert-manager", "spiffe-helper", "file" */
    char alias[256];        /* the seed layout's ALIAS, or "" */
    char creds[4096];       /* the password file found beside a store, or "" */
    int reason;             /* 0, or why it cannot be read (KAFKA_MTLS_R_NOT_READY: retry later) */
    char msg[512];          /* and the provider's message */
} kmtls_volume_info;

/* 1 ready, 0 with out->reason and out->msg. */
int kmtls_volume_describe(const char *uri, kmtls_volume_info *out);

/* The MAC iteration count of a PKCS#12 file's bytes; -1 if it does not
 * decode or has no MAC. */
long kmtls_pkcs12_mac_iterations(const unsigned char *der, size_t len);

#endif
