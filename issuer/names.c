/*
 * What the user writes for the certificate's names: the subject ("CN=a,O=b"
 * in RFC 4514 order, as keytool's -dname; or "/CN=a/O=b" in DER order, as
 * openssl's -subj), the subjectAltName list (DNS:, URI:, IP:) and the
 * extendedKeyUsage list.
 *
 * Templates are split into their parts first and ${alias} / ${hostname}
 * expanded inside each value afterwards, so an expanded value is only
 * ever a value: an alias "app,O=Admins" is the CN "app,O=Admins", never a
 * second RDN, and "a,email:x" never a second SAN. The X509_NAME and the
 * GENERAL_NAMES are built directly, never through a string parser.
 */
#include <ctype.h>
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
#define MAX_SANS 64
#define MAX_VALUE 1024

/* Expands ${alias} and ${hostname} in one value. */
static int expand(const char *in, const char *alias, const char *what, const char *orig, char *out,
                  size_t n, km_status *st)
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
                               what, orig, p);
            }
        }
        len = val != NULL ? strlen(val) : 1;
        if (o + len + 1 > n)
            return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "%s '%s': too long", what, orig);
        memcpy(out + o, val != NULL ? val : p, len);
        o += len;
        p += skip;
    }
    out[o] = '\0';
    return 1;
}

/* Splits s at unescaped sep into fields (in place, escapes removed). */
static int split(char *s, char sep, char **fields, int max, int plus_is_rdn, const char *what,
                 const char *orig, km_status *st)
{
    int n = 0;
    char *w = s, *start = s;

    for (char *r = s;; r++) {
        if (*r == '\\' && r[1] != '\0') {
            *w++ = *++r;
            continue;
        }
        if (plus_is_rdn && *r == '+')
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

static int control_free(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

X509_NAME *km_subject_build(const char *tmpl, const char *alias, km_status *st)
{
    char buf[MAX_VALUE * 2], *rdn[MAX_RDNS], value[MAX_VALUE];
    int slash = tmpl[0] == '/', n;
    X509_NAME *name;

    if (strlen(tmpl) >= sizeof(buf)) {
        km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "subject '%.40s...': too long", tmpl);
        return NULL;
    }
    snprintf(buf, sizeof(buf), "%s", tmpl + slash);
    if ((n = split(buf, slash ? '/' : ',', rdn, MAX_RDNS, 1, "subject", tmpl, st)) <= 0)
        return NULL;
    if ((name = X509_NAME_new()) == NULL) {
        km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
        return NULL;
    }
    /* RFC 4514 strings list the most specific RDN first; DER has it last. */
    for (int i = 0; i < n; i++) {
        char *f = rdn[slash ? i : n - 1 - i], *eq = strchr(f, '='), *key;

        if (eq == NULL)
            goto bad;
        *eq = '\0';
        key = trim(f);
        if (*key == '\0' || *trim(eq + 1) == '\0')
            goto bad;
        if (!expand(trim(eq + 1), alias, "subject", tmpl, value, sizeof(value), st))
            goto fail;
        if (value[0] == '\0' || !control_free(value)) {
            km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "subject '%s': the value of %s is empty or has control "
                    "characters once expanded", tmpl, key);
            goto fail;
        }
        ERR_set_mark();
        if (!X509_NAME_add_entry_by_txt(name, key, MBSTRING_UTF8, (const unsigned char *)value, -1, -1, 0)) {
            ERR_pop_to_mark();
            km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "subject '%s': unknown attribute '%s' or invalid value",
                    tmpl, key);
            goto fail;
        }
        ERR_pop_to_mark();
    }
    return name;
bad:
    km_fail(st, KAFKA_MTLS_R_BAD_REQUEST,
            "subject '%s': every part must be ATTRIBUTE=value, as in 'CN=client1,O=example' or "
            "'/CN=client1/O=example'", tmpl);
fail:
    X509_NAME_free(name);
    return NULL;
}

/* A host name as a certificate carries it: letters, digits, '-', '_',
 * dots between labels, an optional leading "*." wildcard. */
