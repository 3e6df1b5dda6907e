/*
 * PKCS#12 through libcrypto: MAC check and safe decryption up front, while
 * shrouded key bags stay encrypted until the key is asked for. Bags are
 * walked by hand (not PKCS12_parse) because PKCS12_parse decrypts the key
 * and keeps only one, and because Java's trusted-certificate attribute
 * decides which certificates are trust anchors.
 */
#include <limits.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "kafka-mtls.h"
#include "kdf_limit.h"
#include "kmtls/provider.h"
#include "readers.h"

/* Java's "trusted key usage" attribute on trustedCertEntry bags. */
#define JAVA_TRUSTED_OID "2.16.840.1.113894.746875.1.1"

typedef struct p12_cert {
    X509 *x;
    ASN1_OCTET_STRING *keyid; /* borrowed from the bag */
    int trusted;
    int used;
} p12_cert;

typedef struct p12_key {
    PKCS12_SAFEBAG *bag;      /* borrowed */
} p12_key;

typedef struct p12_walk {
    OSSL_LIB_CTX *libctx;
    ASN1_OBJECT *trusted_oid;
    STACK_OF(PKCS12_SAFEBAG) *all_bags[64];
    size_t nbagsets;
    p12_cert certs[256];
    size_t ncerts;
    PKCS12_SAFEBAG *keys[16];
    size_t nkeys;
} p12_walk;

static const ASN1_OCTET_STRING *bag_keyid(const PKCS12_SAFEBAG *bag)
{
    const ASN1_TYPE *t = PKCS12_SAFEBAG_get0_attr(bag, NID_localKeyID);

    return t != NULL && t->type == V_ASN1_OCTET_STRING ? t->value.octet_string : NULL;
}

static int bag_is_trusted(const p12_walk *w, const PKCS12_SAFEBAG *bag)
{
    const STACK_OF(X509_ATTRIBUTE) *attrs = PKCS12_SAFEBAG_get0_attrs(bag);

    for (int i = 0; i < sk_X509_ATTRIBUTE_num(attrs); i++)
        if (OBJ_cmp(X509_ATTRIBUTE_get0_object(sk_X509_ATTRIBUTE_value(attrs, i)),
                    w->trusted_oid) == 0)
            return 1;
    return 0;
}

static int collect_bags(p12_walk *w, const STACK_OF(PKCS12_SAFEBAG) *bags, int depth,
                        const char *path, km_status *st)
{
    if (depth > 4)
        return km_fail(st, KAFKA_MTLS_R_CORRUPT, "%s: PKCS#12 safe contents nested too deep", path);
    for (int i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
        PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);

        switch (PKCS12_SAFEBAG_get_nid(bag)) {
        case NID_keyBag:
        case NID_pkcs8ShroudedKeyBag:
            if (!km_entries_allowed((long)(w->nkeys + w->ncerts + 1), "PKCS#12", path, st))
                return 0;
            if (w->nkeys == sizeof(w->keys) / sizeof(w->keys[0]))
                return km_fail(st, KAFKA_MTLS_R_UNSUPPORTED_CONTENT,
                               "%s: more than %zu private keys in one PKCS#12 file", path, w->nkeys);
            w->keys[w->nkeys++] = bag;
            break;
        case NID_certBag: {
            X509 *x;
            if (PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate)
                break;
            if (!km_entries_allowed((long)(w->nkeys + w->ncerts + 1), "PKCS#12", path, st))
                return 0;
            if (w->ncerts == sizeof(w->certs) / sizeof(w->certs[0]))
                return km_fail(st, KAFKA_MTLS_R_UNSUPPORTED_CONTENT,
                               "%s: more than %zu certificates in one PKCS#12 file", path, w->ncerts);
            if ((x = PKCS12_SAFEBAG_get1_cert(bag)) == NULL)
                return km_fail(st, KAFKA_MTLS_R_CORRUPT, "%s: unreadable certificate in PKCS#12 file", path);
            w->certs[w->ncerts++] = (p12_cert){ .x = x, .keyid = (ASN1_OCTET_STRING *)bag_keyid(bag),
                                                .trusted = bag_is_trusted(w, bag) };
            break;
        }
        case NID_safeContentsBag:
            if (!collect_bags(w, PKCS12_SAFEBAG_get0_safes(bag), depth + 1, path, st))
                return 0;
            break;
        default:
            break; /* CRL and secret bags carry nothing a TLS client uses */
        }
    }
    return 1;
}

