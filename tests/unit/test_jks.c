/*
 * JKS / JCEKS reader (provider/jks.c). Real stores come from keytool via
 * tests/fixtures/volume.sh (KMTLS_FIXTURES names the directory holding ca/
 * and the client-jks and client-jceks volumes, under vol/ as make-all.sh
 * lays them out, or under jks/ and jceks/); odd cases are built here, and a
 * few byte strings were produced by the JDK 17 KeyStore and Cipher APIs so
 * that the crypto is checked against Java, not against itself.
 */
#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "kafka-mtls.h"
#include "testutil.h"
#include "readers.h"
#include "testutil_ossl.h"

static const char *fixtures;

/* ---- allocation watch: hostile length fields must not drive allocations */

static size_t max_alloc;

static void *watch_malloc(size_t n, const char *file, int line)
{
    (void)file, (void)line;
    if (n > max_alloc)
        max_alloc = n;
    return malloc(n);
}

static void *watch_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file, (void)line;
    if (n > max_alloc)
        max_alloc = n;
    return realloc(p, n);
}

static void watch_free(void *p, const char *file, int line)
{
    (void)file, (void)line;
    free(p);
}

/* ---- helpers ------------------------------------------------------------ */

typedef struct bytes {
    unsigned char *p;
    size_t len;
} bytes;

static char *fixture(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fixture(const char *fmt, ...)
{
    char rel[512], *path;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(rel, sizeof(rel), fmt, ap);
    va_end(ap);
    ck_assert(asprintf(&path, "%s/%s", fixtures, rel) > 0);
    return path;
}

static bytes slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    bytes b = { NULL, 0 };
    long n;

    ck_assert_msg(f != NULL, "cannot open fixture %s", path);
    ck_assert(fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0);
    b.len = (size_t)n;
    b.p = malloc(b.len);
    ck_assert(b.p != NULL && fread(b.p, 1, b.len, f) == b.len);
    fclose(f);
    return b;
}

/* The volume's ALIAS_creds: the password and a newline. */
static km_secret creds(const char *vol, const char *alias)
{
    char *path = fixture("%s/%s_creds", vol, alias);
    bytes b = slurp(path);
    km_secret s;

    while (b.len > 0 && (b.p[b.len - 1] == '\n' || b.p[b.len - 1] == '\r'))
        b.len--;
    s.data = OPENSSL_strndup((char *)b.p, b.len);
    s.len = b.len;
    ck_assert(s.data != NULL);
    free(b.p);
    free(path);
    return s;
}

static km_secret secret(const char *pw)
{
    km_secret s = { OPENSSL_strdup(pw), strlen(pw) };

    ck_assert(s.data != NULL);
    return s;
}

/* km_read_jks on an exact-size heap copy, so ASan sees any overrun. */
static int read_store(const char *path, const unsigned char *buf, size_t len,
                      const km_secret *pw, km_keystore **ks, km_status *st)
{
    unsigned char *copy = malloc(len ? len : 1);
    int ok;

    ck_assert(copy != NULL);
    if (len)
        memcpy(copy, buf, len);
    memset(st, 0, sizeof(*st));
    *ks = km_keystore_new(path);
    ck_assert(*ks != NULL);
    ok = km_read_jks(NULL, copy, len, pw, *ks, st);
    free(copy);
    return ok;
}

static void expect_ok(int ok, const km_status *st)
{
    ck_assert_msg(ok == 1 && st->reason == 0, "failed: reason %d: %s", st->reason, st->msg);
}

/* What a user would see: the reason, the file, the cause. */
static void expect_fail(int ok, const km_status *st, const char *path, int reason,
                        const char *needle)
{
    ck_assert_msg(ok == 0, "succeeded, expected reason %d", reason);
    ck_assert_msg(st->reason == reason, "reason %d, expected %d: %s", st->reason, reason, st->msg);
    ck_assert_msg(strncmp(st->msg, path, strlen(path)) == 0, "message does not name %s: %s",
                  path, st->msg);
    ck_assert_msg(strstr(st->msg, needle) != NULL, "message lacks \"%s\": %s", needle, st->msg);
}

