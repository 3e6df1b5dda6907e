/*
 * The cryptographic half of JKS/JCEKS reading: password encodings, the store
 * integrity trailer, and the two key protectors (Sun's JKS protector and
 * PBEWithMD5AndTripleDES for JCEKS). All primitives come from libcrypto;
 * only the constructions Java defines are written out here.
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

#include "jks_protect.h"
#include "kafka-mtls.h"
#include "kdf_limit.h"

#define JKS_KEY_OID   "1.3.6.1.4.1.42.2.17.1.1"  /* Sun JKS key protector */
#define JCEKS_KEY_OID "1.3.6.1.4.1.42.2.19.1"    /* PBEWithMD5AndTripleDES */
#define JKS_SALT_LEN 20
#define JCEKS_SALT_LEN 8
static const char whitener[] = "Mighty Aphrodite";

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
char *km_jks_mutf8_to_utf8(const unsigned char *s, size_t n, int *malformed)
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
void km_jks_pw16_free(unsigned char *pw16, const km_secret *pw)
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
int km_jks_password_utf16be(const km_secret *pw, unsigned char **out, size_t *out_len)
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
            km_jks_pw16_free(o, pw);
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


int km_jks_reason_of(unprotect_result r)
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
unprotect_result km_jks_check_trailer(OSSL_LIB_CTX *libctx, const unsigned char *pw16,
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
    conv = km_jks_password_utf16be(pw, &pw16, &pw16_len);
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
    km_jks_pw16_free(pw16, pw);
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
    /* the cap (kdf_limit.h): the JDK writes 200,000 */
    if (*iter < 1 || *iter > km_cap_jceks_iterations()) {
        *why = "its PBE iteration count is 0 or above the JCEKS cap (default 250000; raise it with "
               KAFKA_MTLS_ENV_MAX_JCEKS_ITERATIONS " or the provider's " KAFKA_MTLS_CONF_MAX_JCEKS_ITERATIONS ")";
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
int km_jks_protector_of(const X509_SIG *sig)
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
X509_SIG *km_jks_parse_epki(const unsigned char *blob, size_t len)
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
unprotect_result km_jks_unprotect(OSSL_LIB_CTX *libctx, const unsigned char *blob,
                                  size_t blob_len, int expect_kind, const km_secret *pw,
                                  unsigned char **der, size_t *der_len, const char **why)
{
    X509_SIG *sig = km_jks_parse_epki(blob, blob_len);
    const X509_ALGOR *alg;
    const ASN1_OCTET_STRING *data;
    unprotect_result r;
    int kind;

    if (sig == NULL) {
        *why = "it is not an EncryptedPrivateKeyInfo";
        return UNP_MALFORMED;
    }
    kind = km_jks_protector_of(sig);
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