/* The KDF iteration count of an encrypted safe (0 if none can be read). */
static long safe_iterations(const PKCS7 *p7)
{
    if (p7->d.encrypted == NULL || p7->d.encrypted->enc_data == NULL)
        return 0;
    return km_kdf_iterations(p7->d.encrypted->enc_data->algorithm);
}

/* Tells "wrong password" from "file modified" after a MAC failure: an
 * encrypted safe that decrypts and parses proves the password right. */
static int password_opens_a_safe(STACK_OF(PKCS7) *safes, const km_secret *pw)
{
    int opened = 0;

    /* One derivation decides it: the first encrypted safe only (a file may
     * hold any number of them). */
    for (int i = 0; i < sk_PKCS7_num(safes); i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);
        STACK_OF(PKCS12_SAFEBAG) *bags;

        if (OBJ_obj2nid(p7->type) != NID_pkcs7_encrypted)
            continue;
        if (safe_iterations(p7) <= km_cap_kdf_iterations() && safe_iterations(p7) >= 0) {
            bags = PKCS12_unpack_p7encdata(p7, pw->data, (int)pw->len);
            opened = bags != NULL;
            sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
        }
        break;
    }
    return opened;
}

static int open_safes(p12_walk *w, STACK_OF(PKCS7) *safes, const km_secret *pw, int mac_ok,
                      const char *path, km_status *st)
{
    long spent = 0;

    for (int i = 0; i < sk_PKCS7_num(safes); i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);
        STACK_OF(PKCS12_SAFEBAG) *bags = NULL;

        if (w->nbagsets == sizeof(w->all_bags) / sizeof(w->all_bags[0]))
            return km_fail(st, KAFKA_MTLS_R_UNSUPPORTED_CONTENT, "%s: too many PKCS#12 safes", path);
        switch (OBJ_obj2nid(p7->type)) {
        case NID_pkcs7_data:
            bags = PKCS12_unpack_p7data(p7);
            break;
        case NID_pkcs7_encrypted:
            /* the cap holds for the whole file, not per safe */
            {
                long it = safe_iterations(p7);

                if (it < 0 || it > km_cap_kdf_iterations() - spent)
                    return km_kdf_allowed(it < 0 ? -1 : LONG_MAX, "encrypted certificate safes", path, st);
                spent += it;
            }
            bags = PKCS12_unpack_p7encdata(p7, pw->data, (int)pw->len);
            /* With the MAC verified the password is right: what is missing is
             * the cipher (RC2/3DES from old JDKs live in the legacy provider). */
            if (bags == NULL && mac_ok)
                return km_fail_crypto(st, KAFKA_MTLS_R_UNSUPPORTED_CONTENT,
                               "%s: the PKCS#12 certificate safe uses a cipher that is not available "
                               "(old JDKs write RC2/3DES: activate OpenSSL's 'legacy' provider)", path);
            if (bags == NULL)
                return km_fail_crypto(st, KAFKA_MTLS_R_WRONG_PASSWORD,
                               "%s: the password does not decrypt the PKCS#12 certificate safe", path);
            break;
        default:
            return km_fail(st, KAFKA_MTLS_R_UNSUPPORTED_CONTENT,
                           "%s: PKCS#12 public-key-encrypted safes are not supported", path);
        }
        if (bags == NULL)
            return km_fail(st, KAFKA_MTLS_R_CORRUPT, "%s: malformed PKCS#12 safe", path);
        w->all_bags[w->nbagsets++] = bags;
        if (!collect_bags(w, bags, 0, path, st))
            return 0;
    }
    return 1;
}

static int same_keyid(const ASN1_OCTET_STRING *a, const ASN1_OCTET_STRING *b)
{
    return a != NULL && b != NULL && ASN1_OCTET_STRING_cmp(a, b) == 0;
}

