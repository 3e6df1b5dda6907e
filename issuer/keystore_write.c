/*
 * PKCS#12 files as keytool 17 writes them, so Java reads them as its own:
 *   safe 1, unencrypted data: the key, PKCS#8 shrouded with PBES2
 *     (AES-256-CBC, PBKDF2-HMAC-SHA256, 20-byte salt),
 *     friendlyName = alias, localKeyID = "Time <ms>" (keytool's form);
 *   safe 2, PBES2/AES-256 encrypted: the leaf (friendlyName = alias, the
 *     same localKeyID), the issuing CA and its chain up to the root (each
 *     friendlyName = its RFC 2253 DN), and the root again as the trusted
 *     entry "CARoot", marked with Java's trusted-usage attribute
 *     2.16.840.1.113894.746875.1.1 = { anyExtendedKeyUsage };
 *   MAC: HMAC-SHA256, 20-byte salt.
 * The truststore holds only the trusted entry (the root), in the same framing. The
 * iteration count is the caller's (issue.c, store_iterations).
 */
#include <stdio.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "issue_internal.h"
#include "kafka-mtls.h"
#include "kmtls/x509.h"

#define P12_SALT 20
#define JAVA_TRUSTED_OID "2.16.840.1.113894.746875.1.1"
#define ANY_EKU_OID      "2.5.29.37.0"

typedef STACK_OF(PKCS12_SAFEBAG) bags_t;

static int add_trusted_attr(PKCS12_SAFEBAG *bag)
{
    ASN1_OBJECT *any = OBJ_txt2obj(ANY_EKU_OID, 1);
    /* type V_ASN1_OBJECT with len -1: the value is the ASN1_OBJECT itself */
    int ok = any != NULL &&
             PKCS12_add1_attr_by_txt(bag, JAVA_TRUSTED_OID, V_ASN1_OBJECT, (const unsigned char *)any, -1);

    ASN1_OBJECT_free(any);
    return ok;
}

static PKCS12_SAFEBAG *push_cert(bags_t *bags, X509 *x, const char *name)
{
    PKCS12_SAFEBAG *bag = PKCS12_SAFEBAG_create_cert(x);

    if (bag == NULL || !PKCS12_add_friendlyname_utf8(bag, name, -1) || !sk_PKCS12_SAFEBAG_push(bags, bag)) {
        PKCS12_SAFEBAG_free(bag);
        return NULL;
    }
    return bag;
}

static int push_trusted(bags_t *bags, X509 *ca)
{
    PKCS12_SAFEBAG *bag = push_cert(bags, ca, KAFKA_MTLS_TRUSTED_ALIAS);

    return bag != NULL && add_trusted_attr(bag);
}

static int dn_rfc2253(X509 *x, char *buf, size_t n)
{
    km_name_text(X509_get_subject_name(x), buf, n);
    return buf[0] != '\0';
}

static PKCS12_SAFEBAG *key_bag(OSSL_LIB_CTX *libctx, EVP_PKEY *key, const km_secret *pw, int iter)
{
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
    EVP_CIPHER *aes = EVP_CIPHER_fetch(libctx, "AES-256-CBC", NULL);
    X509_SIG *enc = NULL;
    PKCS12_SAFEBAG *bag = NULL;

    /* pbe_nid -1 with a cipher: PBES2, PBKDF2 with its default PRF HMAC-SHA256 */
    if (p8 != NULL && aes != NULL)
        enc = PKCS8_encrypt_ex(-1, aes, pw->data, (int)pw->len, NULL, P12_SALT, iter, p8, libctx, NULL);
    if (enc != NULL && (bag = PKCS12_SAFEBAG_create0_pkcs8(enc)) == NULL)
        X509_SIG_free(enc);
    PKCS8_PRIV_KEY_INFO_free(p8);
    EVP_CIPHER_free(aes);
    return bag;
}

static int push_safe(OSSL_LIB_CTX *libctx, STACK_OF(PKCS7) *safes, bags_t *bags, const km_secret *pw, int iter)
{
    PKCS7 *p7 = pw == NULL ? PKCS12_pack_p7data(bags)
                           : PKCS12_pack_p7encdata_ex(NID_aes_256_cbc, pw->data, (int)pw->len, NULL,
                                                      P12_SALT, iter, bags, libctx, NULL);

    if (p7 == NULL || !sk_PKCS7_push(safes, p7)) {
        PKCS7_free(p7);
        return 0;
    }
    return 1;
}

