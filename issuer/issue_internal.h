/* Internal interfaces between the files of issuer_core (not for the plugin). */
#ifndef KMTLS_ISSUE_INTERNAL_H
#define KMTLS_ISSUE_INTERNAL_H

#include <time.h>
#include <openssl/types.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "kmtls/issuer.h"
#include "kmtls/secret.h"
#include "kmtls/status.h"

/* keytype.c: "rsa:2048" ... into an algorithm and generation. */
typedef struct km_key_spec {
    const char *algorithm;  /* "RSA", "EC", "ED25519" */
    size_t rsa_bits;
    const char *curve;      /* "P-256", "P-384" */
} km_key_spec;

int km_key_spec_parse(const char *spec, km_key_spec *out, char *err, size_t n);
EVP_PKEY *km_key_generate(OSSL_LIB_CTX *libctx, const km_key_spec *ks, km_status *st);

/* names.c: the subject and SAN templates (${alias}/${hostname} expand
 * inside values only), built directly; the extendedKeyUsage list. */
X509_NAME *km_subject_build(const char *tmpl, const char *alias, km_status *st);
GENERAL_NAMES *km_san_build(const char *tmpl, const char *alias, km_status *st);
int km_eku_check(const char *s, km_status *st);

/* ca.c: the signing CA, checked before use. */
typedef struct km_ca {
    X509 *cert;                /* the issuing CA: the first certificate of its file */
    STACK_OF(X509) *chain;     /* the rest of the file: its issuers, up to the root */
    X509 *anchor;              /* the last of them (or cert itself): what peers trust */
    EVP_PKEY *key;
} km_ca;

X509 *km_read_cert_pem(OSSL_LIB_CTX *libctx, const char *path, const char *what, km_status *st);
/* Every certificate of a PEM file, in file order (at least one). */
STACK_OF(X509) *km_read_certs_pem(OSSL_LIB_CTX *libctx, const char *path, const char *what, km_status *st);
/* rq's CA (ca_cert, ca_key, ca_key_password, libctx), its key read and
 * judged as km_ca_file_read does (warning: "" or what was allowed). */
int km_ca_load(const km_issue_request *rq, time_t now, km_ca *ca, char *warning, size_t n, km_status *st);
void km_ca_clear(km_ca *ca);

/* certificate.c: the leaf. */
typedef struct km_cert_spec {
    const X509_NAME *subject;
    const GENERAL_NAMES *san; /* or NULL */
    const char *eku;        /* validated */
    int days;
    long seconds;           /* the lifetime in seconds when not 0 (days then unused) */
    time_t now;
} km_cert_spec;

X509 *km_cert_build(OSSL_LIB_CTX *libctx, const km_ca *ca, EVP_PKEY *key, const km_cert_spec *spec,
                    int *clamped, km_status *st);

/*
 * keystore_write.c: PKCS#12 files as keytool 17 writes them (DER in *der).
 * iter: the PBKDF2 and MAC iteration count. keytool's 10000 guards a
 * password a person chose; a password kafka-mtls generated (128 random
 * bits, guessing it is out of reach at any count) gets OpenSSL's default,
 * 2048, because every client start pays for each iteration (issue.c,
 * store_iterations, decides).
 */
#define KM_ITER_CHOSEN_PASSWORD    10000
#define KM_ITER_GENERATED_PASSWORD 2048
int km_p12_keystore(OSSL_LIB_CTX *libctx, const char *alias, EVP_PKEY *key, X509 *leaf, const km_ca *ca,
                    const km_secret *pw, int iter, time_t now, unsigned char **der, size_t *len,
                    km_status *st);
int km_p12_truststore(OSSL_LIB_CTX *libctx, X509 *ca, const km_secret *pw, int iter,
                      unsigned char **der, size_t *len, km_status *st);

/* issue.c: the volume for key and leaf, with ca's chain and anchor (its
 * key is not used), in the seed's layout with ALIAS_creds last: what every
 * issuance writes, from the local CA or the CA service. Fills res (but for
 * keygen_ms and warning). The caller holds the volume lock. */
int km_issue_store(const km_issue_request *rq, EVP_PKEY *key, X509 *leaf, const km_ca *ca, int clamped,
                   km_issue_result *res, km_status *st);

/* volume_write.c: the volume directory and atomic files. */
int km_dir_open(const char *volume, int create, km_status *st); /* fd, or -1 with st */
int km_dir_write(int dirfd, const char *volume, const char *name, const void *buf, size_t len,
                 km_status *st);
/* km_dir_write through the existing file from (the writing mark: no new
 * inode is needed where the disk has none to spare), renamed to name; from
 * stays if that fails. Without from, km_dir_write. */
int km_dir_write_via(int dirfd, const char *volume, const char *from, const char *name, const void *buf,
                     size_t len, km_status *st);
int km_dir_sync(int dirfd, const char *volume, km_status *st);
int km_dir_remove(int dirfd, const char *volume, const char *name, km_status *st);
void km_dir_clean_temps(int dirfd);

/* volume_lock.c: the lock with a deadline (w->until, else km_now_ms() +
 * w->ms); exclusive creates the volume and the lock file, shared takes the
 * lock only if its file is there (1 with *fd == -1 if not). */
double km_lock_deadline(const km_lock_wait *w);
int km_volume_lock_until(const char *volume, int exclusive, double deadline, const km_lock_wait *w, int *fd,
                         km_status *st);

/* lifetime.c: seconds per duration unit ("d", "h", "m", "s"), 0 for none. */
long km_duration_unit(const char *unit);

/* ca_files.c: the CA key (or its password file, what names it) read into
 * *buf (free with OPENSSL_clear_free(*buf, *len + 1)) through one
 * descriptor and judged by its fstat, as km_ca_file_check (kmtls/issuer.h). */
#define KM_CA_MAX_FILE (256u << 10)
int km_ca_file_read(const char *path, const char *what, size_t max, int insecure_ok, const char *option,
                    unsigned char **buf, size_t *len, char *warning, size_t n, km_status *st);

/* "VOLUME/NAME" into buf, for messages. */
const char *km_path(char *buf, size_t n, const char *volume, const char *name);

#endif
