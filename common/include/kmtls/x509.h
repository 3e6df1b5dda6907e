/* A certificate's facts as text and numbers, the same everywhere they are
 * shown or compared: serial, validity dates, names. */
#ifndef KMTLS_X509_H
#define KMTLS_X509_H

#include <stddef.h>
#include <time.h>
#include <openssl/types.h>

/* The serial in hex, as openssl prints it ("?" if it cannot be read). */
void km_serial_hex(const X509 *x, char *buf, size_t n);
/* A validity date as a time_t. 1, or 0 if it cannot be read. */
int km_time_of(const ASN1_TIME *t, time_t *out);
/* A validity date as openssl prints it ("Feb 25 21:57:00 2026 GMT"), "" if unreadable. */
void km_time_text(const ASN1_TIME *t, char *buf, size_t n);
/* Where now stands in x's validity: the one rule for "is it current".
 * EXPIRED at or after notAfter (and when it cannot be read), NOT_YET
 * before notBefore. */
typedef enum km_validity { KM_VALID_NOW = 0, KM_VALID_NOT_YET, KM_VALID_EXPIRED } km_validity;
km_validity km_cert_validity(const X509 *x, time_t now);
/* A name in RFC 2253 form ("CN=a,O=b"), "" if it cannot be printed. */
void km_name_text(const X509_NAME *name, char *buf, size_t n);
/* The only CN of name as UTF-8 into buf[n]; 0 when it has none, several,
 * an empty one, one with a NUL, or one that does not fit. */
int km_name_only_cn(const X509_NAME *name, char *buf, size_t n);

#endif
