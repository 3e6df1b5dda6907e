/* Keystore formats, recognised by content, never by file name: keytool 17
 * writes PKCS#12 into files named .jks. */
#ifndef KMTLS_SNIFF_H
#define KMTLS_SNIFF_H

#include <stddef.h>

typedef enum km_format {
    KM_FORMAT_UNKNOWN = 0, KM_FORMAT_PKCS12, KM_FORMAT_JKS, KM_FORMAT_JCEKS, KM_FORMAT_PEM
} km_format;

km_format km_sniff(const unsigned char *buf, size_t len);
/* "PKCS#12", "JKS", "JCEKS", "PEM", or "unknown format" */
const char *km_format_name(km_format f);

#endif