static int cn_is(X509 *x, const char *cn)
{
    char buf[256];

    return X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf,
                                     sizeof(buf)) > 0 && strcmp(buf, cn) == 0;
}

/* The store keeps certificates as read: decoded here to compare. */
static int der_is(const km_ders *d, size_t i, X509 *want)
{
    X509 *x = i < d->n ? km_der_x509(NULL, &d->v[i]) : NULL;
    int same = x != NULL && X509_cmp(x, want) == 0;

    X509_free(x);
    return same;
}

static int trusted_is(const km_keystore *ks, size_t i, X509 *want)
{
    return der_is(&ks->trusted, i, want);
}

static unsigned char *hex(const char *h, size_t *len)
{
    long n;
    unsigned char *b = OPENSSL_hexstr2buf(h, &n);

    ck_assert(b != NULL);
    *len = (size_t)n;
    return b;
}

/* ---- a store writer for cases keytool will not produce ------------------- */

typedef struct wbuf {
    unsigned char p[8192];
    size_t len;
} wbuf;

static void w_raw(wbuf *b, const void *p, size_t n)
{
    ck_assert(b->len + n <= sizeof(b->p));
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void w_be(wbuf *b, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        unsigned char c = (unsigned char)(v >> (8 * i));

        w_raw(b, &c, 1);
    }
}

static void w_utf(wbuf *b, const void *s, size_t n)
{
    w_be(b, n, 2);
    w_raw(b, s, n);
}

static void w_header(wbuf *b, uint32_t magic, uint32_t version, uint32_t count)
{
    b->len = 0;
    w_be(b, magic, 4);
    w_be(b, version, 4);
    w_be(b, count, 4);
}

static void w_entry_head(wbuf *b, uint32_t tag, const void *alias, size_t alias_len)
{
    w_be(b, tag, 4);
    w_utf(b, alias, alias_len);
    w_be(b, 1700000000000ULL, 8);
}

static void w_cert(wbuf *b, int version, const char *type, const unsigned char *der, size_t len)
{
    if (version == 2)
        w_utf(b, type, strlen(type));
    w_be(b, len, 4);
    w_raw(b, der, len);
}

/* The trailer for an ASCII password: SHA1(UTF-16BE(pw) || "Mighty Aphrodite" || body). */
static void w_trailer(wbuf *b, const char *pw)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char d[20];

    ck_assert(ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL));
    for (const char *c = pw; *c; c++) {
        unsigned char u[2] = { 0, (unsigned char)*c };

        EVP_DigestUpdate(ctx, u, 2);
    }
    EVP_DigestUpdate(ctx, "Mighty Aphrodite", 16);
    EVP_DigestUpdate(ctx, b->p, b->len);
    ck_assert(EVP_DigestFinal_ex(ctx, d, NULL));
    EVP_MD_CTX_free(ctx);
    w_raw(b, d, sizeof(d));
}

static unsigned char *ca_der(size_t *len)
{
    char *path = fixture("ca/ca.crt");
    X509 *ca = tu_read_pem_cert(path);
    unsigned char *der = NULL;
    int n = i2d_X509(ca, &der);

    ck_assert(n > 0);
    *len = (size_t)n;
    X509_free(ca);
    free(path);
    return der;
}

/* ---- JDK 17 vectors ------------------------------------------------------ */

/* KeyStore.getInstance(T).store() of an empty store under the password
 * "p\u00e4ss\u20ac\uD83D\uDE00" (UTF-8 below): checks the UTF-16 conversion,
 * surrogate pair included. */
#define UNICODE_PW "p\xc3\xa4ss\xe2\x82\xac\xf0\x9f\x98\x80"
static const char empty_jks_hex[] =
    "feedfeed0000000200000000a1ea6ad898e6e0408cb1728eb9c1bf945b7bbbaa";
static const char empty_jceks_hex[] =
    "cececece00000002000000001fb3667e90de854a2d8dfe51a066c2c3ecc0f13a";

