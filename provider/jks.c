/*
 * Sun JKS and JCEKS keystores, as keytool writes them (-storetype JKS|JCEKS).
 * The framing is parsed by hand, every read bounds-checked; all cryptography
 * goes through libcrypto.
 *
 * Layout (big-endian):
 *   u32 magic (FEEDFEED = JKS, CECECECE = JCEKS), u32 version (1|2), u32 count
 *   count entries: u32 tag, UTF alias, u64 timestamp (ms), then by tag:
 *     1 private key:  u32 len + EncryptedPrivateKeyInfo, u32 n + n certificates
 *     2 trusted cert: one certificate
 *     3 secret key (JCEKS only): a serialized Java object, no length prefix
 *   certificate: (version 2 only) UTF type "X.509", then u32 len + DER
 *   trailer: SHA1(UTF-16BE(password) || "Mighty Aphrodite" || every byte before)
 * UTF is Java's DataOutput.writeUTF: u16 byte length + modified UTF-8.
 *
 * Reading is two passes over the framing: the first only checks that it is
 * well formed and finds the trailer, so that nothing in the file is decoded
 * before the password has proven it unmodified; the second decodes entries.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "kafka-mtls.h"
#include "keystore.h"

#define JKS_MAGIC   0xFEEDFEEDu
#define JCEKS_MAGIC 0xCECECECEu

enum { TAG_PRIVATE_KEY = 1, TAG_TRUSTED_CERT = 2, TAG_SECRET_KEY = 3 };

#define HEADER_LEN 12
#define SHA1_LEN 20
/* Smallest entry: tag, empty alias, timestamp, version-1 empty certificate.
 * Bounds a declared entry count by what the file can possibly hold. */
#define MIN_ENTRY_LEN (4 + 2 + 8 + 4)
#define MIN_CERT_LEN 4

#define JKS_KEY_OID   "1.3.6.1.4.1.42.2.17.1.1"  /* Sun JKS key protector */
#define JCEKS_KEY_OID "1.3.6.1.4.1.42.2.19.1"    /* PBEWithMD5AndTripleDES */
#define JKS_SALT_LEN 20
#define JCEKS_SALT_LEN 8
/* The JDK's own ceiling (com.sun.crypto.provider.KeyProtector): anything
 * above it is no keystore Java could open, and would only burn CPU. */
#define JCEKS_MAX_ITERATIONS 5000000

static const char whitener[] = "Mighty Aphrodite";

/* ---- bounds-checked big-endian reader ---------------------------------- */

typedef struct reader {
    const unsigned char *buf;
    size_t len, off;
} reader;

static size_t rd_left(const reader *r)
{
    return r->len - r->off;
}

static int rd_bytes(reader *r, size_t n, const unsigned char **out)
{
    if (n > rd_left(r))
        return 0;
    *out = r->buf + r->off;
    r->off += n;
    return 1;
}

static int rd_uint(reader *r, size_t n, uint64_t *out)
{
    const unsigned char *p;

    if (!rd_bytes(r, n, &p))
        return 0;
    *out = 0;
    for (size_t i = 0; i < n; i++)
        *out = *out << 8 | p[i];
    return 1;
}

static int rd_u32(reader *r, uint32_t *out)
{
    uint64_t v;

    if (!rd_uint(r, 4, &v))
        return 0;
    *out = (uint32_t)v;
    return 1;
}

/* A writeUTF string: u16 length, then that many bytes (not decoded here). */
static int rd_utf(reader *r, const unsigned char **s, size_t *n)
{
    uint64_t len;

    if (!rd_uint(r, 2, &len) || !rd_bytes(r, (size_t)len, s))
        return 0;
    *n = (size_t)len;
    return 1;
}

/* ---- text conversions -------------------------------------------------- */

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* One UTF-16 code unit from modified UTF-8, decoded as leniently as Java's
 * DataInputStream.readUTF (which accepts overlong forms). 0 if malformed. */
static int mutf8_unit(const unsigned char *s, size_t n, size_t *i, uint32_t *unit)
{
    unsigned char b = s[*i];

    if (b < 0x80) {
        *unit = b;
        *i += 1;
        return 1;
    }
    if ((b & 0xE0) == 0xC0 && *i + 1 < n && (s[*i + 1] & 0xC0) == 0x80) {
        *unit = (uint32_t)(b & 0x1F) << 6 | (s[*i + 1] & 0x3F);
        *i += 2;
        return 1;
    }
    if ((b & 0xF0) == 0xE0 && *i + 2 < n && (s[*i + 1] & 0xC0) == 0x80
        && (s[*i + 2] & 0xC0) == 0x80) {
        *unit = (uint32_t)(b & 0x0F) << 12 | (uint32_t)(s[*i + 1] & 0x3F) << 6
                | (s[*i + 2] & 0x3F);
        *i += 3;
        return 1;
    }
    return 0;
}