static int dns_name_ok(const char *s)
{
    size_t label = 0;

    if (strncmp(s, "*.", 2) == 0)
        s += 2;
    if (*s == '\0' || *s == '.')
        return 0;
    for (; *s != '\0'; s++) {
        if (*s == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if (isalnum((unsigned char)*s) || *s == '-' || *s == '_') {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    return label > 0;
}

/* A URI as an IA5String: printable ASCII, no spaces, with a scheme. */
static int uri_ok(const char *s)
{
    const char *colon = strchr(s, ':');

    if (colon == NULL || colon == s || !isalpha((unsigned char)s[0]))
        return 0;
    for (const char *p = s; p < colon; p++)
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
            return 0;
    for (; *s != '\0'; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

static GENERAL_NAME *ia5_name(int type, const char *value)
{
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();

    if (g == NULL || ia5 == NULL || !ASN1_STRING_set(ia5, value, -1)) {
        GENERAL_NAME_free(g);
        ASN1_IA5STRING_free(ia5);
        return NULL;
    }
    GENERAL_NAME_set0_value(g, type, ia5);
    return g;
}

static GENERAL_NAME *ip_name(const char *value)
{
    ASN1_OCTET_STRING *ip = a2i_IPADDRESS(value);
    GENERAL_NAME *g = ip != NULL ? GENERAL_NAME_new() : NULL;

    if (g == NULL) {
        ASN1_OCTET_STRING_free(ip);
        return NULL;
    }
    GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
    return g;
}

GENERAL_NAMES *km_san_build(const char *tmpl, const char *alias, km_status *st)
{
    char buf[4096], *item[MAX_SANS], value[MAX_VALUE];
    GENERAL_NAMES *names;
    int n;

    if (strlen(tmpl) >= sizeof(buf)) {
        km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "subjectAltName '%.40s...': too long", tmpl);
        return NULL;
    }
    snprintf(buf, sizeof(buf), "%s", tmpl);
    if ((n = split(buf, ',', item, MAX_SANS, 0, "subjectAltName", tmpl, st)) <= 0)
        return NULL;
    if ((names = GENERAL_NAMES_new()) == NULL) {
        km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        char *it = trim(item[i]), *colon = strchr(it, ':');
        size_t klen = colon != NULL ? (size_t)(colon - it) : 0;
        int type = -1;
        GENERAL_NAME *g = NULL;

        if (colon != NULL && klen == 3 && strncasecmp(it, "DNS", 3) == 0)
            type = GEN_DNS;
        else if (colon != NULL && klen == 3 && strncasecmp(it, "URI", 3) == 0)
            type = GEN_URI;
        else if (colon != NULL && klen == 2 && strncasecmp(it, "IP", 2) == 0)
            type = GEN_IPADD;
        if (type < 0 || colon[1] == '\0') {
            km_fail(st, KAFKA_MTLS_R_BAD_REQUEST,
                    "subjectAltName '%s': '%s' is not DNS:name, URI:uri or IP:address", tmpl, it);
            goto fail;
        }
        if (!expand(colon + 1, alias, "subjectAltName", tmpl, value, sizeof(value), st))
            goto fail;
        if (type == GEN_DNS && !dns_name_ok(value)) {
            km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "subjectAltName '%s': DNS:'%s' is not a host name", tmpl,
                    value);
            goto fail;
        }
        if (type == GEN_URI && !uri_ok(value)) {
            km_fail(st, KAFKA_MTLS_R_BAD_REQUEST,
                    "subjectAltName '%s': URI:'%s' is not a URI (scheme:..., printable ASCII, no spaces)",
                    tmpl, value);
            goto fail;
        }
        g = type == GEN_IPADD ? ip_name(value) : ia5_name(type, value);
        if (g == NULL && type == GEN_IPADD) {
            km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "subjectAltName '%s': '%s' is not an IP address", tmpl,
                    value);
            goto fail;
        }
        if (g == NULL || !sk_GENERAL_NAME_push(names, g)) {
            GENERAL_NAME_free(g);
            km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
            goto fail;
        }
    }
    return names;
fail:
    GENERAL_NAMES_free(names);
    return NULL;
}

int km_eku_check(const char *s, km_status *st)
{
    char buf[256], *item[8];
    int n;

    if (strlen(s) >= sizeof(buf))
        return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "extendedKeyUsage '%.40s...': too long", s);
    snprintf(buf, sizeof(buf), "%s", s);
    if ((n = split(buf, ',', item, 8, 0, "extendedKeyUsage", s, st)) <= 0)
        return 0;
    for (int i = 0; i < n; i++) {
        const char *it = trim(item[i]);

        if (strcmp(it, "clientAuth") != 0 && strcmp(it, "serverAuth") != 0)
            return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST,
                           "extendedKeyUsage '%s': '%s' is not clientAuth or serverAuth", s, it);
    }
    return 1;
}

int km_subject_check(const char *tmpl, km_status *st)
{
    X509_NAME *name = km_subject_build(tmpl, "alias", st);

    X509_NAME_free(name);
    return name != NULL;
}

int km_san_check(const char *tmpl, km_status *st)
{
    GENERAL_NAMES *names = km_san_build(tmpl, "alias", st);

    GENERAL_NAMES_free(names);
    return names != NULL;
}