/* An EC P-256 PKCS#8 key, and Cipher("PBEWithMD5AndTripleDES") encryptions of
 * it under "changeit", 10 iterations, wrapped as EncryptedPrivateKeyInfo.
 * Salt 0102030401020304 has equal halves: Java reverses the first half and
 * records the reversed salt (0403020101020304); both must decrypt. */
static const char vec_pkcs8_hex[] =
    "3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420"
    "468823dcaf67ff2b2d471f5eca83510aeb20a7c60353ed6d469ee9eb52b2404f";
static const char vec_equal_halves_hex[] =
    "3066301a06092b060104012a021301300d0408010203040102030402010a0448748be585"
    "8b2083227eabdcdab8114a33d42935e33ad578d8a37fa0ff0dd04e6673d98acb50587589"
    "209798f78fa1a1feec3d20b34f2c198f31cbb91426f54fceb25d4715dd231b9a";
static const char vec_java_stored_hex[] =
    "3066301a06092b060104012a021301300d0408040302010102030402010a0448748be585"
    "8b2083227eabdcdab8114a33d42935e33ad578d8a37fa0ff0dd04e6673d98acb50587589"
    "209798f78fa1a1feec3d20b34f2c198f31cbb91426f54fceb25d4715dd231b9a";
static const char vec_plain_salt_hex[] =
    "3066301a06092b060104012a021301300d0408010203040506070802010a0448db81a786"
    "2685c721ae8832c59ad3e56066802a37c30d9b4a2adc045e735f52cfb316072abc39e759"
    "2f52eed52e32351ca15f5f8d390f164c48b28c2a5afa41de8e2f39ec0624de9c";

/* ---- keytool stores -------------------------------------------------------- */

typedef struct volume {
    const char *alias, *format;
    km_key_kind kind;
    const char *dirs[2];  /* where the fixture layout may put the volume */
    const char *dir;      /* the one found, relative to KMTLS_FIXTURES */
} volume;

static volume vols[] = {
    { "client-jks", "JKS", KM_KEY_JKS, { "vol/client-jks", "jks/client-jks" }, NULL },
    { "client-jceks", "JCEKS", KM_KEY_JCEKS, { "vol/client-jceks", "jceks/client-jceks" }, NULL },
};

/* Finds each volume by its ALIAS_creds file; 0 (and says why) if one is missing. */
static int find_volumes(void)
{
    for (size_t i = 0; i < sizeof(vols) / sizeof(vols[0]); i++) {
        for (size_t d = 0; d < 2 && vols[i].dir == NULL; d++) {
            char *creds_path;

            if (asprintf(&creds_path, "%s/%s/%s_creds", fixtures, vols[i].dirs[d],
                         vols[i].alias) < 0)
                return 0;
            if (access(creds_path, R_OK) == 0)
                vols[i].dir = vols[i].dirs[d];
            free(creds_path);
        }
        if (vols[i].dir == NULL) {
            fprintf(stderr, "test_jks: no %s volume in %s (looked for %s/ and %s/)\n",
                    vols[i].format, fixtures, vols[i].dirs[0], vols[i].dirs[1]);
            return 0;
        }
    }
    return 1;
}

static char *store_path(const volume *v, const char *part)
{
    return fixture("%s/%s.%s.jks", v->dir, v->alias, part);
}