/*
 * Java's modified UTF-8 to standard UTF-8: surrogate pairs (two 3-byte
 * sequences) become one 4-byte sequence. NUL (0xC0 0x80) and unpaired
 * surrogates, legal in a Java alias but not representable in a C string of
 * valid UTF-8, become U+FFFD so that they stay visible in messages.
 * Returns a NUL-terminated string, or NULL with *malformed set (bad bytes)
 * or clear (out of memory).
 */
static char *mutf8_to_utf8(const unsigned char *s, size_t n, int *malformed)
{
    /* Each input byte yields at most 3 output bytes (a lone NUL byte becomes
     * U+FFFD); everything else shrinks or keeps its length. */
    char *out = OPENSSL_malloc(3 * n + 1);
    size_t i = 0, o = 0;

    *malformed = 0;
    if (out == NULL)
        return NULL;
    while (i < n) {
        uint32_t u, lo;
        size_t next;

        if (!mutf8_unit(s, n, &i, &u)) {
            *malformed = 1;
            OPENSSL_free(out);
            return NULL;
        }
        next = i;
        if (u >= 0xD800 && u <= 0xDBFF && i < n && mutf8_unit(s, n, &next, &lo)
            && lo >= 0xDC00 && lo <= 0xDFFF) {
            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            i = next;
        } else if (u == 0 || (u >= 0xD800 && u <= 0xDFFF)) {
            u = 0xFFFD;
        }
        o += put_utf8(out + o, u);
    }
    out[o] = '\0';
    return out;
}

/* Frees what password_utf16be allocated (its size depends only on pw). */
static void pw16_free(unsigned char *pw16, const km_secret *pw)
{
    OPENSSL_clear_free(pw16, 2 * pw->len + 1);
}

/* Strict UTF-8 decoding of one code point; 0 if invalid (overlong forms,
 * surrogates, beyond U+10FFFF, truncated). */