static p12_cert *find_leaf(p12_walk *w, const PKCS12_SAFEBAG *key)
{
    const ASN1_OCTET_STRING *id = bag_keyid(key);

    for (size_t i = 0; i < w->ncerts; i++)
        if (!w->certs[i].used && same_keyid(w->certs[i].keyid, id))
            return &w->certs[i];
    if (w->nkeys == 1) /* unlabelled single-key files (some tools omit localKeyID) */
        for (size_t i = 0; i < w->ncerts; i++)
            if (!w->certs[i].used && !w->certs[i].trusted)
                return &w->certs[i];
    return NULL;
}

static p12_cert *find_issuer(p12_walk *w, X509 *child)
{
    if (X509_check_issued(child, child) == X509_V_OK)
        return NULL; /* self-signed: the chain ends here */
    for (size_t i = 0; i < w->ncerts; i++)
        if (!w->certs[i].trusted && w->certs[i].x != child &&
            X509_check_issued(w->certs[i].x, child) == X509_V_OK)
            return &w->certs[i];
    return NULL;
}

static int add_key_entry(p12_walk *w, PKCS12_SAFEBAG *key, km_keystore *ks, km_status *st)
{
    km_ders chain = { 0 };
    p12_cert *c = find_leaf(w, key);
    unsigned char *blob = NULL;
    char *alias = PKCS12_get_friendlyname(key);
    int len = 0, kind;

    for (size_t depth = 0; c != NULL && depth < 10; depth++, c = find_issuer(w, c->x)) {
        c->used = 1;
        if (!km_ders_add_x509(&chain, c->x))
            goto oom;
    }
    if (PKCS12_SAFEBAG_get_nid(key) == NID_keyBag) {
        kind = KM_KEY_PKCS8;
        len = i2d_PKCS8_PRIV_KEY_INFO(PKCS12_SAFEBAG_get0_p8inf(key), &blob);
    } else {
        kind = KM_KEY_P12_BAG;
        len = i2d_X509_SIG(PKCS12_SAFEBAG_get0_pkcs8(key), &blob);
    }
    if (len <= 0)
        goto oom;
    if (km_keystore_add_key(ks, alias, kind, blob, (size_t)len, &chain) == NULL)
        goto oom;
    return 1;
oom:
    OPENSSL_clear_free(blob, len > 0 ? (size_t)len : 0);
    OPENSSL_free(alias);
    km_ders_clear(&chain);
    return km_fail(st, KAFKA_MTLS_R_INTERNAL, "%s: out of memory", ks->path);
}

static int add_trusted(p12_walk *w, km_keystore *ks, km_status *st)
{
    for (size_t i = 0; i < w->ncerts; i++) {
        /* A store without keys is a truststore, whatever tool wrote it. */
        int anchor = w->certs[i].trusted || (w->nkeys == 0);

        if (anchor && !km_ders_add_x509(&ks->trusted, w->certs[i].x))
            return km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
    }
    return 1;
}

static PKCS12 *decode_pfx(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len)
{
    /* Created with our libctx first so MAC and PBE use the provider's
     * library context, not the global one. */
    PKCS12 *p12 = PKCS12_init_ex(NID_pkcs7_data, libctx, NULL);
    const unsigned char *p = buf;

    if (p12 == NULL)
        return NULL;
    if (d2i_PKCS12(&p12, &p, (long)len) == NULL)
        return NULL; /* d2i frees the object it was given on failure */
    return p12;
}

/* The MAC's iteration count (1 when the MAC names none, as RFC 7292 says). */
static long mac_iterations(const PKCS12 *p12)
{
    const ASN1_INTEGER *iter = NULL;

    PKCS12_get0_mac(NULL, NULL, NULL, &iter, p12);
    return iter != NULL ? ASN1_INTEGER_get(iter) : 1;
}

long kmtls_pkcs12_mac_iterations(const unsigned char *der, size_t len)
{
    PKCS12 *p12;
    long iter = -1;

    ERR_set_mark();
    if (len <= (size_t)LONG_MAX && (p12 = decode_pfx(NULL, der, len)) != NULL) {
        if (PKCS12_mac_present(p12))
            iter = mac_iterations(p12);
        PKCS12_free(p12);
    }
    ERR_pop_to_mark();
    return iter;
}