START_TEST(keystore_reads)
{
    const volume *v = &vols[_i];
    char *path = store_path(v, "keystore"), *capath = fixture("ca/ca.crt");
    char *leafpath = fixture("%s/%s-ca1-signed.crt", v->dir, v->alias);
    X509 *ca = tu_read_pem_cert(capath), *leaf = tu_read_pem_cert(leafpath);
    bytes file = slurp(path);
    km_secret pw = creds(v->dir, v->alias);
    km_keystore *ks;
    km_status st;
    unsigned char *der = NULL;
    const unsigned char *p;
    size_t der_len = 0;
    EVP_PKEY *pkey;
    km_key_entry *k;

    expect_ok(read_store(path, file.p, file.len, &pw, &ks, &st), &st);
    ck_assert_str_eq(km_format_name(ks->format), v->format);
    ck_assert_uint_eq(ks->nkeys, 1);
    k = &ks->keys[0];
    ck_assert_str_eq(k->alias, v->alias);
    ck_assert_int_eq(k->kind, v->kind);
    ck_assert_uint_eq(k->chain.n, 2);
    ck_assert(cn_is(leaf, v->alias));
    ck_assert(der_is(&k->chain, 0, leaf));
    ck_assert(der_is(&k->chain, 1, ca));
    ck_assert_uint_eq(ks->trusted.n, 1);
    ck_assert(trusted_is(ks, 0, ca));

    /* keys stay encrypted until asked for: the blob is not PKCS#8 */
    ck_assert(k->blob != NULL && k->blob_len > 100);

    memset(&st, 0, sizeof(st));
    expect_ok(km_decrypt_jks_key(NULL, ks, k, &pw, &der, &der_len, &st), &st);
    p = der;
    pkey = d2i_AutoPrivateKey_ex(NULL, &p, (long)der_len, NULL, NULL);
    ck_assert(pkey != NULL && p == der + der_len);
    ck_assert_int_eq(X509_check_private_key(leaf, pkey), 1);

    EVP_PKEY_free(pkey);
    OPENSSL_clear_free(der, der_len);
    km_keystore_free(ks);
    km_secret_clear(&pw);
    X509_free(ca);
    X509_free(leaf);
    free(file.p);
    free(path);
    free(capath);
    free(leafpath);
}
END_TEST

START_TEST(truststore_reads)
{
    const volume *v = &vols[_i];
    char *path = store_path(v, "truststore"), *capath = fixture("ca/ca.crt");
    X509 *ca = tu_read_pem_cert(capath);
    bytes file = slurp(path);
    km_secret pw = creds(v->dir, v->alias);
    km_keystore *ks;
    km_status st;

    expect_ok(read_store(path, file.p, file.len, &pw, &ks, &st), &st);
    ck_assert_str_eq(km_format_name(ks->format), v->format);
    ck_assert_uint_eq(ks->nkeys, 0);
    ck_assert_uint_eq(ks->trusted.n, 1);
    ck_assert(trusted_is(ks, 0, ca));

    km_keystore_free(ks);
    km_secret_clear(&pw);
    X509_free(ca);
    free(file.p);
    free(path);
    free(capath);
}
END_TEST

START_TEST(wrong_password)
{
    const volume *v = &vols[_i];
    char *path = store_path(v, "keystore"), *tpath = store_path(v, "truststore");
    bytes file = slurp(path), tfile = slurp(tpath);
    km_secret good = creds(v->dir, v->alias), bad = secret("not-the-password");
    km_keystore *ks;
    km_status st;
    unsigned char *der = NULL;
    size_t der_len = 0;

    expect_fail(read_store(path, file.p, file.len, &bad, &ks, &st), &st, path,
                KAFKA_MTLS_R_WRONG_PASSWORD, "integrity check failed: wrong password");
    km_keystore_free(ks);
    expect_fail(read_store(tpath, tfile.p, tfile.len, &bad, &ks, &st), &st, tpath,
                KAFKA_MTLS_R_WRONG_PASSWORD, "wrong password");
    km_keystore_free(ks);

    /* a key password other than the store's */
    expect_ok(read_store(path, file.p, file.len, &good, &ks, &st), &st);
    memset(&st, 0, sizeof(st));
    expect_fail(km_decrypt_jks_key(NULL, ks, &ks->keys[0], &bad, &der, &der_len, &st), &st,
                path, KAFKA_MTLS_R_WRONG_PASSWORD, "wrong password");
    ck_assert_msg(strstr(st.msg, v->alias) != NULL, "alias not named: %s", st.msg);
    ck_assert(der == NULL);
    memset(&st, 0, sizeof(st));
    expect_fail(km_decrypt_jks_key(NULL, ks, &ks->keys[0], NULL, &der, &der_len, &st), &st,
                path, KAFKA_MTLS_R_NO_PASSWORD, "password is needed");
    km_keystore_free(ks);

    expect_fail(read_store(path, file.p, file.len, NULL, &ks, &st), &st, path,
                KAFKA_MTLS_R_NO_PASSWORD, "password is needed");
    km_keystore_free(ks);

    km_secret_clear(&good);
    km_secret_clear(&bad);
    free(file.p);
    free(tfile.p);
    free(path);
    free(tpath);
}
END_TEST

