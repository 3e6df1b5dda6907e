/* Helpers shared by the libFuzzer targets; see fuzz_common.h. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include "formats.h"
#include "fuzz_common.h"
#include "jks_protect.h"
#include "kafka-mtls.h"
#include "keystore.h"
#include "kmtls/provider.h"

void kmf_die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "\n==kmfuzz== INVARIANT BROKEN: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    ERR_print_errors_fp(stderr);
    abort();
}

/* RC2/3DES PKCS#12 from old JDKs and `openssl pkcs12 -legacy`, if there. */
static void load_legacy(OSSL_LIB_CTX *ctx)
{
    ERR_set_mark();
    (void)OSSL_PROVIDER_load(ctx, "legacy");
    ERR_pop_to_mark();
}

OSSL_LIB_CTX *kmf_libctx(void)
{
    static OSSL_LIB_CTX *ctx;

    if (ctx == NULL) {
        if ((ctx = OSSL_LIB_CTX_new()) == NULL || OSSL_PROVIDER_load(ctx, "default") == NULL)
            kmf_die("cannot load the default provider");
        load_legacy(ctx);
    }
    return ctx;
}

OSSL_LIB_CTX *kmf_store_libctx(void)
{
    static kmtls_libctx *lc;

    if (lc == NULL) {
        if ((lc = kmtls_libctx_new()) == NULL)
            kmf_die("kmtls_libctx_new failed");
        load_legacy(lc->libctx);
    }
    return lc->libctx;
}

const km_secret *kmf_password(void)
{
    static char pw[] = KMFUZZ_PASSWORD;
    static const km_secret s = { pw, sizeof(pw) - 1 };

    return &s;
}

void kmf_check_status(const char *what, int ok, const km_status *st)
{
    static int verbose = -1;

    if (verbose < 0)
        verbose = getenv("KMFUZZ_VERBOSE") != NULL;
    if (verbose)
        fprintf(stderr, "kmfuzz: %s: %s%s\n", what, ok ? "ok" : "failed: ", ok ? "" : st->msg);
    if (ok != 0 && ok != 1)
        kmf_die("%s returned %d", what, ok);
    if (ok && st->reason != 0)
        kmf_die("%s succeeded with reason %d (%s)", what, st->reason, st->msg);
    if (!ok && (st->reason < KAFKA_MTLS_R_BAD_URI || st->reason > KAFKA_MTLS_R_INTERNAL))
        kmf_die("%s failed with reason %d (%s)", what, st->reason, st->msg);
    if (!ok && st->msg[0] == '\0')
        kmf_die("%s failed (reason %d) without a message", what, st->reason);
    if (memchr(st->msg, '\0', sizeof(st->msg)) == NULL)
        kmf_die("%s: status message not terminated", what);
}

void kmf_check_error_queue(const char *what)
{
    if (ERR_peek_error() != 0)
        kmf_die("%s left entries on the OpenSSL error queue", what);
}

void kmf_check_keystore(const km_keystore *ks)
{
    if (ks->format == KM_FORMAT_UNKNOWN)
        kmf_die("keystore without a format");
    if (ks->nkeys > 0 && ks->keys == NULL)
        kmf_die("%zu keys but no array", ks->nkeys);
    for (size_t i = 0; i < ks->nkeys; i++) {
        const km_key_entry *k = &ks->keys[i];

        if (k->blob == NULL || k->blob_len == 0)
            kmf_die("key %zu has no blob", i);
        if ((unsigned)k->kind > KM_KEY_PEM)
            kmf_die("key %zu has kind %d", i, (int)k->kind);
        for (size_t j = 0; j < k->chain.n; j++)
            if (k->chain.v[j].der == NULL || !km_der_is_certificate_shaped(k->chain.v[j].der, k->chain.v[j].len))
                kmf_die("key %zu: chain certificate %zu has not a certificate's shape", i, j);
    }
    for (size_t j = 0; j < ks->trusted.n; j++)
        if (ks->trusted.v[j].der == NULL || !km_der_is_certificate_shaped(ks->trusted.v[j].der, ks->trusted.v[j].len))
            kmf_die("trusted certificate %zu has not a certificate's shape", j);
}

