/*
 * What the user writes for the certificate's names: ${alias} / ${hostname}
 * expansion, the subject ("CN=a,O=b" in RFC 4514 order, as keytool's -dname;
 * or "/CN=a/O=b" in DER order, as openssl's -subj), the subjectAltName list
 * (DNS:, URI:, IP:) and the extendedKeyUsage list.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "issue_internal.h"
#include "kafka-mtls.h"

#define MAX_RDNS 32

int km_expand(const char *in, const char *alias, const char *what, char *out, size_t n, km_status *st)
{
    char host[256];
    size_t o = 0;

    for (const char *p = in; *p != '\0';) {
        const char *val = NULL;
        size_t skip = 1, len;

        if (strncmp(p, "${", 2) == 0) {
            if (strncmp(p, "${alias}", 8) == 0) {
                val = alias;
                skip = 8;
            } else if (strncmp(p, "${hostname}", 11) == 0) {
                if (gethostname(host, sizeof(host)) != 0)
                    return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "%s: cannot read the host name", what);
                host[sizeof(host) - 1] = '\0';
                val = host;
                skip = 11;
            } else {
                return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST,
                               "%s '%s': unknown variable at '%.20s' (only ${alias} and ${hostname} expand)",
                               what, in, p);
            }
        }
        len = val != NULL ? strlen(val) : 1;
        if (o + len + 1 > n)
            return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "%s '%s': too long", what, in);
        memcpy(out + o, val != NULL ? val : p, len);
        o += len;
        p += skip;
    }
    out[o] = '\0';
    return 1;
}

/* Splits s at unescaped sep into fields (in place, escapes removed). */
static int split(char *s, char sep, char **fields, int max, const char *what, const char *orig,
                 km_status *st)
{
    int n = 0;
    char *w = s, *start = s;

    for (char *r = s;; r++) {
        if (*r == '\\' && r[1] != '\0') {
            *w++ = *++r;
            continue;
        }
        if (*r == '+')
            return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST,
                           "%s '%s': multi-valued RDNs are not supported (escape '+' as '\\+')", what, orig);
        if (*r == sep || *r == '\0') {
            int end = *r == '\0';

            *w++ = '\0';
            if (n == max)
                return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "%s '%s': more than %d parts", what, orig, max);
            fields[n++] = start;
            start = w;
            if (end)
                break;
            continue;
        }
        *w++ = *r;
    }
    return n;
}

static char *trim(char *s)
{
    size_t n;

    while (*s == ' ')
        s++;
    n = strlen(s);
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
    return s;
}

X509_NAME *km_subject_parse(const char *s, km_status *st)
{
    char buf[1024], *rdn[MAX_RDNS];
    int slash = s[0] == '/', n;
    X509_NAME *name;

    if (strlen(s) >= sizeof(buf)) {
        km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "subject '%.40s...': too long", s);
        return NULL;
    }
    snprintf(buf, sizeof(buf), "%s", s + slash);
    if ((n = split(buf, slash ? '/' : ',', rdn, MAX_RDNS, "subject", s, st)) <= 0)
        return NULL;
    if ((name = X509_NAME_new()) == NULL) {
        km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
        return NULL;
    }
    /* RFC 4514 strings list the most specific RDN first; DER has it last. */
    for (int i = 0; i < n; i++) {
        char *f = rdn[slash ? i : n - 1 - i], *eq = strchr(f, '='), *key, *val;

        if (eq == NULL)
            goto bad;
        *eq = '\0';
        key = trim(f);
        val = trim(eq + 1);
        if (*key == '\0' || *val == '\0')
            goto bad;
        ERR_set_mark();
        if (!X509_NAME_add_entry_by_txt(name, key, MBSTRING_UTF8, (const unsigned char *)val, -1, -1, 0)) {
            ERR_pop_to_mark();
            km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "subject '%s': unknown attribute '%s' or invalid value",
                    s, key);
            X509_NAME_free(name);
            return NULL;
        }
        ERR_pop_to_mark();
    }
    return name;
bad:
    km_fail(st, KAFKA_MTLS_R_BAD_REQUEST,
            "subject '%s': every part must be ATTRIBUTE=value, as in 'CN=client1,O=example' or "
            "'/CN=client1/O=example'", s);
    X509_NAME_free(name);
    return NULL;
}

int km_san_check(const char *s, km_status *st)
{
    char buf[4096], *item[64];
    int n;

    if (strlen(s) >= sizeof(buf))
        return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "subjectAltName '%.40s...': too long", s);
    snprintf(buf, sizeof(buf), "%s", s);
    if ((n = split(buf, ',', item, 64, "subjectAltName", s, st)) <= 0)
        return 0;
    for (int i = 0; i < n; i++) {
        char *it = trim(item[i]), *colon = strchr(it, ':');
        size_t klen = colon != NULL ? (size_t)(colon - it) : 0;

        if (colon == NULL || colon[1] == '\0' ||
            !((klen == 3 && (strncasecmp(it, "DNS", 3) == 0 || strncasecmp(it, "URI", 3) == 0)) ||
              (klen == 2 && strncasecmp(it, "IP", 2) == 0)))
            return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST,
                           "subjectAltName '%s': '%s' is not DNS:name, URI:uri or IP:address", s, it);
        if (klen == 2) {
            ASN1_OCTET_STRING *ip = a2i_IPADDRESS(colon + 1);

            if (ip == NULL)
                return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "subjectAltName '%s': '%s' is not an IP address",
                               s, colon + 1);
            ASN1_OCTET_STRING_free(ip);
        }
    }
    return 1;
}

int km_eku_check(const char *s, km_status *st)
{
    char buf[256], *item[8];
    int n;

    if (strlen(s) >= sizeof(buf))
        return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "extendedKeyUsage '%.40s...': too long", s);
    snprintf(buf, sizeof(buf), "%s", s);
    if ((n = split(buf, ',', item, 8, "extendedKeyUsage", s, st)) <= 0)
        return 0;
    for (int i = 0; i < n; i++) {
        const char *it = trim(item[i]);

        if (strcmp(it, "clientAuth") != 0 && strcmp(it, "serverAuth") != 0)
            return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST,
                           "extendedKeyUsage '%s': '%s' is not clientAuth or serverAuth", s, it);
    }
    return 1;
}
