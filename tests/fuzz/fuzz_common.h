/*
 * Shared by the libFuzzer targets: a private library context with the
 * built-in provider (the command's; the plugin's is the application's
 * default), the fixed password the seed corpus is made with, integrity fix-ups
 * so that mutated stores get past their MAC / trailer, and invariants every
 * reader must keep (a violation aborts: libFuzzer records it as a crash).
 */
#ifndef KMTLS_FUZZ_COMMON_H
#define KMTLS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/types.h>

#include "kmtls/secret.h"
#include "kmtls/status.h"

struct km_keystore; /* provider/keystore.h */

/* The store (and key) password of every generated seed (make-corpus.sh). */
#define KMFUZZ_PASSWORD "kmfuzz-pass"

/* Private context with the default (and, if present, legacy) provider. */
OSSL_LIB_CTX *kmf_libctx(void);
/* Another private context that also has kafka-mtls registered as a built-in
 * and loaded, for OSSL_STORE_open_ex("keystore:..."). */
OSSL_LIB_CTX *kmf_store_libctx(void);

const km_secret *kmf_password(void);

/* Aborts with a message: an invariant of the code under test is broken. */
void kmf_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* A reader's result and status must agree: ok with reason 0, or failure
 * with a known reason and a message. KMFUZZ_VERBOSE=1 in the environment
 * prints every result (to check what a seed reaches). */
void kmf_check_status(const char *what, int ok, const km_status *st);
/* The library's promise: expected failures leave nothing on the error queue. */
void kmf_check_error_queue(const char *what);
/* A keystore a reader accepted must be well formed. */
void kmf_check_keystore(const struct km_keystore *ks);

/* Decrypts every key entry with pw (km_decrypt_key) and checks the result's
 * status. */
void kmf_decrypt_all(OSSL_LIB_CTX *libctx, const struct km_keystore *ks, const km_secret *pw);

/* JKS/JCEKS: buf[len-20..] = SHA1(UTF-16BE(pw) || "Mighty Aphrodite" || rest).
 * 0 if the password cannot be encoded or len < 20. */
int kmf_jks_fix_trailer(unsigned char *buf, size_t len, const km_secret *pw);
/* PKCS#12: the same PFX with a MAC recomputed under pw (1 iteration, its
 * own digest where possible), re-encoded; NULL when it does not decode. */
unsigned char *kmf_p12_fix_mac(const unsigned char *buf, size_t len, const km_secret *pw,
                               size_t *out_len);

/* A per-process scratch directory (tmpfs $KMFUZZ_TMPDIR, /dev/shm or /tmp),
 * removed at exit. */
const char *kmf_tmpdir(void);
/* Writes (creates or truncates) a file; aborts when the disk refuses. */
void kmf_write_file(const char *path, const void *data, size_t len);

#endif
