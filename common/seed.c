/* The seed layout's file names and the alias rule (kmtls/seed.h). */
#include <stdio.h>
#include <string.h>
#include <openssl/asn1.h>

#include "kmtls/seed.h"

const char *const km_seed_store_exts[KM_SEED_STORE_EXTS] = { "jks", "p12", "pfx" };

static const char *const markers[] = { [KM_SEED_KEYSTORE] = ".keystore.", [KM_SEED_TRUSTSTORE] = ".truststore." };

int km_seed_name(km_seed_file f, const char *alias, const char *ext, char *out, size_t n)
{
    int len;

    switch (f) {
    case KM_SEED_KEYSTORE:
    case KM_SEED_TRUSTSTORE:
        len = snprintf(out, n, "%s%s%s", alias, markers[f], ext != NULL ? ext : km_seed_store_exts[0]);
        break;
    case KM_SEED_CREDS:
        len = snprintf(out, n, "%s_creds", alias);
        break;
    default:
        len = snprintf(out, n, "%s-ca-signed.crt", alias);
        break;
    }
    return len >= 0 && (size_t)len < n;
}

int km_seed_path(km_seed_file f, const char *volume, const char *alias, const char *ext, char *out, size_t n)
{
    int len = snprintf(out, n, "%s/", volume);

    return len >= 0 && (size_t)len < n && km_seed_name(f, alias, ext, out + len, n - (size_t)len);
}

int km_seed_parse(const char *name, km_seed_file *kind, size_t *alias_len, const char **ext)
{
    for (km_seed_file f = KM_SEED_KEYSTORE; f <= KM_SEED_TRUSTSTORE; f++) {
        const char *dot = strstr(name, markers[f]);

        if (dot == NULL || dot == name)
            continue;
        *kind = f;
        *alias_len = (size_t)(dot - name);
        *ext = dot + strlen(markers[f]);
        return 1;
    }
    return 0;
}

int km_seed_known_ext(const char *ext)
{
    for (size_t i = 0; i < KM_SEED_STORE_EXTS; i++)
        if (strcmp(ext, km_seed_store_exts[i]) == 0)
            return 1;
    return 0;
}

int km_seed_is_creds(const char *name)
{
    size_t n = strlen(name);

    return n > 6 && strcmp(name + n - 6, "_creds") == 0;
}

int km_seed_is_temp(const char *name)
{
    return strncmp(name, KM_TEMP_PREFIX, strlen(KM_TEMP_PREFIX)) == 0;
}

/* 1 valid; else the cause in why, and 0 when the alias may be quoted
 * beside it, -1 when it must not be. */
static int alias_valid(const char *alias, char *why, size_t n)
{
    const unsigned char *p = (const unsigned char *)alias;
    size_t len = strlen(alias);

    if (len == 0 || strchr(alias, '/') != NULL || alias[0] == '.') {
        snprintf(why, n, "not usable as a file name prefix: it %s",
                 len == 0 ? "is empty" : strchr(alias, '/') != NULL ? "must not contain '/'"
                                                                     : "must not start with '.'");
        return 0;
    }
    if (len > KM_MAX_ALIAS) {
        snprintf(why, n, "longer than %d bytes", KM_MAX_ALIAS);
        return 0;
    }
    for (const unsigned char *c = p; *c != '\0'; c++)
        if (*c < 0x20 || *c == 0x7f) {
            snprintf(why, n, "control characters are not allowed");
            return -1;
        }
    while (*p != '\0') {
        unsigned long cp;
        int used = UTF8_getc(p, (int)strlen((const char *)p), &cp);

        if (used <= 0) {
            snprintf(why, n, "not valid UTF-8 (byte 0x%02x at offset %d); it becomes the certificate's CN", *p,
                     (int)(p - (const unsigned char *)alias));
            return -1;
        }
        p += used;
    }
    return 1;
}

int km_alias_check(const char *alias, char *msg, size_t n)
{
    char why[160];
    int valid = alias_valid(alias, why, sizeof(why));

    if (valid == 1)
        return 1;
    if (valid == 0)
        snprintf(msg, n, "alias '%.*s': %s", KM_MAX_ALIAS, alias, why);
    else
        snprintf(msg, n, "alias: %s", why);
    return 0;
}
