/* kmtls/x509.h: libcrypto's printers into fixed buffers, and the validity rule. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "kmtls/x509.h"

/* What was printed into b, NUL-terminated in buf. */
static void bio_text(BIO *b, char *buf, size_t n)
{
    int len = b != NULL ? BIO_read(b, buf, (int)n - 1) : 0;

    buf[len > 0 ? len : 0] = '\0';
}

void km_serial_hex(const X509 *x, char *buf, size_t n)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

    snprintf(buf, n, "%s", hex != NULL ? hex : "?");
    OPENSSL_free(hex);
    BN_free(bn);
}

int km_time_of(const ASN1_TIME *t, time_t *out)
{
    struct tm tm;

    if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
        return 0;
    *out = timegm(&tm);
    return 1;
}

void km_time_text(const ASN1_TIME *t, char *buf, size_t n)
{
    BIO *b = BIO_new(BIO_s_mem());

    buf[0] = '\0';
    if (b != NULL && ASN1_TIME_print(b, t) > 0)
        bio_text(b, buf, n);
    BIO_free(b);
}

km_validity km_cert_validity(const X509 *x, time_t now)
{
    if (X509_cmp_time(X509_get0_notAfter(x), &now) <= 0)
        return KM_VALID_EXPIRED;
    if (X509_cmp_time(X509_get0_notBefore(x), &now) > 0)
        return KM_VALID_NOT_YET;
    return KM_VALID_NOW;
}

void km_name_text(const X509_NAME *name, char *buf, size_t n)
{
    BIO *b = BIO_new(BIO_s_mem());

    buf[0] = '\0';
    if (b != NULL && X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0)
        bio_text(b, buf, n);
    BIO_free(b);
}

int km_name_only_cn(const X509_NAME *name, char *buf, size_t n)
{
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    unsigned char *utf8 = NULL;
    int len;

    if (i < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
        return 0;
    len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
    if (len <= 0 || (size_t)len >= n || memchr(utf8, '\0', (size_t)len) != NULL) {
        OPENSSL_free(utf8);
        return 0;
    }
    memcpy(buf, utf8, (size_t)len);
    buf[len] = '\0';
    OPENSSL_free(utf8);
    return 1;
}