static int finish(OSSL_LIB_CTX *libctx, STACK_OF(PKCS7) *safes, const km_secret *pw, int iter,
                  unsigned char **der, size_t *len)
{
    PKCS12 *p12 = PKCS12_add_safes_ex(safes, 0, libctx, NULL);
    EVP_MD *sha256 = EVP_MD_fetch(libctx, "SHA256", NULL);
    unsigned char *out = NULL;
    int n = -1;

    if (p12 != NULL && sha256 != NULL &&
        PKCS12_set_mac(p12, pw->data, (int)pw->len, NULL, P12_SALT, iter, sha256))
        n = i2d_PKCS12(p12, &out);
    PKCS12_free(p12);
    EVP_MD_free(sha256);
    if (n <= 0)
        return 0;
    *der = out;
    *len = (size_t)n;
    return 1;
}

static int fail(km_status *st, const char *what)
{
    return km_fail_crypto(st, KAFKA_MTLS_R_INTERNAL, "cannot build the %s", what);
}

int km_p12_keystore(OSSL_LIB_CTX *libctx, const char *alias, EVP_PKEY *key, X509 *leaf, const km_ca *ca,
                    const km_secret *pw, int iter, time_t now, unsigned char **der, size_t *len,
                    km_status *st)
{
    bags_t *keys = sk_PKCS12_SAFEBAG_new_null(), *certs = sk_PKCS12_SAFEBAG_new_null();
    STACK_OF(PKCS7) *safes = sk_PKCS7_new_null();
    PKCS12_SAFEBAG *kb = NULL, *lb;
    char keyid[32], ca_name[512];
    int n = sk_X509_num(ca->chain);
    int ok = 0;

    ERR_set_mark();
    /* keytool's localKeyID: the UTF-8 bytes of "Time " + milliseconds */
    snprintf(keyid, sizeof(keyid), "Time %lld", (long long)now * 1000);
    if (keys == NULL || certs == NULL || safes == NULL)
        goto done;
    if ((kb = key_bag(libctx, key, pw, iter)) == NULL || !sk_PKCS12_SAFEBAG_push(keys, kb)) {
        PKCS12_SAFEBAG_free(kb);
        goto done;
    }
    if (!PKCS12_add_friendlyname_utf8(kb, alias, -1) ||
        !PKCS12_add_localkeyid(kb, (unsigned char *)keyid, (int)strlen(keyid)))
        goto done;
    if ((lb = push_cert(certs, leaf, alias)) == NULL ||
        !PKCS12_add_localkeyid(lb, (unsigned char *)keyid, (int)strlen(keyid)) ||
        !dn_rfc2253(ca->cert, ca_name, sizeof(ca_name)) || push_cert(certs, ca->cert, ca_name) == NULL)
        goto done;
    for (int i = 0; i < n; i++)
        if (!dn_rfc2253(sk_X509_value(ca->chain, i), ca_name, sizeof(ca_name)) ||
            push_cert(certs, sk_X509_value(ca->chain, i), ca_name) == NULL)
            goto done;
    if (!push_trusted(certs, ca->anchor))
        goto done;
    ok = push_safe(libctx, safes, keys, NULL, 0) && push_safe(libctx, safes, certs, pw, iter) &&
         finish(libctx, safes, pw, iter, der, len);
done:
    if (!ok)
        fail(st, "keystore");
    ERR_pop_to_mark();
    sk_PKCS12_SAFEBAG_pop_free(keys, PKCS12_SAFEBAG_free);
    sk_PKCS12_SAFEBAG_pop_free(certs, PKCS12_SAFEBAG_free);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    return ok;
}

int km_p12_truststore(OSSL_LIB_CTX *libctx, X509 *ca, const km_secret *pw, int iter,
                      unsigned char **der, size_t *len, km_status *st)
{
    bags_t *certs = sk_PKCS12_SAFEBAG_new_null();
    STACK_OF(PKCS7) *safes = sk_PKCS7_new_null();
    int ok;

    ERR_set_mark();
    ok = certs != NULL && safes != NULL && push_trusted(certs, ca) && push_safe(libctx, safes, certs, pw, iter) &&
         finish(libctx, safes, pw, iter, der, len);
    if (!ok)
        fail(st, "truststore");
    ERR_pop_to_mark();
    sk_PKCS12_SAFEBAG_pop_free(certs, PKCS12_SAFEBAG_free);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    return ok;
}
