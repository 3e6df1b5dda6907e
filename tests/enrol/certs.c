/* Test certificates with libcrypto. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "certs.h"

__attribute__((noreturn)) static void die(const char *what)
{
    fprintf(stderr, "certs: %s failed\n", what);
    ERR_print_errors_fp(stderr);
    abort();
}

EVP_PKEY *tc_key(const char *type)
{
    EVP_PKEY *k = strcmp(type, "rsa") == 0 ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");

    if (k == NULL)
        die("key generation");
    return k;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *e;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    if ((e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL || !X509_add_ext(x, e, -1))
        die(value);
    X509_EXTENSION_free(e);
}

static X509_NAME *name(const char *rfc)
{
    /* "C=GB,O=x,CN=y": entries in the order given (the DER order). */
    X509_NAME *n = X509_NAME_new();
    char *copy = strdup(rfc), *save = NULL;

    for (char *part = strtok_r(copy, ",", &save); part != NULL; part = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(part, '=');

        if (eq == NULL)
            die("subject syntax");
        *eq = '\0';
        if (!X509_NAME_add_entry_by_txt(n, part, MBSTRING_UTF8, (unsigned char *)eq + 1, -1, -1, 0))
            die("subject entry");
    }
    free(copy);
    return n;
}

X509 *tc_cert(const tc_spec *s)
{
    X509 *x = X509_new();
    X509_NAME *subj = name(s->subject);
    ASN1_INTEGER *serial = ASN1_INTEGER_new();
    BIGNUM *bn = BN_new();
    X509 *issuer = s->issuer != NULL ? s->issuer : x;
    EVP_PKEY *ikey = s->issuer != NULL ? s->issuer_key : s->key;
    const EVP_MD *md = EVP_PKEY_is_a(ikey, "ED25519") ? NULL : EVP_sha256();

    if (!BN_rand(bn, 64, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) || !BN_to_ASN1_INTEGER(bn, serial))
        die("serial");
    if (!X509_set_version(x, X509_VERSION_3) || !X509_set_serialNumber(x, serial) ||
        !X509_set_subject_name(x, subj) ||
        !X509_set_issuer_name(x, X509_get_subject_name(issuer)) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), s->not_before) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), s->not_after) || !X509_set_pubkey(x, s->key))
        die("certificate fields");
    add_ext(x, issuer, NID_subject_key_identifier, "hash");
    if (s->issuer != NULL)
        add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
    if (s->ca) {
        add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
    } else {
        add_ext(x, issuer, NID_basic_constraints, "CA:FALSE");
        add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
    }
    if (s->eku != NULL)
        add_ext(x, issuer, NID_ext_key_usage, s->eku);
    if (s->san != NULL)
        add_ext(x, issuer, NID_subject_alt_name, s->san);
    if (X509_sign(x, ikey, md) <= 0)
        die("signing");
    BN_free(bn);
    ASN1_INTEGER_free(serial);
    X509_NAME_free(subj);
    return x;
}

char *tc_pem(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *out;
    long len;

    if (b == NULL || !PEM_write_bio_X509(b, x) || (len = BIO_get_mem_data(b, &data)) <= 0)
        die("PEM");
    out = malloc((size_t)len + 1);
    memcpy(out, data, (size_t)len);
    out[len] = '\0';
    BIO_free(b);
    return out;
}

void tc_write(const char *path, X509 *x, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");

    if (f == NULL || !PEM_write_X509(f, x) ||
        (key != NULL && !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)) || fclose(f) != 0)
        die(path);
}