void kmf_decrypt_all(OSSL_LIB_CTX *libctx, const km_keystore *ks, const km_secret *pw)
{
    for (size_t i = 0; i < ks->nkeys; i++) {
        const km_key_entry *k = &ks->keys[i];
        unsigned char *der = NULL;
        size_t der_len = 0;
        km_status st = { 0 };
        int ok = km_decrypt_key(libctx, ks, k, pw, &der, &der_len, &st);

        kmf_check_status("km_decrypt_key", ok, &st);
        kmf_check_error_queue("km_decrypt_key");
        if (!ok) {
            if (der != NULL)
                kmf_die("km_decrypt_key failed but returned a key");
            continue;
        }
        if (der == NULL || der_len == 0)
            kmf_die("km_decrypt_key succeeded without a key");
        /* Decoding it and matching it to the leaf (material.c's check_key)
         * is libcrypto's work and costs milliseconds in OpenSSL 3.0's
         * decoders: fuzz_volume covers it. */
        OPENSSL_clear_free(der, der_len);
        ERR_clear_error();
    }
}

int kmf_jks_fix_trailer(unsigned char *buf, size_t len, const km_secret *pw)
{
    static const char whitener[] = "Mighty Aphrodite";
    unsigned char *pw16 = NULL;
    size_t pw16_len = 0;
    unsigned int dlen = 0;
    EVP_MD_CTX *ctx;
    int ok;

    if (len < SHA1_LEN || km_jks_password_utf16be(pw, &pw16, &pw16_len) != 1)
        return 0;
    ctx = EVP_MD_CTX_new();
    ok = ctx != NULL && EVP_DigestInit_ex2(ctx, EVP_sha1(), NULL)
         && EVP_DigestUpdate(ctx, pw16, pw16_len)
         && EVP_DigestUpdate(ctx, whitener, sizeof(whitener) - 1)
         && EVP_DigestUpdate(ctx, buf, len - SHA1_LEN)
         && EVP_DigestFinal_ex(ctx, buf + len - SHA1_LEN, &dlen);
    EVP_MD_CTX_free(ctx);
    km_jks_pw16_free(pw16, pw);
    return ok;
}

unsigned char *kmf_p12_fix_mac(const unsigned char *buf, size_t len, const km_secret *pw,
                               size_t *out_len)
{
    static const unsigned char salt[8] = "kmfuzz!";
    const unsigned char *p = buf;
    PKCS12 *p12;
    const X509_ALGOR *alg = NULL;
    const ASN1_OBJECT *obj = NULL;
    const EVP_MD *md = NULL;
    unsigned char *out = NULL;
    int n;

    if (len > LONG_MAX || (p12 = d2i_PKCS12(NULL, &p, (long)len)) == NULL)
        goto fail;
    if (PKCS12_mac_present(p12)) {
        PKCS12_get0_mac(NULL, &alg, NULL, NULL, p12);
        X509_ALGOR_get0(&obj, NULL, NULL, alg);
        md = EVP_get_digestbyobj(obj);
    }
    if (md == NULL)
        md = EVP_sha256();
    if (!PKCS12_set_mac(p12, pw->data, (int)pw->len, (unsigned char *)salt, sizeof(salt), 1, md)
        && !PKCS12_set_mac(p12, pw->data, (int)pw->len, (unsigned char *)salt, sizeof(salt), 1,
                           EVP_sha256())) {
        PKCS12_free(p12);
        goto fail;
    }
    n = i2d_PKCS12(p12, &out);
    PKCS12_free(p12);
    if (n <= 0)
        goto fail;
    *out_len = (size_t)n;
    ERR_clear_error();
    return out;
fail:
    ERR_clear_error();
    return NULL;
}

static char tmpdir[PATH_MAX];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void rm_tmpdir(void)
{
    if (tmpdir[0] != '\0')
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *kmf_tmpdir(void)
{
    if (tmpdir[0] == '\0') {
        const char *base = getenv("KMFUZZ_TMPDIR");

        if (base == NULL || base[0] == '\0')
            base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(tmpdir, sizeof(tmpdir), "%s/kmfuzz.XXXXXX", base);
        if (mkdtemp(tmpdir) == NULL)
            kmf_die("mkdtemp %s: %s", tmpdir, strerror(errno));
        atexit(rm_tmpdir);
    }
    return tmpdir;
}

void kmf_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const char *p = data;

    if (fd < 0)
        kmf_die("open %s: %s", path, strerror(errno));
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            kmf_die("write %s: %s", path, strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    close(fd);
}