/* One flipped byte in the CA certificate's signature: the framing and the DER
 * stay well formed, only the trailer catches it. */
static void flip_in_ca_cert(bytes *file)
{
    size_t len;
    unsigned char *der = ca_der(&len), *at = memmem(file->p, file->len, der, len);

    ck_assert_msg(at != NULL, "CA certificate not found in the store");
    at[len - 1] ^= 0x01;
    OPENSSL_free(der);
}

START_TEST(modified_file)
{
    const volume *v = &vols[_i];
    char *path = store_path(v, "keystore"), *tpath = store_path(v, "truststore");
    bytes file = slurp(path), tfile = slurp(tpath);
    km_secret pw = creds(v->dir, v->alias);
    km_keystore *ks;
    km_status st;

    flip_in_ca_cert(&file);
    expect_fail(read_store(path, file.p, file.len, &pw, &ks, &st), &st, path,
                KAFKA_MTLS_R_INTEGRITY, "integrity check failed: the file was modified");
    ck_assert_uint_eq(ks->nkeys, 0);
    km_keystore_free(ks);

    /* without a key to try the password on, the two causes look alike */
    flip_in_ca_cert(&tfile);
    expect_fail(read_store(tpath, tfile.p, tfile.len, &pw, &ks, &st), &st, tpath,
                KAFKA_MTLS_R_WRONG_PASSWORD, "wrong password or the file was modified");
    km_keystore_free(ks);

    km_secret_clear(&pw);
    free(file.p);
    free(tfile.p);
    free(path);
    free(tpath);
}
END_TEST

START_TEST(truncated_everywhere)
{
    const volume *v = &vols[_i / 2];
    char *path = store_path(v, _i % 2 ? "truststore" : "keystore");
    bytes file = slurp(path);
    km_secret pw = creds(v->dir, v->alias);

    for (size_t len = 0; len < file.len; len++) {
        km_keystore *ks;
        km_status st;
        int ok = read_store(path, file.p, len, &pw, &ks, &st);

        ck_assert_msg(ok == 0 && st.reason == KAFKA_MTLS_R_CORRUPT,
                      "length %zu of %zu: ok %d reason %d: %s", len, file.len, ok, st.reason,
                      st.msg);
        ck_assert_msg(strstr(st.msg, "truncated") != NULL, "length %zu: %s", len, st.msg);
        km_keystore_free(ks);
    }
    km_secret_clear(&pw);
    free(file.p);
    free(path);
}
END_TEST

/* ---- hostile and unusual framing ----------------------------------------- */

static const char *synth = "/synthetic/store.jks";

/* A JCEKS (or JKS) store with one key entry holding the Java vector. */
static void w_key_store(wbuf *b, uint32_t magic, const void *alias, size_t alias_len,
                        uint32_t ncerts)
{
    size_t n;
    unsigned char *epki = hex(vec_plain_salt_hex, &n);

    w_header(b, magic, 2, 1);
    w_entry_head(b, 1, alias, alias_len);
    w_be(b, n, 4);
    w_raw(b, epki, n);
    w_be(b, ncerts, 4);
    OPENSSL_free(epki);
}

static void expect_read_fail(const wbuf *b, const char *pw, int reason, const char *needle)
{
    km_secret s = secret(pw);
    km_keystore *ks;
    km_status st;

    max_alloc = 0;
    expect_fail(read_store(synth, b->p, b->len, &s, &ks, &st), &st, synth, reason, needle);
    ck_assert_msg(max_alloc < 64 * 1024, "allocated %zu bytes at once", max_alloc);
    km_keystore_free(ks);
    km_secret_clear(&s);
}

