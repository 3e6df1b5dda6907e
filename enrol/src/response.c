/* PEM strings to X509 objects, with libcrypto's PEM and DER decoders. */
#include <limits.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "fail.h"
#include "message.h"
#include "response.h"

static const char BEGIN[] = "-----BEGIN CERTIFICATE-----";

static int only_space(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
            return 0;
    return 1;
}

/* One field's PEM text as a certificate, or NULL with the cause. */
static X509 *pem_certificate(const char *field, const char *s, size_t len, char *err, size_t n)
{
    BIO *b = NULL;
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL, rest[256];
    const unsigned char *p;
    long der_len = 0;
    int got, tail_ok = 1;
    X509 *x = NULL;

    /* What step-ca sends starts with the BEGIN line; text before it would
     * be skipped by the PEM reader, and is refused instead. */
    if (len < sizeof(BEGIN) - 1 || memcmp(s, BEGIN, sizeof(BEGIN) - 1) != 0) {
        kme_fail(err, n, KM_ENROL_BAD_RESPONSE, "%s does not start with %s", field, BEGIN);
        return NULL;
    }
    if (len > INT_MAX || (b = BIO_new_mem_buf(s, (int)len)) == NULL) {
        kme_fail(err, n, KM_ENROL_INTERNAL, "out of memory");
        return NULL;
    }
    if (!PEM_read_bio_ex(b, &name, &header, &der, &der_len, PEM_FLAG_ONLY_B64)) {
        kme_fail(err, n, KM_ENROL_BAD_RESPONSE, "%s is not valid PEM", field);
        goto done;
    }
    if (strcmp(name, "CERTIFICATE") != 0 || header[0] != '\0') {
        kme_fail(err, n, KM_ENROL_BAD_RESPONSE, "%s is not a plain PEM CERTIFICATE block", field);
        goto done;
    }
    /* After END: whitespace only (a second block, of any kind, is refused). */
    while ((got = BIO_read(b, rest, sizeof(rest))) > 0)
        if (!only_space(rest, (size_t)got))
            tail_ok = 0;
    if (!tail_ok) {
        kme_fail(err, n, KM_ENROL_BAD_RESPONSE, "%s has data after its PEM block", field);
        goto done;
    }
    p = der;
    if ((x = d2i_X509(NULL, &p, der_len)) == NULL || p != der + der_len) {
        kme_fail(err, n, KM_ENROL_BAD_RESPONSE, "%s is not one DER certificate", field);
        X509_free(x);
        x = NULL;
    }
done:
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(b);
    return x;
}

/* certChain[i] is issued and signed by certChain[i + 1]. */
static km_enrol_reason linked(STACK_OF(X509) *chain, char *err, size_t n)
{
    for (int i = 0; i + 1 < sk_X509_num(chain); i++) {
        X509 *child = sk_X509_value(chain, i), *parent = sk_X509_value(chain, i + 1);
        EVP_PKEY *key = X509_get0_pubkey(parent);
        int why;

        if (X509_check_ca(parent) == 0)
            return kme_fail(err, n, KM_ENROL_BAD_RESPONSE,
                            "certChain[%d] is not a CA certificate, yet certChain[%d] follows it "
                            "(each certificate must be issued by the next)", i + 1, i);
        if ((why = X509_check_issued(parent, child)) != X509_V_OK)
            return kme_fail(err, n, KM_ENROL_BAD_RESPONSE,
                            "certChain[%d] is not issued by certChain[%d]: %s", i, i + 1,
                            X509_verify_cert_error_string(why));
        if (key == NULL || X509_verify(child, key) != 1)
            return kme_fail(err, n, KM_ENROL_BAD_RESPONSE,
                            "certChain[%d]'s signature does not verify with certChain[%d]'s key",
                            i, i + 1);
    }
    return KM_ENROL_OK;
}

km_enrol_reason kme_response_chain(const char *body, size_t len, STACK_OF(X509) **chain,
                                   char *err, size_t n)
{
    kme_certs_json certs;
    km_enrol_reason r;
    X509 *crt = NULL, *ca = NULL, *x;
    char field[32];

    *chain = NULL;
    ERR_set_mark();
    if ((r = kme_parse_certs(body, len, &certs, err, n)) != KM_ENROL_OK)
        goto done;
    if ((*chain = sk_X509_new_null()) == NULL) {
        r = kme_fail(err, n, KM_ENROL_INTERNAL, "out of memory");
        goto done;
    }
    r = KM_ENROL_BAD_RESPONSE;
    for (size_t i = 0; i < certs.chain_len; i++) {
        snprintf(field, sizeof(field), "certChain[%zu]", i);
        if ((x = pem_certificate(field, certs.chain[i], certs.chain_lens[i], err, n)) == NULL)
            goto done;
        if (!sk_X509_push(*chain, x)) {
            X509_free(x);
            r = kme_fail(err, n, KM_ENROL_INTERNAL, "out of memory");
            goto done;
        }
    }
    if ((crt = pem_certificate("crt", certs.crt, certs.crt_len, err, n)) == NULL)
        goto done;
    if (X509_cmp(crt, sk_X509_value(*chain, 0)) != 0) {
        kme_fail(err, n, r, "certChain[0] is not crt");
        goto done;
    }
    if (certs.ca != NULL) {
        if ((ca = pem_certificate("ca", certs.ca, certs.ca_len, err, n)) == NULL)
            goto done;
        if (sk_X509_num(*chain) < 2 || X509_cmp(ca, sk_X509_value(*chain, 1)) != 0) {
            kme_fail(err, n, r, "ca is not certChain[1]");
            goto done;
        }
    }
    r = linked(*chain, err, n);
done:
    if (r != KM_ENROL_OK) {
        sk_X509_pop_free(*chain, X509_free);
        *chain = NULL;
    }
    X509_free(crt);
    X509_free(ca);
    kme_certs_json_clear(&certs);
    /* A refused body leaves nothing on the application's error queue. */
    ERR_pop_to_mark();
    return r;
}
