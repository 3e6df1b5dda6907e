/* keystore: URIs, parsed and built. Strict: an unknown parameter is an
 * error, since a typo silently ignored would load the wrong material. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>

#include "kafka-mtls.h"
#include "kmtls/provider.h"
#include "kmtls/seed.h"
#include "uri.h"

#define SCHEME_LEN (sizeof(KAFKA_MTLS_URI_SCHEME) - 1)

int km_uri_has_scheme(const char *uri)
{
    return uri != NULL && strncasecmp(uri, KAFKA_MTLS_URI_SCHEME ":", SCHEME_LEN + 1) == 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes %XX in [s, s+n) into a new string; NULL on a bad or NUL escape. */
static char *percent_decode(const char *s, size_t n)
{
    char *out = OPENSSL_malloc(n + 1), *o = out;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        if (i + 2 >= n) {
            OPENSSL_free(out);
            return NULL;
        }
        int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            OPENSSL_free(out);
            return NULL;
        }
        *o++ = (char)(hi << 4 | lo);
        i += 2;
    }
    *o = '\0';
    return out;
}

static int set_param(km_uri *u, const char *uri, const char *key, size_t klen,
                     const char *val, size_t vlen, km_status *st)
{
    char **slot = NULL;
    char *value = percent_decode(val, vlen);

    if (value == NULL)
        return km_fail(st, KAFKA_MTLS_R_BAD_URI, "%s: bad percent-escape in parameter '%.*s'",
                       uri, (int)klen, key);
    if (klen == strlen(KAFKA_MTLS_URI_ALIAS) && strncmp(key, KAFKA_MTLS_URI_ALIAS, klen) == 0) {
        char why[300];

        /* an empty one is refused below, as every parameter is */
        if (value[0] != '\0' && !km_alias_check(value, why, sizeof(why))) {
            km_fail(st, KAFKA_MTLS_R_BAD_URI, "%s: %s", uri, why);
            OPENSSL_free(value);
            return 0;
        }
        slot = &u->alias;
    } else if (klen == strlen(KAFKA_MTLS_URI_PASSWORD_FILE) &&
               strncmp(key, KAFKA_MTLS_URI_PASSWORD_FILE, klen) == 0) {
        slot = &u->password_file;
        if (value[0] != '/') {
            OPENSSL_free(value);
            return km_fail(st, KAFKA_MTLS_R_RELATIVE_PATH,
                           "%s: password-file must be an absolute path", uri);
        }
    } else if (klen == strlen(KAFKA_MTLS_URI_PART) && strncmp(key, KAFKA_MTLS_URI_PART, klen) == 0) {
        if (u->part != KM_PART_ALL) {
            OPENSSL_free(value);
            return km_fail(st, KAFKA_MTLS_R_BAD_URI, "%s: parameter 'part' given twice", uri);
        }
        if (strcmp(value, "keystore") == 0)
            u->part = KM_PART_KEYSTORE;
        else if (strcmp(value, "truststore") == 0)
            u->part = KM_PART_TRUSTSTORE;
        else {
            km_fail(st, KAFKA_MTLS_R_BAD_URI, "%s: part=%s: expected 'keystore' or 'truststore'",
                    uri, value);
            OPENSSL_free(value);
            return 0;
        }
        OPENSSL_free(value);
        return 1;
    } else {
        OPENSSL_free(value);
        return km_fail(st, KAFKA_MTLS_R_BAD_URI,
                       "%s: unknown parameter '%.*s' (known: alias, part, password-file)",
                       uri, (int)klen, key);
    }
    if (*slot != NULL || value[0] == '\0') {
        km_fail(st, KAFKA_MTLS_R_BAD_URI, "%s: parameter '%.*s' %s", uri, (int)klen, key,
                *slot != NULL ? "given twice" : "is empty");
        OPENSSL_free(value);
        return 0;
    }
    *slot = value;
    return 1;
}

static int parse_query(km_uri *u, const char *uri, const char *q, km_status *st)
{
    while (*q != '\0') {
        size_t len = strcspn(q, "&");
        const char *eq = memchr(q, '=', len);

        if (len == 0) {
            q++;
            continue;
        }
        if (eq == NULL)
            return km_fail(st, KAFKA_MTLS_R_BAD_URI, "%s: parameter '%.*s' has no value",
                           uri, (int)len, q);
        if (!set_param(u, uri, q, (size_t)(eq - q), eq + 1, len - (size_t)(eq - q) - 1, st))
            return 0;
        q += len;
    }
    return 1;
}

int km_uri_parse(const char *uri, km_uri *out, km_status *st)
{
    const char *p, *q;

    memset(out, 0, sizeof(*out));
    if (!km_uri_has_scheme(uri))
        return km_fail(st, KAFKA_MTLS_R_BAD_URI, "%s: not a %s: URI", uri ? uri : "(null)",
                       KAFKA_MTLS_URI_SCHEME);
    p = uri + SCHEME_LEN + 1;
    if (strncmp(p, "//", 2) == 0) {
        if (p[2] != '/')
            return km_fail(st, KAFKA_MTLS_R_BAD_URI,
                           "%s: a host is not allowed; use keystore:/abs/path or keystore:///abs/path", uri);
        p += 2;
    }
    q = strchr(p, '?');
    if (q == p || *p == '\0')
        return km_fail(st, KAFKA_MTLS_R_BAD_URI, "%s: no path", uri);
    if (*p != '/')
        return km_fail(st, KAFKA_MTLS_R_RELATIVE_PATH,
                       "%s: the path must be absolute (keystore:/abs/path)", uri);
    out->path = percent_decode(p, q != NULL ? (size_t)(q - p) : strlen(p));
    if (out->path == NULL)
        return km_fail(st, KAFKA_MTLS_R_BAD_URI, "%s: bad percent-escape in the path", uri);
    /* "/keystore/client1/" names the same volume (and alias) as without '/' */
    for (size_t n = strlen(out->path); n > 1 && out->path[n - 1] == '/'; n--)
        out->path[n - 1] = '\0';
    if (q != NULL && !parse_query(out, uri, q + 1, st)) {
        km_uri_clear(out);
        return 0;
    }
    return 1;
}

void km_uri_clear(km_uri *u)
{
    OPENSSL_free(u->path);
    OPENSSL_free(u->alias);
    OPENSSL_free(u->password_file);
    memset(u, 0, sizeof(*u));
}

static void append(char *uri, size_t n, const char *s, int encode)
{
    size_t o = strlen(uri);

    for (; *s != '\0' && o + 4 < n; s++) {
        if (encode && (*s == '%' || *s == '?' || *s == '&' || *s == '#' || *s == '='))
            o += (size_t)snprintf(uri + o, n - o, "%%%02X", (unsigned char)*s);
        else
            uri[o++] = *s;
    }
    uri[o] = '\0';
}

static void param(char *uri, size_t n, const char *name, const char *value)
{
    if (value == NULL)
        return;
    append(uri, n, strchr(uri, '?') != NULL ? "&" : "?", 0);
    append(uri, n, name, 0);
    append(uri, n, "=", 0);
    append(uri, n, value, 1);
}

void kmtls_store_uri(char *uri, size_t n, const char *path, const char *part, const char *alias,
                     const char *password_file)
{
    snprintf(uri, n, "%s:", KAFKA_MTLS_URI_SCHEME);
    append(uri, n, path, 1);
    param(uri, n, KAFKA_MTLS_URI_PART, part);
    param(uri, n, KAFKA_MTLS_URI_ALIAS, alias);
    param(uri, n, KAFKA_MTLS_URI_PASSWORD_FILE, password_file);
}