START_TEST(absurd_fields)
{
    wbuf b;
    size_t calen;
    unsigned char *ca = ca_der(&calen);

    /* entry count */
    w_header(&b, 0xFEEDFEED, 2, 0xFFFFFFFF);
    w_trailer(&b, "changeit");
    expect_read_fail(&b, "changeit", KAFKA_MTLS_R_CORRUPT, "claims 4294967295 entries");

    /* alias length */
    w_header(&b, 0xFEEDFEED, 2, 1);
    w_be(&b, 2, 4);
    w_be(&b, 0xFFFF, 2);
    w_raw(&b, "caroot", 6);
    w_trailer(&b, "changeit");
    expect_read_fail(&b, "changeit", KAFKA_MTLS_R_CORRUPT, "entry 1 runs past the end");

    /* certificate length */
    w_header(&b, 0xFEEDFEED, 2, 1);
    w_entry_head(&b, 2, "caroot", 6);
    w_utf(&b, "X.509", 5);
    w_be(&b, 0xFFFFFFFF, 4);
    w_raw(&b, ca, calen);
    w_trailer(&b, "changeit");
    expect_read_fail(&b, "changeit", KAFKA_MTLS_R_CORRUPT, "entry 1 runs past the end");

    /* key length */
    w_header(&b, 0xCECECECE, 2, 1);
    w_entry_head(&b, 1, "k", 1);
    w_be(&b, 0xFFFFFFF0, 4);
    w_raw(&b, ca, calen);
    w_trailer(&b, "changeit");
    expect_read_fail(&b, "changeit", KAFKA_MTLS_R_CORRUPT, "entry 1 runs past the end");

    /* chain length */
    w_key_store(&b, 0xCECECECE, "k", 1, 0x7FFFFFFF);
    w_cert(&b, 2, "X.509", ca, calen);
    w_trailer(&b, "changeit");
    expect_read_fail(&b, "changeit", KAFKA_MTLS_R_CORRUPT, "claims 2147483647 certificates");

    /* version, entry type, trailing bytes */
    w_header(&b, 0xFEEDFEED, 7, 0);
    w_trailer(&b, "changeit");
    expect_read_fail(&b, "changeit", KAFKA_MTLS_R_CORRUPT, "unknown version 7");

    w_header(&b, 0xFEEDFEED, 2, 1);
    w_entry_head(&b, 9, "x", 1);
    w_cert(&b, 2, "X.509", ca, calen);
    w_trailer(&b, "changeit");
    expect_read_fail(&b, "changeit", KAFKA_MTLS_R_CORRUPT, "entry 1 has unknown type 9");

    w_header(&b, 0xFEEDFEED, 2, 0);
    w_trailer(&b, "changeit");
    w_raw(&b, "junk", 4);
    expect_read_fail(&b, "changeit", KAFKA_MTLS_R_CORRUPT, "4 unexpected bytes after");

    /* not this format at all */
    w_header(&b, 0x30820101, 2, 0);
    expect_read_fail(&b, "changeit", KAFKA_MTLS_R_UNSUPPORTED_FORMAT, "not a JKS or JCEKS");

    OPENSSL_free(ca);
}
END_TEST

START_TEST(secret_key_entry)
{
    wbuf b;
    size_t calen;
    unsigned char *ca = ca_der(&calen);

    /* JCEKS tag 3: cannot be skipped, so the whole store is refused by name */
    w_header(&b, 0xCECECECE, 2, 2);
    w_entry_head(&b, 2, "caroot", 6);
    w_cert(&b, 2, "X.509", ca, calen);
    w_entry_head(&b, 3, "my-hmac-key", 11);
    w_raw(&b, "\xac\xed\x00\x05sr\x00\x19javax.crypto.SealedObject", 32);
    w_trailer(&b, "changeit");
    expect_read_fail(&b, "changeit", KAFKA_MTLS_R_UNSUPPORTED_CONTENT,
                     "JCEKS secret-key entries are not supported (entry \"my-hmac-key\")");

    /* JKS has no such entry type */
    b.p[3] = 0xED, b.p[2] = 0xFE, b.p[1] = 0xED, b.p[0] = 0xFE;
    expect_read_fail(&b, "changeit", KAFKA_MTLS_R_CORRUPT, "entry 2 has unknown type 3");
    OPENSSL_free(ca);
}
END_TEST

