/*
 * Every reason the provider can raise (include/kafka-mtls.h, README's
 * "Error reasons"), each provoked through the public OSSL_STORE API the way
 * a user would meet it, and asserted by ERR_GET_REASON(): the contract
 * programs branch on. The error also names where it was raised (not the
 * store's own code) and the file or parameter at fault. Fixtures:
 * $KMTLS_FIXTURES (tests/fixtures/make-all.sh).
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/store.h>

#include "kafka-mtls.h"
#include "testutil.h"
#include "testutil_ossl.h"

static kmtls_libctx *lc;
static const char *fx;
static char dir[PATH_MAX];   /* per-test scratch directory */
static char uri[PATH_MAX + 256];

static const char *in_dir(const char *rel)
{
    return tu_path(dir, rel);
}

/* uri = "keystore:" + path (+ "?" + query when given). */
static const char *uri_of(const char *path, const char *query)
{
    snprintf(uri, sizeof(uri), "keystore:%s%s%s", path, query ? "?" : "", query ? query : "");
    return uri;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* The fixture seed volume client-p12 copied to DIR/name, without its
 * ALIAS_creds when ready is 0. */
static const char *seed_copy(const char *name, int ready)
{
    tu_run("mkdir -p %s && cp %s/vol/client-p12/client-p12.keystore.jks %s/vol/client-p12/client-p12.truststore.jks"
           " %s/", in_dir(name), fx, fx, in_dir(name));
    if (ready)
        tu_run("cp %s/vol/client-p12/client-p12_creds %s/", fx, in_dir(name));
    return in_dir(name);
}

/* The fixture keystore client-p12.keystore.jks, decoded; pass it to
 * write_p12 after changing it. */
static PKCS12 *fixture_p12(void)
{
    char path[PATH_MAX];
    FILE *f;
    PKCS12 *p12;

    snprintf(path, sizeof(path), "%s/vol/client-p12/client-p12.keystore.jks", fx);
    ck_assert_ptr_nonnull(f = fopen(path, "rb"));
    p12 = d2i_PKCS12_fp(f, NULL);
    fclose(f);
    ck_assert_ptr_nonnull(p12);
    ck_assert(PKCS12_mac_present(p12));
    return p12;
}

static void write_p12(PKCS12 *p12, const char *path)
{
    unsigned char *der = NULL;
    int len = i2d_PKCS12(p12, &der);

    ck_assert_int_gt(len, 0);
    write_bytes(path, der, (size_t)len);
    OPENSSL_free(der);
    PKCS12_free(p12);
}

/* ---- one case per reason: each returns the URI to open and its expect */

typedef struct provoked {
    const char *uri;
    int expect;             /* 0 or OSSL_STORE_INFO_* */
    const char *names;      /* what the message must name */
    OSSL_LIB_CTX *libctx;   /* NULL: the usual one */
} provoked;

static provoked bad_uri(void)
{
    return (provoked){ uri_of("/v", "alais=x"), 0, "unknown parameter 'alais'", NULL };
}

static provoked relative_path(void)
{
    return (provoked){ "keystore:some/dir", 0, "some/dir", NULL };
}

static provoked not_found(void)
{
    return (provoked){ uri_of(in_dir("no-such-volume"), NULL), 0, "no-such-volume", NULL };
}

static provoked read_failed(void)
{
    return (provoked){ uri_of("/dev/null", NULL), 0, "neither a directory nor a regular file", NULL };
}

static provoked not_ready(void)
{
    return (provoked){ uri_of(seed_copy("client-p12", 0), NULL), 0, "client-p12_creds does not exist yet", NULL };
}

static provoked no_password(void)
{
    tu_run("cp %s/vol/client-p12/client-p12.keystore.jks %s", fx, in_dir("bare.p12"));
    return (provoked){ uri_of(in_dir("bare.p12"), NULL), 0, "bare.p12: no password", NULL };
}

static provoked password_file(void)
{
    static char query[PATH_MAX + 32];

    write_bytes(in_dir("empty.pw"), "", 0);
    snprintf(query, sizeof(query), "password-file=%s", in_dir("empty.pw"));
    return (provoked){ uri_of(seed_copy("v", 1), query), 0, "empty.pw: empty", NULL };
}

static provoked wrong_password(void)
{
    static char query[PATH_MAX + 32];

    write_bytes(in_dir("wrong.pw"), "not-the-password\n", 17);
    snprintf(query, sizeof(query), "password-file=%s", in_dir("wrong.pw"));
    return (provoked){ uri_of(seed_copy("v", 1), query), 0, "client-p12.keystore.jks: wrong password", NULL };
}

/* The MAC's digest changed, the safes untouched: the password still opens
 * the certificate safe, so the file, not the password, is at fault. */
static provoked integrity(void)
{
    PKCS12 *p12 = fixture_p12();
    const ASN1_OCTET_STRING *mac = NULL;

    PKCS12_get0_mac(&mac, NULL, NULL, NULL, p12);
    ck_assert_ptr_nonnull(mac);
    ck_assert_int_gt(ASN1_STRING_length(mac), 0);
    ((unsigned char *)ASN1_STRING_get0_data(mac))[0] ^= 1;
    write_p12(p12, tu_path(seed_copy("v", 1), "client-p12.keystore.jks"));
    return (provoked){ uri_of(in_dir("v"), NULL), 0, "MAC verification failed although the password is right",
                       NULL };
}

static provoked corrupt(void)
{
    tu_run("cd %s && head -c 1000 %s/vol/client-p12/client-p12.keystore.jks >client-p12.keystore.jks",
           seed_copy("v", 1), fx);
    return (provoked){ uri_of(in_dir("v"), NULL), 0, "truncated or malformed PKCS#12", NULL };
}

static provoked unsupported_format(void)
{
    write_bytes(in_dir("random.bin"), "not a keystore, not PEM either\n", 31);
    return (provoked){ uri_of(in_dir("random.bin"), NULL), 0, "random.bin: unsupported format", NULL };
}

/* A MAC asking for more key derivation rounds than the cap: refused before
 * any work. */
static provoked unsupported_content(void)
{
    PKCS12 *p12 = fixture_p12();
    const ASN1_INTEGER *iter = NULL;

    PKCS12_get0_mac(NULL, NULL, NULL, &iter, p12);
    ck_assert_ptr_nonnull(iter);
    ck_assert(ASN1_INTEGER_set((ASN1_INTEGER *)iter, 3000000));
    write_p12(p12, tu_path(seed_copy("v", 1), "client-p12.keystore.jks"));
    return (provoked){ uri_of(in_dir("v"), NULL), 0, "asks for 3000000 key derivation iterations", NULL };
}

static provoked no_key(void)
{
    static char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/client-p12.truststore.jks", seed_copy("v", 1));
    return (provoked){ uri_of(path, NULL), OSSL_STORE_INFO_PKEY, "client-p12.truststore.jks: no private key",
                       NULL };
}

static provoked multiple_keys(void)
{
    tu_run("cat %s/vol/cm/tls.key %s/vol/spiffe/svid_key.pem %s/vol/cm/tls.crt >%s", fx, fx, fx, in_dir("two.pem"));
    return (provoked){ uri_of(in_dir("two.pem"), NULL), 0, "two.pem: 2 private keys", NULL };
}

static provoked alias_not_found(void)
{
    return (provoked){ uri_of(seed_copy("v", 1), "alias=nosuch"), 0, "no keystore for alias 'nosuch'", NULL };
}

static provoked key_mismatch(void)
{
    tu_run("cp -r %s/vol/cm %s && cp %s/vol/spiffe/svid_key.pem %s/tls.key", fx, in_dir("cm"), fx, in_dir("cm"));
    return (provoked){ uri_of(in_dir("cm"), NULL), 0, "tls.key: the private key does not match the certificate",
                       NULL };
}

static provoked no_certificate(void)
{
    tu_run("cp -r %s/vol/cm %s && cp %s/vol/cm/tls.key %s/tls.crt", fx, in_dir("cm"), fx, in_dir("cm"));
    return (provoked){ uri_of(in_dir("cm"), NULL), 0, "tls.crt: no certificate", NULL };
}

static provoked layout(void)
{
    tu_run("mkdir %s && cp %s/vol/cm/tls.crt %s/", in_dir("half"), fx, in_dir("half"));
    return (provoked){ uri_of(in_dir("half"), NULL), 0, "tls.crt without tls.key", NULL };
}

static provoked too_large(void)
{
    tu_run("truncate -s 5M %s", in_dir("huge.p12"));
    return (provoked){ uri_of(in_dir("huge.p12"), NULL), 0, "huge.p12: 5242880 bytes, more than the", NULL };
}

/* A store file owned by another user: whoever owns it picks the key and
 * the trusted CAs (kmtls/safe_path.h). Run as root, as CI does. */
static provoked insecure(void)
{
    const char *vol = seed_copy("v", 1);
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/client-p12.keystore.jks", vol);
    tu_run(geteuid() == 0 ? "chown 65534 '%s'" : "echo 'test_reasons: insecure needs root' >&2; false", path);
    return (provoked){ uri_of(vol, NULL), 0, "client-p12.keystore.jks: owned by", NULL };
}

/* The algorithms come from the application's providers; without
 * "default" the JKS integrity digest cannot be computed: a libcrypto
 * failure, reported as one. */
static OSSL_LIB_CTX *without_default;
static OSSL_PROVIDER *alone;

static provoked internal(void)
{
    static char path[PATH_MAX];

    ck_assert_ptr_nonnull(without_default = OSSL_LIB_CTX_new());
    ck_assert(OSSL_PROVIDER_add_builtin(without_default, KAFKA_MTLS_PROVIDER_NAME, kmtls_provider_init));
    ck_assert_ptr_nonnull(alone = OSSL_PROVIDER_load(without_default, KAFKA_MTLS_PROVIDER_NAME));
    snprintf(path, sizeof(path), "%s/vol/client-jks/client-jks.keystore.jks", fx);
    return (provoked){ uri_of(path, NULL), 0, "cannot check the JKS integrity trailer", without_default };
}

static const struct {
    int reason;
    const char *name;
    provoked (*provoke)(void);
    const char *raised_in;  /* the file that raises it (not store.c: where the cause is) */
} reasons[] = {
    { KAFKA_MTLS_R_BAD_URI, "BAD_URI", bad_uri, "uri.c" },
    { KAFKA_MTLS_R_RELATIVE_PATH, "RELATIVE_PATH", relative_path, "uri.c" },
    { KAFKA_MTLS_R_NOT_FOUND, "NOT_FOUND", not_found, "volume.c" },
    { KAFKA_MTLS_R_READ_FAILED, "READ_FAILED", read_failed, "volume.c" },
    { KAFKA_MTLS_R_NOT_READY, "NOT_READY", not_ready, "volume.c" },
    { KAFKA_MTLS_R_NO_PASSWORD, "NO_PASSWORD", no_password, "assembly.c" },
    { KAFKA_MTLS_R_PASSWORD_FILE, "PASSWORD_FILE", password_file, "password_file.c" },
    { KAFKA_MTLS_R_WRONG_PASSWORD, "WRONG_PASSWORD", wrong_password, "pkcs12.c" },
    { KAFKA_MTLS_R_INTEGRITY, "INTEGRITY", integrity, "pkcs12.c" },
    { KAFKA_MTLS_R_CORRUPT, "CORRUPT", corrupt, "pkcs12.c" },
    { KAFKA_MTLS_R_UNSUPPORTED_FORMAT, "UNSUPPORTED_FORMAT", unsupported_format, "assembly.c" },
    { KAFKA_MTLS_R_UNSUPPORTED_CONTENT, "UNSUPPORTED_CONTENT", unsupported_content, "kdf_limit.c" },
    { KAFKA_MTLS_R_NO_KEY, "NO_KEY", no_key, "assembly.c" },
    { KAFKA_MTLS_R_MULTIPLE_KEYS, "MULTIPLE_KEYS", multiple_keys, "assembly.c" },
    { KAFKA_MTLS_R_ALIAS_NOT_FOUND, "ALIAS_NOT_FOUND", alias_not_found, "volume.c" },
    { KAFKA_MTLS_R_KEY_MISMATCH, "KEY_MISMATCH", key_mismatch, "assembly.c" },
    { KAFKA_MTLS_R_NO_CERTIFICATE, "NO_CERTIFICATE", no_certificate, "assembly.c" },
    { KAFKA_MTLS_R_LAYOUT, "LAYOUT", layout, "volume.c" },
    { KAFKA_MTLS_R_TOO_LARGE, "TOO_LARGE", too_large, "files.c" },
    { KAFKA_MTLS_R_INTERNAL, "INTERNAL", internal, "jks.c" },
    { KAFKA_MTLS_R_INSECURE, "INSECURE", insecure, "safe_path.c" },
};

#define NREASONS ((int)(sizeof(reasons) / sizeof(reasons[0])))

START_TEST(each_reason)
{
    provoked p = reasons[_i].provoke();
    kmtls_loaded l;
    kmtls_query q = { .uri = p.uri, .expect = p.expect };

    ck_assert_msg(!kmtls_store_load(p.libctx != NULL ? p.libctx : lc->libctx, &q, &l), "%s: %s loaded",
                  reasons[_i].name, p.uri);
    ck_assert_msg(ERR_GET_LIB(l.error) != 0 && ERR_GET_REASON(l.error) == reasons[_i].reason,
                  "%s: %s failed with reason %d (%s)", reasons[_i].name, p.uri, ERR_GET_REASON(l.error), l.msg);
    ck_assert_msg(strstr(l.msg, p.names) != NULL, "%s: message '%s' lacks '%s'", reasons[_i].name, l.msg,
                  p.names);
    ck_assert_msg(strncmp(l.origin, reasons[_i].raised_in, strlen(reasons[_i].raised_in)) == 0,
                  "%s: raised at %s, expected in %s", reasons[_i].name, l.origin, reasons[_i].raised_in);
    kmtls_loaded_clear(&l);
}
END_TEST

/* A reason added to the contract without a case here fails the suite. */
START_TEST(every_reason_has_a_case)
{
    for (int r = KAFKA_MTLS_R_BAD_URI; r <= KAFKA_MTLS_R_INSECURE; r++) {
        if (r > KAFKA_MTLS_R_INTERNAL && r != KAFKA_MTLS_R_INSECURE)
            continue; /* issuance's own reasons: never the provider's */
        int found = 0;

        for (int i = 0; i < NREASONS; i++)
            found |= reasons[i].reason == r;
        ck_assert_msg(found, "reason %d has no case in test_reasons.c", r);
    }
}
END_TEST

static void setup(void)
{
    ck_assert_ptr_nonnull(fx = getenv("KMTLS_FIXTURES"));
    lc = tu_libctx_new();
    tu_mkdtemp(dir, sizeof(dir), "kmtls-reasons-XXXXXX");
}

static void teardown(void)
{
    OSSL_PROVIDER_unload(alone);
    OSSL_LIB_CTX_free(without_default);
    alone = NULL;
    without_default = NULL;
    kmtls_libctx_free(lc);
    tu_run("rm -rf '%s'", dir);
}

int main(void)
{
    Suite *s = suite_create("reasons");
    TCase *tc = tcase_create("reasons");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, each_reason, 0, NREASONS);
    tcase_add_test(tc, every_reason_has_a_case);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
