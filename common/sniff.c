/* km_sniff: magic numbers and the first bytes of a DER PFX or a PEM block. */
#include <string.h>

#include "kmtls/sniff.h"

static int looks_like_pem(const unsigned char *buf, size_t len)
{
    static const char marker[] = "-----BEGIN ";

    /* PEM files may carry explanatory text before the first block. */
    for (size_t i = 0; i + sizeof(marker) - 1 <= len; i++)
        if (buf[i] == '-' && memcmp(buf + i, marker, sizeof(marker) - 1) == 0)
            return 1;
    return 0;
}

km_format km_sniff(const unsigned char *buf, size_t len)
{
    if (len >= 4 && buf[0] == 0xFE && buf[1] == 0xED && buf[2] == 0xFE && buf[3] == 0xED)
        return KM_FORMAT_JKS;
    if (len >= 4 && buf[0] == 0xCE && buf[1] == 0xCE && buf[2] == 0xCE && buf[3] == 0xCE)
        return KM_FORMAT_JCEKS;
    /* PKCS#12 PFX: a DER SEQUENCE with a long-form length, then INTEGER 3. */
    if (len >= 8 && buf[0] == 0x30 && (buf[1] & 0x80) != 0) {
        size_t n = buf[1] & 0x7f;
        if (n >= 1 && n <= 4 && 2 + n + 3 <= len && buf[2 + n] == 0x02 &&
            buf[3 + n] == 0x01 && buf[4 + n] == 0x03)
            return KM_FORMAT_PKCS12;
    }
    if (looks_like_pem(buf, len))
        return KM_FORMAT_PEM;
    return KM_FORMAT_UNKNOWN;
}

const char *km_format_name(km_format f)
{
    switch (f) {
    case KM_FORMAT_PKCS12: return "PKCS#12";
    case KM_FORMAT_JKS: return "JKS";
    case KM_FORMAT_JCEKS: return "JCEKS";
    case KM_FORMAT_PEM: return "PEM";
    default: return "unknown format";
    }
}