START_TEST(certificate_type_and_version1)
{
    wbuf b;
    size_t calen;
    unsigned char *ca = ca_der(&calen);
    km_secret pw = secret("changeit");
    km_keystore *ks;
    km_status st;

    /* version 1 has no certificate type strings */
    w_header(&b, 0xFEEDFEED, 1, 1);
    w_entry_head(&b, 2, "caroot", 6);
    w_cert(&b, 1, NULL, ca, calen);
    w_trailer(&b, "changeit");
    expect_ok(read_store(synth, b.p, b.len, &pw, &ks, &st), &st);
    ck_assert_uint_eq(ks->trusted.n, 1);
    km_keystore_free(ks);

    w_header(&b, 0xFEEDFEED, 2, 1);
    w_entry_head(&b, 2, "caroot", 6);
    w_cert(&b, 2, "PGP", ca, calen);
    w_trailer(&b, "changeit");
    expect_read_fail(&b, "changeit", KAFKA_MTLS_R_UNSUPPORTED_CONTENT,
                     "entry \"caroot\" holds a certificate of type \"PGP\"");

    /* a well-framed entry whose certificate is not DER */
    w_header(&b, 0xFEEDFEED, 2, 1);
    w_entry_head(&b, 2, "caroot", 6);
    w_cert(&b, 2, "X.509", (const unsigned char *)"not a certificate", 17);
    w_trailer(&b, "changeit");
    expect_read_fail(&b, "changeit", KAFKA_MTLS_R_CORRUPT, "malformed X.509 certificate");

    km_secret_clear(&pw);
    OPENSSL_free(ca);
}
END_TEST

START_TEST(modified_utf8_alias)
{
    /* 'k', NUL (C0 80), U+1F600 as a CESU surrogate pair, a lone high
     * surrogate, '!' */
    static const unsigned char alias[] = "k\xc0\x80\xed\xa0\xbd\xed\xb8\x80\xed\xa0\xbd!";
    wbuf b;
    km_secret pw = secret("changeit");
    km_keystore *ks;
    km_status st;
    unsigned char *der = NULL;
    size_t der_len = 0;

    w_key_store(&b, 0xCECECECE, alias, sizeof(alias) - 1, 0);
    w_trailer(&b, "changeit");
    expect_ok(read_store(synth, b.p, b.len, &pw, &ks, &st), &st);
    ck_assert_uint_eq(ks->nkeys, 1);
    ck_assert_str_eq(ks->keys[0].alias, "k\xef\xbf\xbd\xf0\x9f\x98\x80\xef\xbf\xbd!");
    ck_assert_int_eq(ks->keys[0].kind, KM_KEY_JCEKS);
    ck_assert_uint_eq(ks->keys[0].chain.n, 0);
    expect_ok(km_decrypt_jks_key(NULL, ks, &ks->keys[0], &pw, &der, &der_len, &st), &st);
    OPENSSL_clear_free(der, der_len);
    km_keystore_free(ks);

    w_key_store(&b, 0xCECECECE, "k\xff", 2, 0);
    w_trailer(&b, "changeit");
    expect_read_fail(&b, "changeit", KAFKA_MTLS_R_CORRUPT,
                     "alias of entry 1 is not modified UTF-8");
    km_secret_clear(&pw);
}
END_TEST

