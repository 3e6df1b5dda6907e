/*
 * Whether a private key belongs to a certificate kept as read (DER).
 *
 * X509_check_private_key needs the certificate decoded, and in OpenSSL 3.0
 * decoding one costs 0.2 ms (a decoder search for its public key) that
 * OSSL_STORE pays again when it hands the certificate out: the provider
 * would decode every leaf twice. So the certificate's subjectPublicKeyInfo
 * is first compared as read: libcrypto's DER parser gives the algorithm and
 * the public key bits, and the key's own (the encoded point for EC, the raw
 * key for X25519, X448, Ed25519 and Ed448, modulus and exponent for RSA) are
 * compared with them. Equal says "this key's certificate" for certain;
 * anything else, and every other key type, takes the full decode and
 * X509_check_private_key, whose verdict (and error) stands.
 */
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "key_match.h"

/* The elements of the DER SEQUENCE in t (a SEQUENCE element), or NULL. */
static ASN1_SEQUENCE_ANY *inner(const ASN1_TYPE *t)
{
    const unsigned char *p;

    if (t == NULL || ASN1_TYPE_get(t) != V_ASN1_SEQUENCE)
        return NULL;
    p = t->value.sequence->data;
    return d2i_ASN1_SEQUENCE_ANY(NULL, &p, t->value.sequence->length);
}

/* Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
 * serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo,
 * ... }, ... }: the subjectPublicKeyInfo's elements (algorithm, key bits). */
static ASN1_SEQUENCE_ANY *spki_of(const km_der *cert)
{
    const unsigned char *p = cert->der;
    ASN1_SEQUENCE_ANY *outer = cert->len <= 0x7fffffff ? d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)cert->len) : NULL;
    ASN1_SEQUENCE_ANY *tbs = inner(sk_ASN1_TYPE_value(outer, 0)), *spki = NULL;

    if (tbs != NULL) {
        int first = ASN1_TYPE_get(sk_ASN1_TYPE_value(tbs, 0)) == V_ASN1_SEQUENCE ? 0 : 1;

        spki = inner(sk_ASN1_TYPE_value(tbs, first + 5));
    }
    sk_ASN1_TYPE_pop_free(tbs, ASN1_TYPE_free);
    sk_ASN1_TYPE_pop_free(outer, ASN1_TYPE_free);
    return spki;
}

static int same_bytes(const ASN1_BIT_STRING *bits, const unsigned char *b, size_t n)
{
    return (bits->flags & 0x07) == 0 && (size_t)bits->length == n && memcmp(bits->data, b, n) == 0;
}

/* EC: the same named curve and the same encoded point. */
static int same_ec(const X509_ALGOR *alg, const ASN1_BIT_STRING *bits, EVP_PKEY *pkey)
{
    const void *pval;
    int ptype;
    char group[64];
    unsigned char point[256];
    size_t glen = 0, plen = 0;

    X509_ALGOR_get0(NULL, &ptype, &pval, alg);
    return ptype == V_ASN1_OBJECT &&
           EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen) &&
           OBJ_txt2nid(group) != NID_undef && OBJ_txt2nid(group) == OBJ_obj2nid(pval) &&
           EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof(point), &plen) &&
           same_bytes(bits, point, plen);
}

/* X25519, X448, Ed25519, Ed448: the algorithm names the curve; the bits are the key. */
static int same_raw(const ASN1_BIT_STRING *bits, EVP_PKEY *pkey)
{
    unsigned char raw[128];
    size_t n = sizeof(raw);

    return EVP_PKEY_get_raw_public_key(pkey, raw, &n) == 1 && same_bytes(bits, raw, n);
}

/* RSA: the bits are RSAPublicKey ::= SEQUENCE { modulus, publicExponent }. */
static int same_rsa(const ASN1_BIT_STRING *bits, EVP_PKEY *pkey)
{
    const unsigned char *p = bits->data;
    ASN1_SEQUENCE_ANY *rsa = (bits->flags & 0x07) == 0 ? d2i_ASN1_SEQUENCE_ANY(NULL, &p, bits->length) : NULL;
    BIGNUM *n = NULL, *e = NULL, *cn = NULL, *ce = NULL;
    int same = 0;

    if (sk_ASN1_TYPE_num(rsa) == 2 && ASN1_TYPE_get(sk_ASN1_TYPE_value(rsa, 0)) == V_ASN1_INTEGER &&
        ASN1_TYPE_get(sk_ASN1_TYPE_value(rsa, 1)) == V_ASN1_INTEGER &&
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) && EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) &&
        (cn = ASN1_INTEGER_to_BN(sk_ASN1_TYPE_value(rsa, 0)->value.integer, NULL)) != NULL &&
        (ce = ASN1_INTEGER_to_BN(sk_ASN1_TYPE_value(rsa, 1)->value.integer, NULL)) != NULL)
        same = BN_cmp(n, cn) == 0 && BN_cmp(e, ce) == 0;
    BN_free(n);
    BN_free(e);
    BN_free(cn);
    BN_free(ce);
    sk_ASN1_TYPE_pop_free(rsa, ASN1_TYPE_free);
    return same;
}

/* 1 when cert's public key is pkey's, as read; 0 when that cannot be told so. */
static int same_as_read(const km_der *cert, EVP_PKEY *pkey)
{
    ASN1_SEQUENCE_ANY *spki;
    X509_ALGOR *alg = NULL;
    const ASN1_TYPE *a, *b;
    const ASN1_OBJECT *oid;
    int nid, same = 0;

    ERR_set_mark();
    spki = spki_of(cert);
    a = sk_ASN1_TYPE_value(spki, 0);
    b = sk_ASN1_TYPE_value(spki, 1);
    if (sk_ASN1_TYPE_num(spki) == 2 && ASN1_TYPE_get(a) == V_ASN1_SEQUENCE && ASN1_TYPE_get(b) == V_ASN1_BIT_STRING) {
        const unsigned char *p = a->value.sequence->data;

        if ((alg = d2i_X509_ALGOR(NULL, &p, a->value.sequence->length)) != NULL) {
            X509_ALGOR_get0(&oid, NULL, NULL, alg);
            nid = OBJ_obj2nid(oid);
            if (nid != NID_undef && EVP_PKEY_is_a(pkey, OBJ_nid2sn(nid))) {
                if (nid == NID_X9_62_id_ecPublicKey)
                    same = same_ec(alg, b->value.bit_string, pkey);
                else if (nid == NID_rsaEncryption)
                    same = same_rsa(b->value.bit_string, pkey);
                else if (nid == NID_X25519 || nid == NID_X448 || nid == NID_ED25519 || nid == NID_ED448)
                    same = same_raw(b->value.bit_string, pkey);
            }
        }
    }
    X509_ALGOR_free(alg);
    sk_ASN1_TYPE_pop_free(spki, ASN1_TYPE_free);
    ERR_pop_to_mark();
    return same;
}

int km_key_matches_cert(OSSL_LIB_CTX *libctx, const km_der *cert, EVP_PKEY *pkey, X509 **decoded)
{
    X509 *x;

    *decoded = NULL;
    if (same_as_read(cert, pkey))
        return 1;
    if ((x = km_der_x509(libctx, cert)) == NULL)
        return -1;
    *decoded = x;
    return X509_check_private_key(x, pkey) == 1 ? 1 : 0;
}