static int utf8_next(const unsigned char *s, size_t n, size_t *i, uint32_t *cp)
{
    static const uint32_t min[4] = { 0, 0x80, 0x800, 0x10000 };
    unsigned char b = s[*i];
    size_t extra;
    uint32_t v;

    if (b < 0x80)
        extra = 0, v = b;
    else if ((b & 0xE0) == 0xC0)
        extra = 1, v = b & 0x1F;
    else if ((b & 0xF0) == 0xE0)
        extra = 2, v = b & 0x0F;
    else if ((b & 0xF8) == 0xF0)
        extra = 3, v = b & 0x07;
    else
        return 0;
    if (extra >= n - *i)
        return 0;
    for (size_t k = 1; k <= extra; k++) {
        if ((s[*i + k] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[*i + k] & 0x3F);
    }
    if (v < min[extra] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *i += extra + 1;
    *cp = v;
    return 1;
}

/*
 * The password as Java hashes it: its UTF-16 code units, big-endian (Java
 * hands keystores a char[]). The secret is UTF-8; characters beyond the BMP
 * become surrogate pairs. Returns 1, 0 if the password is not valid UTF-8,
 * -1 out of memory. *out is cleanse-freed by the caller.
 */
static int password_utf16be(const km_secret *pw, unsigned char **out, size_t *out_len)
{
    const unsigned char *s = (const unsigned char *)pw->data;
    /* At most two output bytes per input byte (4-byte UTF-8 -> 4 bytes). */
    unsigned char *o = OPENSSL_malloc(2 * pw->len + 1);
    size_t i = 0, n = 0;

    if (o == NULL)
        return -1;
    while (i < pw->len) {
        uint32_t cp;

        if (!utf8_next(s, pw->len, &i, &cp)) {
            pw16_free(o, pw);
            return 0;
        }
        if (cp >= 0x10000) {
            uint32_t hi = 0xD800 + ((cp - 0x10000) >> 10);

            o[n++] = (unsigned char)(hi >> 8);
            o[n++] = (unsigned char)hi;
            cp = 0xDC00 + ((cp - 0x10000) & 0x3FF);
        }
        o[n++] = (unsigned char)(cp >> 8);
        o[n++] = (unsigned char)cp;
    }
    *out = o;
    *out_len = n;
    return 1;
}

/* ---- digests ----------------------------------------------------------- */

/* out = md(a || b || c); c may be NULL. */
static int hash3(EVP_MD_CTX *ctx, const EVP_MD *md, const void *a, size_t alen,
                 const void *b, size_t blen, const void *c, size_t clen,
                 unsigned char *out)
{
    return EVP_DigestInit_ex2(ctx, md, NULL)
           && EVP_DigestUpdate(ctx, a, alen)
           && EVP_DigestUpdate(ctx, b, blen)
           && (c == NULL || EVP_DigestUpdate(ctx, c, clen))
           && EVP_DigestFinal_ex(ctx, out, NULL);
}

/* Outcome of the store trailer check or of a key protector. */
typedef enum unprotect_result {
    UNP_OK,
    UNP_BAD_PASSWORD,   /* the password does not fit */
    UNP_MALFORMED,      /* the protected data is not what the algorithm needs */
    UNP_UNSUPPORTED,    /* something we recognise but cannot use */
    UNP_INTERNAL        /* out of memory or a libcrypto failure */
} unprotect_result;

static int reason_of(unprotect_result r)
{
    switch (r) {
    case UNP_BAD_PASSWORD:
        return KAFKA_MTLS_R_WRONG_PASSWORD;
    case UNP_MALFORMED:
        return KAFKA_MTLS_R_CORRUPT;
    case UNP_UNSUPPORTED:
        return KAFKA_MTLS_R_UNSUPPORTED_CONTENT;
    default:
        return KAFKA_MTLS_R_INTERNAL;
    }
}

/* SHA1(pw16 || "Mighty Aphrodite" || body) == trailer, in constant time. */
static unprotect_result check_trailer(OSSL_LIB_CTX *libctx, const unsigned char *pw16,
                                      size_t pw16_len, const unsigned char *body,
                                      size_t body_len, const unsigned char *trailer)
{
    EVP_MD *sha1 = EVP_MD_fetch(libctx, "SHA1", NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char d[SHA1_LEN];
    unprotect_result r = UNP_INTERNAL;

    if (sha1 != NULL && ctx != NULL
        && hash3(ctx, sha1, pw16, pw16_len, whitener, sizeof(whitener) - 1, body, body_len, d))
        r = CRYPTO_memcmp(d, trailer, SHA1_LEN) == 0 ? UNP_OK : UNP_BAD_PASSWORD;
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(sha1);
    return r;
}

/* ---- key protectors ---------------------------------------------------- */

/* Accepts plain as the result only if it is a PKCS#8 PrivateKeyInfo and
 * nothing else: a key protector without a MAC has no better check. */
static int is_pkcs8(const unsigned char *plain, size_t len)
{
    const unsigned char *p = plain;
    PKCS8_PRIV_KEY_INFO *p8;
    int ok;

    if (len > LONG_MAX)
        return 0;
    p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    ok = p8 != NULL && p == plain + len;
    PKCS8_PRIV_KEY_INFO_free(p8);  /* cleanses the key octets */
    return ok;
}

/*
 * Sun's JKS key protector: data = salt[20] || E || check[20], keystream
 * D1 || D2 || ... with D0 = salt, Di = SHA1(pw16 || Di-1); plain = E xor
 * keystream; check = SHA1(pw16 || plain) proves the password.
 */
static unprotect_result jks_unprotect(OSSL_LIB_CTX *libctx, const unsigned char *data,
                                      size_t len, const km_secret *pw, unsigned char **der,
                                      size_t *der_len, const char **why)
{
    EVP_MD *sha1 = NULL;
    EVP_MD_CTX *ctx = NULL;
    unsigned char *pw16 = NULL, *plain = NULL;
    unsigned char d[SHA1_LEN], check[SHA1_LEN];
    size_t pw16_len = 0, elen;
    unprotect_result r = UNP_INTERNAL;
    int conv;

    if (len <= JKS_SALT_LEN + SHA1_LEN) {
        *why = "the protected key is too short";
        return UNP_MALFORMED;
    }
    elen = len - JKS_SALT_LEN - SHA1_LEN;
    conv = password_utf16be(pw, &pw16, &pw16_len);
    if (conv == 0) {
        *why = "the password is not valid UTF-8";
        return UNP_BAD_PASSWORD;
    }
    *why = "out of memory or a libcrypto failure";
    if (conv < 0 || (sha1 = EVP_MD_fetch(libctx, "SHA1", NULL)) == NULL
        || (ctx = EVP_MD_CTX_new()) == NULL || (plain = OPENSSL_malloc(elen)) == NULL)
        goto end;

    memcpy(d, data, SHA1_LEN);  /* D0 = salt */
    for (size_t off = 0; off < elen; off += SHA1_LEN) {
        size_t n = elen - off < SHA1_LEN ? elen - off : SHA1_LEN;

        if (!hash3(ctx, sha1, pw16, pw16_len, d, SHA1_LEN, NULL, 0, d))
            goto end;
        for (size_t k = 0; k < n; k++)
            plain[off + k] = data[JKS_SALT_LEN + off + k] ^ d[k];
    }
    if (!hash3(ctx, sha1, pw16, pw16_len, plain, elen, NULL, 0, check))
        goto end;
    if (CRYPTO_memcmp(check, data + len - SHA1_LEN, SHA1_LEN) != 0) {
        *why = "wrong password";
        r = UNP_BAD_PASSWORD;
    } else if (!is_pkcs8(plain, elen)) {
        /* The check value matched: the password is right, the content is not. */
        *why = "the decrypted key is not a PKCS#8 PrivateKeyInfo";
        r = UNP_MALFORMED;
    } else {
        *der = plain;
        *der_len = elen;
        plain = NULL;
        r = UNP_OK;
    }
end:
    OPENSSL_cleanse(d, sizeof(d));
    OPENSSL_clear_free(plain, elen);
    pw16_free(pw16, pw);
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(sha1);
    return r;
}

/* PBEParameter { salt OCTET STRING (8), iterationCount INTEGER } from the
 * AlgorithmIdentifier's parameters. */
static unprotect_result jceks_params(const X509_ALGOR *alg, unsigned char salt[JCEKS_SALT_LEN],
                                     int64_t *iter, const char **why)
{
    const void *pval;
    int ptype;
    const ASN1_STRING *seq;
    const unsigned char *p;
    PBEPARAM *pbe = NULL;
    unprotect_result r = UNP_MALFORMED;

    X509_ALGOR_get0(NULL, &ptype, &pval, alg);
    *why = "its PBE parameters are missing or malformed";
    if (ptype != V_ASN1_SEQUENCE)
        return UNP_MALFORMED;
    seq = pval;
    p = ASN1_STRING_get0_data(seq);
    pbe = d2i_PBEPARAM(NULL, &p, ASN1_STRING_length(seq));
    if (pbe == NULL || ASN1_STRING_length(pbe->salt) != JCEKS_SALT_LEN
        || !ASN1_INTEGER_get_int64(iter, pbe->iter))
        goto end;
    if (*iter < 1 || *iter > JCEKS_MAX_ITERATIONS) {
        *why = "its PBE iteration count is outside 1..5000000";
        r = UNP_UNSUPPORTED;
        goto end;
    }
    memcpy(salt, ASN1_STRING_get0_data(pbe->salt), JCEKS_SALT_LEN);
    r = UNP_OK;
end:
    PBEPARAM_free(pbe);
    return r;
}

/*
 * PBEWithMD5AndTripleDES key derivation (SunJCE PBES1Core): for each 4-byte
 * half of the salt, h = MD5(half || pw) then h = MD5(h || pw), iter times in
 * all; the two results give the 3DES key (24 bytes) and the IV (8). When the
 * halves are equal the first is reversed first (JDK 17 does a true reversal
 * and then writes the reversed salt to the file, so such salts only come
 * from other writers).
 */
static int jceks_derive(OSSL_LIB_CTX *libctx, const unsigned char salt_in[JCEKS_SALT_LEN],
                        int64_t iter, const km_secret *pw, unsigned char out[32])
{
    unsigned char salt[JCEKS_SALT_LEN];
    EVP_MD *md5 = EVP_MD_fetch(libctx, "MD5", NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = md5 != NULL && ctx != NULL;

    memcpy(salt, salt_in, sizeof(salt));
    if (memcmp(salt, salt + 4, 4) == 0) {
        unsigned char t0 = salt[0], t1 = salt[1];

        salt[0] = salt[3], salt[1] = salt[2], salt[2] = t1, salt[3] = t0;
    }
    for (int half = 0; ok && half < 2; half++) {
        unsigned char *h = out + 16 * half;

        ok = hash3(ctx, md5, salt + 4 * half, 4, pw->data, pw->len, NULL, 0, h);
        for (int64_t i = 1; ok && i < iter; i++)
            ok = hash3(ctx, md5, h, 16, pw->data, pw->len, NULL, 0, h);
    }
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md5);
    return ok;
}

/* Java's PBEKey takes printable ASCII only and rejects anything else. */
static int is_printable_ascii(const km_secret *pw)
{
    for (size_t i = 0; i < pw->len; i++)
        if ((unsigned char)pw->data[i] < 0x20 || (unsigned char)pw->data[i] > 0x7E)
            return 0;
    return 1;
}

/* 3DES-CBC with PKCS#5 padding under the derived key; a padding or PKCS#8
 * failure means the password is wrong (this protector has no check value). */
static unprotect_result jceks_unprotect(OSSL_LIB_CTX *libctx, const X509_ALGOR *alg,
                                        const unsigned char *enc, size_t len,
                                        const km_secret *pw, unsigned char **der,
                                        size_t *der_len, const char **why)
{
    unsigned char salt[JCEKS_SALT_LEN], keyiv[32];
    int64_t iter;
    EVP_CIPHER *des3 = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char *plain = NULL;
    int n1 = 0, n2 = 0;
    unprotect_result r;

    if ((r = jceks_params(alg, salt, &iter, why)) != UNP_OK)
        return r;
    if (len == 0 || len % 8 != 0 || len > INT_MAX) {
        *why = "the encrypted key is not a whole number of 3DES blocks";
        return UNP_MALFORMED;
    }
    if (!is_printable_ascii(pw)) {
        *why = "JCEKS key passwords must be printable ASCII (as Java requires)";
        return UNP_BAD_PASSWORD;
    }
    r = UNP_INTERNAL;
    *why = "out of memory or a libcrypto failure";
    if (!jceks_derive(libctx, salt, iter, pw, keyiv)
        || (des3 = EVP_CIPHER_fetch(libctx, "DES-EDE3-CBC", NULL)) == NULL
        || (ctx = EVP_CIPHER_CTX_new()) == NULL
        || (plain = OPENSSL_malloc(len + 8)) == NULL
        || !EVP_DecryptInit_ex2(ctx, des3, keyiv, keyiv + 24, NULL)
        || !EVP_DecryptUpdate(ctx, plain, &n1, enc, (int)len))
        goto end;
    if (!EVP_DecryptFinal_ex(ctx, plain + n1, &n2) || !is_pkcs8(plain, (size_t)(n1 + n2))) {
        *why = "wrong password";
        r = UNP_BAD_PASSWORD;
        goto end;
    }
    *der = plain;
    *der_len = (size_t)(n1 + n2);
    plain = NULL;
    r = UNP_OK;
end:
    OPENSSL_cleanse(keyiv, sizeof(keyiv));
    OPENSSL_clear_free(plain, len + 8);
    EVP_CIPHER_CTX_free(ctx);  /* cleanses the key schedule */
    EVP_CIPHER_free(des3);
    return r;
}

/* Which protector an EncryptedPrivateKeyInfo uses: KM_KEY_JKS, KM_KEY_JCEKS,
 * or -1 for any other algorithm. JCEKS stores may hold both (Java's JCEKS
 * KeyProtector accepts both), so the entry, not the store, decides. */
static int protector_of(const X509_SIG *sig)
{
    const X509_ALGOR *alg;
    const ASN1_OBJECT *obj;
    char oid[64];

    X509_SIG_get0(sig, &alg, NULL);
    X509_ALGOR_get0(&obj, NULL, NULL, alg);
    if (OBJ_obj2txt(oid, sizeof(oid), obj, 1) <= 0)
        return -1;
    if (strcmp(oid, JKS_KEY_OID) == 0)
        return KM_KEY_JKS;
    if (strcmp(oid, JCEKS_KEY_OID) == 0)
        return KM_KEY_JCEKS;
    return -1;
}

/* An EncryptedPrivateKeyInfo with nothing after it; NULL if malformed. */
static X509_SIG *parse_epki(const unsigned char *blob, size_t len)
{
    const unsigned char *p = blob;
    X509_SIG *sig;

    if (len > LONG_MAX)
        return NULL;
    sig = d2i_X509_SIG(NULL, &p, (long)len);
    if (sig != NULL && p != blob + len) {
        X509_SIG_free(sig);
        sig = NULL;
    }
    return sig;
}

/* Decrypts a key entry's EncryptedPrivateKeyInfo with either protector. */
static unprotect_result unprotect(OSSL_LIB_CTX *libctx, const unsigned char *blob,
                                  size_t blob_len, int expect_kind, const km_secret *pw,
                                  unsigned char **der, size_t *der_len, const char **why)
{
    X509_SIG *sig = parse_epki(blob, blob_len);
    const X509_ALGOR *alg;
    const ASN1_OCTET_STRING *data;
    unprotect_result r;
    int kind;

    if (sig == NULL) {
        *why = "it is not an EncryptedPrivateKeyInfo";
        return UNP_MALFORMED;
    }
    kind = protector_of(sig);
    X509_SIG_get0(sig, &alg, &data);
    if (kind < 0 || (expect_kind >= 0 && kind != expect_kind)) {
        *why = "it is protected with an unknown algorithm";
        r = UNP_UNSUPPORTED;
    } else if (kind == KM_KEY_JKS) {
        r = jks_unprotect(libctx, ASN1_STRING_get0_data(data),
                          (size_t)ASN1_STRING_length(data), pw, der, der_len, why);
    } else {
        r = jceks_unprotect(libctx, alg, ASN1_STRING_get0_data(data),
                            (size_t)ASN1_STRING_length(data), pw, der, der_len, why);
    }
    X509_SIG_free(sig);
    return r;
}

/* ---- the store file ---------------------------------------------------- */

typedef struct jks_ctx {
    OSSL_LIB_CTX *libctx;
    const char *path, *format;
    km_status *st;
    uint32_t version;
    km_keystore *ks;        /* NULL in the framing pass, the target in the decode pass */
    /* Found by the framing pass: the first key entry, to tell a modified file
     * from a wrong password when the trailer does not match. */
    const unsigned char *first_key;
    size_t first_key_len;
} jks_ctx;

static int truncated(const jks_ctx *c, uint32_t entry)
{
    return km_fail(c->st, KAFKA_MTLS_R_CORRUPT,
                   "%s: truncated %s file (entry %u runs past the end)",
                   c->path, c->format, (unsigned)entry);
}

/* The alias for messages (a placeholder if it cannot be decoded). */
static char *alias_text(const unsigned char *s, size_t n)
{
    int malformed;
    char *a = mutf8_to_utf8(s, n, &malformed);

    return a != NULL ? a : OPENSSL_strdup("?");
}

static X509 *decode_x509(OSSL_LIB_CTX *libctx, const unsigned char *der, size_t len)
{
    X509 *x = X509_new_ex(libctx, NULL);

    if (x == NULL || len > LONG_MAX)
        goto err;
    if (d2i_X509(&x, &der, (long)len) != NULL)
        return x;
err:
    X509_free(x);  /* a failed d2i_X509 has freed it and set it to NULL */
    return NULL;
}

/* Reads one certificate record; in the decode pass also decodes it. */
static int read_cert(jks_ctx *c, reader *r, uint32_t entry, const char *alias, X509 **out)
{
    const unsigned char *type = NULL, *der;
    size_t type_len = 0;
    uint32_t len;
    X509 *x;

    if ((c->version == 2 && !rd_utf(r, &type, &type_len))
        || !rd_u32(r, &len) || !rd_bytes(r, len, &der))
        return truncated(c, entry);
    if (c->ks == NULL)
        return 1;
    if (type != NULL && (type_len != 5 || memcmp(type, "X.509", 5) != 0))
        return km_fail(c->st, KAFKA_MTLS_R_UNSUPPORTED_CONTENT,
                       "%s: %s entry \"%s\" holds a certificate of type \"%.*s\", not X.509",
                       c->path, c->format, alias, (int)(type_len > 32 ? 32 : type_len),
                       (const char *)type);
    if ((x = decode_x509(c->libctx, der, len)) == NULL)
        return km_fail(c->st, KAFKA_MTLS_R_CORRUPT,
                       "%s: %s entry \"%s\" holds a malformed X.509 certificate",
                       c->path, c->format, alias);
    *out = x;
    return 1;
}

static int read_trusted_cert(jks_ctx *c, reader *r, uint32_t entry, const char *alias)
{
    X509 *x = NULL;

    if (!read_cert(c, r, entry, alias, &x))
        return 0;
    if (c->ks == NULL)
        return 1;
    if ((c->ks->trusted == NULL && (c->ks->trusted = sk_X509_new_null()) == NULL)
        || !sk_X509_push(c->ks->trusted, x)) {
        X509_free(x);
        return km_fail(c->st, KAFKA_MTLS_R_INTERNAL, "%s: out of memory", c->path);
    }
    return 1;
}

/* Decode pass: the key entry's EncryptedPrivateKeyInfo must name a protector
 * we implement; the blob is kept encrypted. On success ks owns alias and
 * chain; on failure the caller still does. */
static int add_key(jks_ctx *c, char *alias, const unsigned char *epki, size_t epki_len,
                   STACK_OF(X509) *chain)
{
    X509_SIG *sig = parse_epki(epki, epki_len);
    int parsed = sig != NULL, kind = parsed ? protector_of(sig) : -1;
    unsigned char *blob;

    X509_SIG_free(sig);
    if (!parsed)
        return km_fail(c->st, KAFKA_MTLS_R_CORRUPT,
                       "%s: %s entry \"%s\": the private key is not an EncryptedPrivateKeyInfo",
                       c->path, c->format, alias);
    if (kind < 0)
        return km_fail(c->st, KAFKA_MTLS_R_UNSUPPORTED_CONTENT,
                       "%s: %s entry \"%s\": the private key is protected with an "
                       "unknown algorithm",
                       c->path, c->format, alias);
    if ((blob = OPENSSL_memdup(epki, epki_len)) == NULL
        || !km_keystore_add_key(c->ks, alias, (km_key_kind)kind, blob, epki_len, chain)) {
        OPENSSL_free(blob);
        return km_fail(c->st, KAFKA_MTLS_R_INTERNAL, "%s: out of memory", c->path);
    }
    return 1;
}

static int read_key_entry(jks_ctx *c, reader *r, uint32_t entry, const char *alias)
{
    const unsigned char *epki;
    uint32_t epki_len, ncerts;
    STACK_OF(X509) *chain = NULL;
    char *owned_alias = NULL;

    if (!rd_u32(r, &epki_len) || !rd_bytes(r, epki_len, &epki) || !rd_u32(r, &ncerts))
        return truncated(c, entry);
    if (ncerts > rd_left(r) / MIN_CERT_LEN)
        return km_fail(c->st, KAFKA_MTLS_R_CORRUPT,
                       "%s: truncated or corrupt %s file "
                       "(entry %u claims %u certificates, more than the file holds)",
                       c->path, c->format, (unsigned)entry, (unsigned)ncerts);
    if (c->ks == NULL && c->first_key == NULL) {
        c->first_key = epki;
        c->first_key_len = epki_len;
    }
    if (c->ks != NULL && (chain = sk_X509_new_null()) == NULL)
        return km_fail(c->st, KAFKA_MTLS_R_INTERNAL, "%s: out of memory", c->path);
    for (uint32_t i = 0; i < ncerts; i++) {
        X509 *x = NULL;

        if (!read_cert(c, r, entry, alias, &x))
            goto err;
        if (x != NULL && !sk_X509_push(chain, x)) {
            X509_free(x);
            km_fail(c->st, KAFKA_MTLS_R_INTERNAL, "%s: out of memory", c->path);
            goto err;
        }
    }
    if (c->ks == NULL)
        return 1;
    if ((owned_alias = OPENSSL_strdup(alias)) == NULL) {
        km_fail(c->st, KAFKA_MTLS_R_INTERNAL, "%s: out of memory", c->path);
        goto err;
    }
    if (add_key(c, owned_alias, epki, epki_len, chain))
        return 1;
err:
    OPENSSL_free(owned_alias);
    km_certs_free(chain);
    return 0;
}

/* A JCEKS secret-key entry is a serialized Java object with no length in
 * front: there is no way past it without a Java deserializer. */
static int secret_key_entry(const jks_ctx *c, const unsigned char *alias_raw, size_t alias_len)
{
    char *alias = alias_text(alias_raw, alias_len);

    km_fail(c->st, KAFKA_MTLS_R_UNSUPPORTED_CONTENT,
            "%s: JCEKS secret-key entries are not supported (entry \"%s\"); "
            "keep secret keys in a separate keystore", c->path, alias != NULL ? alias : "?");
    OPENSSL_free(alias);
    return 0;
}

/* One entry: its header, then the body for its tag. */
static int read_entry(jks_ctx *c, reader *r, uint32_t entry)
{
    const unsigned char *alias_raw;
    size_t alias_len;
    uint64_t tag, timestamp;
    char *alias = NULL;
    int malformed, ok;

    if (!rd_uint(r, 4, &tag) || !rd_utf(r, &alias_raw, &alias_len)
        || !rd_uint(r, 8, &timestamp))
        return truncated(c, entry);
    if (tag == TAG_SECRET_KEY && strcmp(c->format, "JCEKS") == 0)
        return secret_key_entry(c, alias_raw, alias_len);
    if (tag != TAG_PRIVATE_KEY && tag != TAG_TRUSTED_CERT)
        return km_fail(c->st, KAFKA_MTLS_R_CORRUPT,
                       "%s: corrupt %s file (entry %u has unknown type %llu)",
                       c->path, c->format, (unsigned)entry, (unsigned long long)tag);
    /* Aliases matter only once the file is known to be intact. */
    if (c->ks != NULL && (alias = mutf8_to_utf8(alias_raw, alias_len, &malformed)) == NULL)
        return km_fail(c->st, malformed ? KAFKA_MTLS_R_CORRUPT : KAFKA_MTLS_R_INTERNAL,
                       malformed
                           ? "%s: corrupt %s file (the alias of entry %u is not modified UTF-8)"
                           : "%s: out of memory (%s entry %u)",
                       c->path, c->format, (unsigned)entry);
    if (tag == TAG_PRIVATE_KEY)
        ok = read_key_entry(c, r, entry, alias != NULL ? alias : "");
    else
        ok = read_trusted_cert(c, r, entry, alias != NULL ? alias : "");
    OPENSSL_free(alias);
    return ok;
}

/* Walks all entries; on success r->off is where the trailer starts. */
static int read_entries(jks_ctx *c, reader *r, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++)
        if (!read_entry(c, r, i + 1))  /* entries are numbered from 1 in messages */
            return 0;
    return 1;
}

/* The trailer did not match. If the same password opens the first key
 * entry, the password is right and the file was changed; otherwise it is
 * most likely the password (for a file without keys we cannot tell). */
static int bad_trailer(const jks_ctx *c, const km_secret *pw)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    const char *why;

    if (c->first_key != NULL
        && unprotect(c->libctx, c->first_key, c->first_key_len, -1, pw, &der, &der_len, &why)
               == UNP_OK) {
        OPENSSL_clear_free(der, der_len);
        return km_fail(c->st, KAFKA_MTLS_R_INTEGRITY,
                       "%s: %s integrity check failed: the file was modified "
                       "(the password is right: it decrypts the private key)",
                       c->path, c->format);
    }
    return km_fail(c->st, KAFKA_MTLS_R_WRONG_PASSWORD,
                   "%s: %s integrity check failed: wrong password or the file was modified",
                   c->path, c->format);
}

/* Magic, version and entry count. */
static int read_header(jks_ctx *c, reader *r, uint32_t *count)
{
    uint32_t magic;

    if (!rd_u32(r, &magic))
        return km_fail(c->st, KAFKA_MTLS_R_CORRUPT, "%s: truncated keystore file (%zu bytes)",
                       c->path, r->len);
    if (magic != JKS_MAGIC && magic != JCEKS_MAGIC)
        return km_fail(c->st, KAFKA_MTLS_R_UNSUPPORTED_FORMAT,
                       "%s: not a JKS or JCEKS keystore (magic %08x)", c->path, (unsigned)magic);
    c->format = magic == JKS_MAGIC ? "JKS" : "JCEKS";
    if (!rd_u32(r, &c->version) || !rd_u32(r, count))
        return km_fail(c->st, KAFKA_MTLS_R_CORRUPT, "%s: truncated %s file (header)",
                       c->path, c->format);
    if (c->version != 1 && c->version != 2)
        return km_fail(c->st, KAFKA_MTLS_R_CORRUPT, "%s: corrupt %s file (unknown version %u)",
                       c->path, c->format, (unsigned)c->version);
    if (*count > rd_left(r) / MIN_ENTRY_LEN)
        return km_fail(c->st, KAFKA_MTLS_R_CORRUPT,
                       "%s: truncated or corrupt %s file "
                       "(it claims %u entries, more than its %zu bytes hold)",
                       c->path, c->format, (unsigned)*count, r->len);
    return 1;
}

/* Framing pass, then the trailer check: returns 1 when the file is intact. */
static int verify_store(jks_ctx *c, const unsigned char *buf, size_t len, uint32_t count,
                        const km_secret *pw)
{
    reader r = { buf, len, HEADER_LEN };
    unsigned char *pw16 = NULL;
    size_t pw16_len = 0;
    unprotect_result res;
    int conv;

    if (!read_entries(c, &r, count))
        return 0;
    if (rd_left(&r) < SHA1_LEN)
        return km_fail(c->st, KAFKA_MTLS_R_CORRUPT,
                       "%s: truncated %s file (the integrity trailer is missing)",
                       c->path, c->format);
    if (rd_left(&r) > SHA1_LEN)
        return km_fail(c->st, KAFKA_MTLS_R_CORRUPT,
                       "%s: corrupt %s file (%zu unexpected bytes after the integrity trailer)",
                       c->path, c->format, rd_left(&r) - SHA1_LEN);
    conv = password_utf16be(pw, &pw16, &pw16_len);
    if (conv <= 0)
        return km_fail(c->st, conv == 0 ? KAFKA_MTLS_R_WRONG_PASSWORD : KAFKA_MTLS_R_INTERNAL,
                       conv == 0 ? "%s: the %s password is not valid UTF-8"
                                 : "%s: out of memory (%s)", c->path, c->format);
    res = check_trailer(c->libctx, pw16, pw16_len, buf, r.off, buf + r.off);
    pw16_free(pw16, pw);
    if (res == UNP_BAD_PASSWORD)
        return bad_trailer(c, pw);
    if (res != UNP_OK)
        return km_fail(c->st, KAFKA_MTLS_R_INTERNAL,
                       "%s: cannot check the %s integrity trailer (libcrypto failure)",
                       c->path, c->format);
    return 1;
}

int km_read_jks(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len,
                const km_secret *password, km_keystore *ks, km_status *st)
{
    jks_ctx c = { .libctx = libctx, .path = ks->path, .format = "JKS", .st = st };
    reader r = { buf, len, 0 };
    uint32_t count = 0;
    int ok = 0;

    /* Failures here are reported through st; libcrypto's own error queue
     * entries from expected failures (bad padding, d2i) must not leak. */
    ERR_set_mark();
    if (!read_header(&c, &r, &count))
        goto end;
    if (password == NULL) {
        km_fail(st, KAFKA_MTLS_R_NO_PASSWORD,
                "%s: a password is needed to open this %s keystore", c.path, c.format);
        goto end;
    }
    if (!verify_store(&c, buf, len, count, password))
        goto end;
    c.ks = ks;
    ok = read_entries(&c, &r, count);
    if (ok)
        ks->format = c.format;
end:
    ERR_pop_to_mark();
    return ok;
}

int km_decrypt_jks_key(OSSL_LIB_CTX *libctx, const km_keystore *ks, const km_key_entry *key,
                       const km_secret *password, unsigned char **der, size_t *der_len,
                       km_status *st)
{
    const char *alias = key->alias != NULL ? key->alias : "";
    const char *why = "";
    unprotect_result r;

    if (key->kind != KM_KEY_JKS && key->kind != KM_KEY_JCEKS)
        return km_fail(st, KAFKA_MTLS_R_INTERNAL, "%s: key \"%s\" is not a JKS/JCEKS key",
                       ks->path, alias);
    if (password == NULL)
        return km_fail(st, KAFKA_MTLS_R_NO_PASSWORD,
                       "%s: a password is needed to decrypt the private key \"%s\"",
                       ks->path, alias);
    ERR_set_mark();
    r = unprotect(libctx, key->blob, key->blob_len, (int)key->kind, password, der, der_len, &why);
    ERR_pop_to_mark();
    if (r == UNP_OK)
        return 1;
    return km_fail(st, reason_of(r), "%s: cannot decrypt the private key \"%s\": %s",
                   ks->path, alias, why);
}