START_TEST(unicode_password_java_vectors)
{
    const char *vec[] = { empty_jks_hex, empty_jceks_hex };
    km_secret upw = secret(UNICODE_PW), ascii = secret("pass"), invalid = secret("p\xc3(");

    for (int i = 0; i < 2; i++) {
        size_t len;
        unsigned char *buf = hex(vec[i], &len);
        km_keystore *ks;
        km_status st;

        expect_ok(read_store(synth, buf, len, &upw, &ks, &st), &st);
        ck_assert_str_eq(km_format_name(ks->format), i ? "JCEKS" : "JKS");
        ck_assert_uint_eq(ks->nkeys, 0);
        ck_assert_uint_eq(ks->trusted.n, 0);
        km_keystore_free(ks);
        expect_fail(read_store(synth, buf, len, &ascii, &ks, &st), &st, synth,
                    KAFKA_MTLS_R_WRONG_PASSWORD, "wrong password");
        km_keystore_free(ks);
        expect_fail(read_store(synth, buf, len, &invalid, &ks, &st), &st, synth,
                    KAFKA_MTLS_R_WRONG_PASSWORD, "password is not valid UTF-8");
        km_keystore_free(ks);
        OPENSSL_free(buf);
    }
    km_secret_clear(&upw);
    km_secret_clear(&ascii);
    km_secret_clear(&invalid);
}
END_TEST

START_TEST(jceks_java_vectors)
{
    const char *vec[] = { vec_equal_halves_hex, vec_java_stored_hex, vec_plain_salt_hex };
    km_secret pw = secret("changeit"), upw = secret(UNICODE_PW);
    km_keystore *ks = km_keystore_new(synth);
    size_t want_len;
    unsigned char *want = hex(vec_pkcs8_hex, &want_len);

    for (int i = 0; i < 3; i++) {
        km_key_entry k = { .alias = "vec", .kind = KM_KEY_JCEKS };
        unsigned char *der = NULL;
        size_t der_len = 0;
        km_status st = { 0 };

        k.blob = hex(vec[i], &k.blob_len);
        expect_ok(km_decrypt_jks_key(NULL, ks, &k, &pw, &der, &der_len, &st), &st);
        ck_assert_uint_eq(der_len, want_len);
        ck_assert_mem_eq(der, want, want_len);
        OPENSSL_clear_free(der, der_len);

        memset(&st, 0, sizeof(st));
        expect_fail(km_decrypt_jks_key(NULL, ks, &k, &upw, &der, &der_len, &st), &st, synth,
                    KAFKA_MTLS_R_WRONG_PASSWORD, "must be printable ASCII");
        OPENSSL_free(k.blob);
    }
    OPENSSL_free(want);
    km_keystore_free(ks);
    km_secret_clear(&pw);
    km_secret_clear(&upw);
}
END_TEST

static Suite *jks_suite(void)
{
    Suite *s = suite_create("jks");
    TCase *tc = tcase_create("keytool");
    TCase *syn = tcase_create("synthetic");

    /* JCEKS keys cost 2 x 200000 MD5 rounds, slow under sanitizers */
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, keystore_reads, 0, 2);
    tcase_add_loop_test(tc, truststore_reads, 0, 2);
    tcase_add_loop_test(tc, wrong_password, 0, 2);
    tcase_add_loop_test(tc, modified_file, 0, 2);
    tcase_add_loop_test(tc, truncated_everywhere, 0, 4);
    suite_add_tcase(s, tc);

    tcase_set_timeout(syn, 60);
    tcase_add_test(syn, absurd_fields);
    tcase_add_test(syn, secret_key_entry);
    tcase_add_test(syn, certificate_type_and_version1);
    tcase_add_test(syn, modified_utf8_alias);
    tcase_add_test(syn, unicode_password_java_vectors);
    tcase_add_test(syn, jceks_java_vectors);
    suite_add_tcase(s, syn);
    return s;
}

int main(void)
{
    /* before OpenSSL allocates anything */
    CRYPTO_set_mem_functions(watch_malloc, watch_realloc, watch_free);
    fixtures = getenv("KMTLS_FIXTURES");
    if (fixtures == NULL || *fixtures == '\0') {
        fprintf(stderr, "test_jks: KMTLS_FIXTURES is not set: it must name the directory "
                        "built by tests/fixtures/make-all.sh (ca/, vol/client-jks/, "
                        "vol/client-jceks/)\n");
        return EXIT_FAILURE;
    }
    if (!find_volumes())
        return EXIT_FAILURE;
    return tu_main(jks_suite());
}