int km_read_pkcs12(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len,
                   const km_secret *password, km_keystore *ks, km_status *st)
{
    p12_walk w = { .libctx = libctx };
    STACK_OF(PKCS7) *safes = NULL;
    PKCS12 *p12 = NULL;
    int ok = 0;

    ks->format = KM_FORMAT_PKCS12;
    ERR_set_mark();
    if (password == NULL || password->data == NULL) {
        km_fail(st, KAFKA_MTLS_R_NO_PASSWORD, "%s: a password is needed to open this PKCS#12 file", ks->path);
        goto done;
    }
    if ((w.trusted_oid = OBJ_txt2obj(JAVA_TRUSTED_OID, 1)) == NULL) {
        km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
        goto done;
    }
    if ((p12 = decode_pfx(libctx, buf, len)) == NULL) {
        km_fail_crypto(st, KAFKA_MTLS_R_CORRUPT, "%s: truncated or malformed PKCS#12 file", ks->path);
        goto done;
    }
    if ((safes = PKCS12_unpack_authsafes(p12)) == NULL) {
        km_fail_crypto(st, KAFKA_MTLS_R_CORRUPT, "%s: malformed PKCS#12 content", ks->path);
        goto done;
    }
    if (PKCS12_mac_present(p12) && !km_kdf_allowed(mac_iterations(p12), "MAC", ks->path, st))
        goto done;
    if (PKCS12_mac_present(p12) &&
        !PKCS12_verify_mac(p12, password->data, (int)password->len)) {
        if (password_opens_a_safe(safes, password))
            km_fail_crypto(st, KAFKA_MTLS_R_INTEGRITY,
                    "%s: PKCS#12 MAC verification failed although the password is right: "
                    "the file was modified", ks->path);
        else
            km_fail_crypto(st, KAFKA_MTLS_R_WRONG_PASSWORD,
                           "%s: wrong password (PKCS#12 MAC verification failed)", ks->path);
        goto done;
    }
    if (!open_safes(&w, safes, password, PKCS12_mac_present(p12), ks->path, st))
        goto done;
    for (size_t i = 0; i < w.nkeys; i++)
        if (!add_key_entry(&w, w.keys[i], ks, st))
            goto done;
    ok = add_trusted(&w, ks, st);
done:
    for (size_t i = 0; i < w.ncerts; i++)
        X509_free(w.certs[i].x);
    for (size_t i = 0; i < w.nbagsets; i++)
        sk_PKCS12_SAFEBAG_pop_free(w.all_bags[i], PKCS12_SAFEBAG_free);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    PKCS12_free(p12);
    ASN1_OBJECT_free(w.trusted_oid);
    ERR_pop_to_mark();
    return ok;
}

int km_decrypt_p12_key(OSSL_LIB_CTX *libctx, const km_keystore *ks, const km_key_entry *key,
                       const km_secret *password, unsigned char **der, size_t *der_len, km_status *st)
{
    const unsigned char *p = key->blob;
    X509_SIG *sig = d2i_X509_SIG(NULL, &p, (long)key->blob_len);
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    int ok = 0;

    ERR_set_mark();
    if (sig == NULL) {
        km_fail(st, KAFKA_MTLS_R_CORRUPT, "%s: malformed encrypted key", ks->path);
        goto done;
    }
    if (password == NULL || password->data == NULL) {
        km_fail(st, KAFKA_MTLS_R_NO_PASSWORD, "%s: a password is needed to decrypt the key", ks->path);
        goto done;
    }
    {
        const X509_ALGOR *alg = NULL;

        X509_SIG_get0(sig, &alg, NULL);
        if (!km_kdf_allowed(km_kdf_iterations(alg), "private key", ks->path, st))
            goto done;
    }
    p8 = PKCS8_decrypt_ex(sig, password->data, (int)password->len, libctx, NULL);
    if (p8 == NULL) {
        km_fail_crypto(st, KAFKA_MTLS_R_WRONG_PASSWORD,
                       "%s: the password does not decrypt the private key%s%s", ks->path,
                       key->alias ? " of entry " : "", key->alias ? key->alias : "");
        goto done;
    }
    ok = km_key_der(p8, ks, der, der_len, st);
done:
    PKCS8_PRIV_KEY_INFO_free(p8);
    X509_SIG_free(sig);
    ERR_pop_to_mark();
    return ok;
}
