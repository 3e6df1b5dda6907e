/*
 * Property handling, driven by one table: each property the plugin claims,
 * what kind of value it takes, where it is kept and what checks it.
 * Everything that can be checked when a property is set is checked then,
 * so that a typo fails at rd_kafka_conf_set() with a message naming the
 * property, before any client exists; issuance properties are judged by
 * the issuer's own checks. Values of secret properties are never echoed.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "kafka-mtls.h"
#include "kmtls/issuer.h"
#include "kmtls/secret.h"
#include "kmtls/seed.h"
#include "app_material.h"
#include "settings.h"

typedef enum prop_kind {
    PROP_PATH_FILE,       /* a regular file, there now (a CA, a password file) */
    PROP_PATH_VOLUME,     /* a volume directory or a store file; a volume not made yet is
                           * accepted when its parent exists (the certificate service
                           * creates it: the seed's sidecar does mkdir -p /keystore/ALIAS) */
    PROP_PATH_STORE_FILE, /* a store file or a volume; one not made yet is accepted when
                           * its directory or that directory's parent exists */
    PROP_TEXT,            /* a string, judged by the row's check */
    PROP_SECRET,          /* a string never echoed, cleansed when dropped */
    PROP_NUMBER,          /* a whole number in [lo, hi] */
    PROP_NO_HOSTNAME_CHECK, /* Java's empty ssl.endpoint.identification.algorithm */
    PROP_ENVIRONMENT      /* not a property: a value read from the environment */
} prop_kind;

typedef struct prop {
    const char *name;
    prop_kind kind;
    size_t slot;                                   /* offsetof(km_settings, ...) */
    int (*check)(const char *value, km_status *st); /* PROP_TEXT; NULL: any value */
    long lo, hi;                                   /* PROP_NUMBER */
    const char *unit;
} prop;

static int check_alias(const char *value, km_status *st);
static int check_store_type(const char *value, km_status *st);
static int check_bool(const char *value, km_status *st);
static int check_rotation(const char *value, km_status *st);
static int check_existing(const char *value, km_status *st);

#define SLOT(field) offsetof(km_settings, field)

static const prop props[] = {
    { KAFKA_MTLS_PROP_VOLUME, PROP_PATH_VOLUME, SLOT(volume), NULL, 0, 0, NULL },
    { KAFKA_MTLS_PROP_ALIAS, PROP_TEXT, SLOT(alias), check_alias, 0, 0, NULL },
    { KAFKA_MTLS_PROP_PASSWORD_FILE, PROP_PATH_FILE, SLOT(password_file), NULL, 0, 0, NULL },
    { KAFKA_MTLS_PROP_WAIT_MS, PROP_NUMBER, SLOT(wait_ms), NULL, 0, 3600000, "milliseconds" },
    { "ssl.keystore.location", PROP_PATH_STORE_FILE, SLOT(keystore), NULL, 0, 0, NULL },
    { "ssl.keystore.type", PROP_TEXT, SLOT(keystore_type), check_store_type, 0, 0, NULL },
    { "ssl.keystore.password", PROP_SECRET, SLOT(keystore_password), NULL, 0, 0, NULL },
    { "ssl.key.password", PROP_SECRET, SLOT(key_password), NULL, 0, 0, NULL },
    { "ssl.truststore.location", PROP_PATH_STORE_FILE, SLOT(truststore), NULL, 0, 0, NULL },
    { "ssl.truststore.type", PROP_TEXT, SLOT(truststore_type), check_store_type, 0, 0, NULL },
    { "ssl.truststore.password", PROP_SECRET, SLOT(truststore_password), NULL, 0, 0, NULL },
    { "ssl.endpoint.identification.algorithm", PROP_NO_HOSTNAME_CHECK, SLOT(no_hostname_check), NULL, 0, 0,
      NULL },
    { KAFKA_MTLS_PROP_CA_LOCATION, PROP_PATH_FILE, SLOT(ca_cert), NULL, 0, 0, NULL },
    { KAFKA_MTLS_PROP_CA_KEY_LOCATION, PROP_PATH_FILE, SLOT(ca_key), NULL, 0, 0, NULL },
    { KAFKA_MTLS_PROP_CA_KEY_PASSWORD, PROP_SECRET, SLOT(ca_key_password), NULL, 0, 0, NULL },
    { KAFKA_MTLS_PROP_CA_KEY_PASSWORD_FILE, PROP_PATH_FILE, SLOT(ca_key_password_file), NULL, 0, 0, NULL },
    { KAFKA_MTLS_PROP_CA_KEY_INSECURE_OK, PROP_TEXT, SLOT(ca_key_insecure_ok), check_bool, 0, 0, NULL },
    { KAFKA_MTLS_PROP_ENROL_URL, PROP_TEXT, SLOT(enrol_url), km_svc_url_check, 0, 0, NULL },
    { KAFKA_MTLS_PROP_ENROL_CA_LOCATION, PROP_PATH_FILE, SLOT(enrol_root), NULL, 0, 0, NULL },
    /* a token file may come later: only a first enrolment reads it */
    { KAFKA_MTLS_PROP_ENROL_TOKEN_FILE, PROP_TEXT, SLOT(enrol_token_file), km_svc_token_file_check, 0, 0, NULL },
    { KAFKA_MTLS_PROP_ENROL_TIMEOUT_MS, PROP_NUMBER, SLOT(enrol_timeout_ms), NULL, 1, 600000, "milliseconds" },
    { KAFKA_MTLS_PROP_ENROL_NOT_AFTER, PROP_TEXT, SLOT(enrol_not_after), km_svc_not_after_check, 0, 0, NULL },
    { KAFKA_MTLS_PROP_SUBJECT, PROP_TEXT, SLOT(subject), km_subject_check, 0, 0, NULL },
    { KAFKA_MTLS_PROP_SAN, PROP_TEXT, SLOT(san), km_san_check, 0, 0, NULL },
    { KAFKA_MTLS_PROP_KEY_TYPE, PROP_TEXT, SLOT(key_type), km_key_type_check, 0, 0, NULL },
    { KAFKA_MTLS_PROP_VALIDITY_DAYS, PROP_NUMBER, SLOT(validity_days), NULL, 1, KM_MAX_VALIDITY_DAYS, "days" },
    { KAFKA_MTLS_PROP_RENEW_BEFORE, PROP_TEXT, SLOT(renew_before), km_renew_before_check, 0, 0, NULL },
    { KAFKA_MTLS_PROP_KEYSTORE_PASSWORD_FILE, PROP_PATH_FILE, SLOT(keystore_password_file), NULL, 0, 0, NULL },
    { KAFKA_MTLS_PROP_VALIDITY, PROP_TEXT, SLOT(validity), km_validity_check, 0, 0, NULL },
    { KAFKA_MTLS_PROP_ROTATION, PROP_TEXT, SLOT(rotation), check_rotation, 0, 0, NULL },
    { KAFKA_MTLS_PROP_ROTATION_EXISTING, PROP_TEXT, SLOT(rotation_existing), check_existing, 0, 0, NULL },
    { KAFKA_MTLS_PROP_ROTATION_POLL_MS, PROP_NUMBER, SLOT(rotation_poll_ms), NULL, 10, 3600000, "milliseconds" },
    { KAFKA_MTLS_PROP_ROTATION_DRAIN_MS, PROP_NUMBER, SLOT(drain_timeout_ms), NULL, 100, 600000, "milliseconds" },
    { KAFKA_MTLS_PROP_ROTATION_REPLY_WAIT_US, PROP_NUMBER, SLOT(reply_wait_us), NULL, 0, 1000000, "microseconds" },
    { KAFKA_MTLS_ENV_VOLUME, PROP_ENVIRONMENT, SLOT(env_volume), NULL, 0, 0, NULL },
};

#define NPROPS (sizeof(props) / sizeof(props[0]))

static int holds_string(const prop *p)
{
    return p->kind != PROP_NUMBER && p->kind != PROP_NO_HOSTNAME_CHECK;
}

static char **string_at(km_settings *s, const prop *p)
{
    return (char **)((char *)s + p->slot);
}

static void drop(const prop *p, char **slot)
{
    if (p->kind == PROP_SECRET)
        km_secret_free_str(*slot);
    else
        OPENSSL_free(*slot);
    *slot = NULL;
}

km_settings *km_settings_new(void)
{
    km_settings *s = OPENSSL_zalloc(sizeof(*s));

    if (s != NULL) {
        s->wait_ms = KAFKA_MTLS_WAIT_MS_DEFAULT;
        s->rotation_poll_ms = KAFKA_MTLS_ROTATION_POLL_MS_DEFAULT;
        s->drain_timeout_ms = KAFKA_MTLS_ROTATION_DRAIN_MS_DEFAULT;
        s->reply_wait_us = KAFKA_MTLS_ROTATION_REPLY_WAIT_US_DEFAULT;
        s->memfd = -1;
    }
    return s;
}

void km_settings_free(km_settings *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < NPROPS; i++)
        if (holds_string(&props[i]))
            drop(&props[i], string_at(s, &props[i]));
    if (s->memfd >= 0)
        close(s->memfd);
    OPENSSL_free(s);
}

km_settings *km_settings_dup(const km_settings *src)
{
    km_settings *s = km_settings_new();
    int ok = 1;

    if (s == NULL)
        return NULL;
    *s = *src;
    s->memfd = -1;   /* the chain file belongs to the client that was given it */
    s->applying = 0;
    for (size_t i = 0; i < NPROPS; i++) {
        char **slot = string_at(s, &props[i]);

        if (!holds_string(&props[i]) || *slot == NULL)
            continue;
        /* after a failure the rest are cleared, never left as src's: freeing
         * s frees only its own copies */
        *slot = ok ? OPENSSL_strdup(*slot) : NULL;
        ok = ok && *slot != NULL;
    }
    if (!ok) {
        km_settings_free(s);
        return NULL;
    }
    return s;
}

/* The directory above path, levels up. */
static void ancestor(const char *path, int levels, char *out, size_t n)
{
    snprintf(out, n, "%s", path);
    while (levels-- > 0) {
        char *slash;
        size_t len = strlen(out);

        while (len > 1 && out[len - 1] == '/')
            out[--len] = '\0';
        slash = strrchr(out, '/');
        if (slash == NULL)
            return;
        *(slash == out ? slash + 1 : slash) = '\0';
    }
}

/* A path not made yet whose parent (or grandparent) directory exists. */
static int pending_ok(const char *value, prop_kind kind)
{
    char dir[PATH_MAX];
    struct stat sb;

    for (int up = 1; up <= (kind == PROP_PATH_STORE_FILE ? 2 : kind == PROP_PATH_VOLUME ? 1 : 0); up++) {
        ancestor(value, up, dir, sizeof(dir));
        if (stat(dir, &sb) == 0)
            return S_ISDIR(sb.st_mode);
        if (errno != ENOENT)
            return 0;
    }
    return 0;
}

/* A path property must be absolute; what exists must be what it names and
 * readable: a typo fails here, not at client creation. */
static int check_path(const char *name, const char *value, prop_kind kind, char *errstr, size_t errstr_size)
{
    struct stat sb;

    if (value[0] != '/') {
        snprintf(errstr, errstr_size, "%s: \"%s\" is not an absolute path", name, value);
        return 0;
    }
    if (stat(value, &sb) != 0) {
        if (errno == ENOENT && pending_ok(value, kind))
            return 1; /* client creation waits for it (mtls.wait.ms), or issues into it */
        snprintf(errstr, errstr_size, "%s: %s: %s%s", name, value, strerror(errno),
                 errno == ENOENT && kind != PROP_PATH_FILE ? " (nor does its parent directory)" : "");
        return 0;
    }
    if (kind != PROP_PATH_FILE ? !(S_ISDIR(sb.st_mode) || S_ISREG(sb.st_mode)) : !S_ISREG(sb.st_mode)) {
        snprintf(errstr, errstr_size, "%s: %s: not a %s", name, value,
                 kind != PROP_PATH_FILE ? "directory or regular file" : "regular file");
        return 0;
    }
    if (access(value, R_OK | (S_ISDIR(sb.st_mode) ? X_OK : 0)) != 0) {
        snprintf(errstr, errstr_size, "%s: %s: %s", name, value, strerror(errno));
        return 0;
    }
    return 1;
}

static int check_alias(const char *value, km_status *st)
{
    char msg[300];

    return km_alias_check(value, msg, sizeof(msg)) || km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "%s", msg);
}

static int check_bool(const char *value, km_status *st)
{
    return strcmp(value, "true") == 0 || strcmp(value, "false") == 0 ||
           km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "\"%s\": expected true or false", value);
}

/* The Java store types the plugin takes (the content decides the format). */
static int check_store_type(const char *value, km_status *st)
{
    static const char *const known[] = { "JKS", "JCEKS", "PKCS12", "PEM" };

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcasecmp(value, known[i]) == 0)
            return 1;
    return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "unsupported keystore type \"%s\" (JKS, JCEKS, PKCS12 or PEM)",
                   value);
}

static int check_rotation(const char *value, km_status *st)
{
    return strcmp(value, "restart") == 0 || strcmp(value, "live") == 0 ||
           km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "\"%s\": expected restart (a new client instance picks up a "
                   "new certificate) or live (the running client moves to it)", value);
}

static int check_existing(const char *value, km_status *st)
{
    return strcmp(value, "move") == 0 || strcmp(value, "keep") == 0 ||
           km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "\"%s\": expected move (connections move to the new "
                   "certificate, one at a time) or keep (they keep the old one until they close)", value);
}

int km_settings_live(const km_settings *s)
{
    return s->rotation != NULL && strcmp(s->rotation, "live") == 0;
}

static int parse_number(const prop *p, const char *value, long *out, char *errstr, size_t errstr_size)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || v < p->lo || v > p->hi) {
        snprintf(errstr, errstr_size, "%s: \"%s\" is not a number of %s (%ld..%ld)", p->name, value, p->unit,
                 p->lo, p->hi);
        return 0;
    }
    *out = v;
    return 1;
}

/* Checks value as p says; 1 if it may be kept. */
static int valid(const prop *p, const char *value, char *errstr, size_t errstr_size)
{
    km_status st = { 0 };

    switch (p->kind) {
    case PROP_PATH_FILE:
    case PROP_PATH_VOLUME:
    case PROP_PATH_STORE_FILE:
        return check_path(p->name, value, p->kind, errstr, errstr_size);
    case PROP_TEXT:
        if (p->check == NULL || p->check(value, &st))
            return 1;
        snprintf(errstr, errstr_size, "%s: %s", p->name, st.msg);
        return 0;
    default:
        return 1;
    }
}

static rd_kafka_conf_res_t keep(km_settings *s, const prop *p, const char *value, char *errstr,
                                size_t errstr_size)
{
    char **slot = string_at(s, p), *copy = OPENSSL_strdup(value);

    if (copy == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return RD_KAFKA_CONF_INVALID;
    }
    drop(p, slot);
    *slot = copy;
    return RD_KAFKA_CONF_OK;
}

/* The row of a property the plugin claims (or, with environment, of a
 * value it reads from the environment); NULL if none. */
static const prop *prop_named(const char *name, int environment)
{
    for (size_t i = 0; i < NPROPS; i++)
        if ((props[i].kind == PROP_ENVIRONMENT) == environment && strcmp(name, props[i].name) == 0)
            return &props[i];
    return NULL;
}

/* A renew window that covers the whole lifetime renews every certificate
 * as soon as it is issued: refused when both are set (the issuer's check);
 * with the default lifetime, at client creation. */
static int window_ok(const km_settings *s, const char *name, const char *value, char *errstr,
                     size_t errstr_size)
{
    const char *rb_spec = s->renew_before, *validity = s->validity;
    long days = s->validity_days, lifetime = 0;
    km_renew_before rb;
    km_status st = { 0 };
    char err[256], given[64];

    if (strcmp(name, KAFKA_MTLS_PROP_RENEW_BEFORE) == 0)
        rb_spec = value;
    else if (strcmp(name, KAFKA_MTLS_PROP_VALIDITY_DAYS) == 0)
        days = strtol(value, NULL, 10);
    else if (strcmp(name, KAFKA_MTLS_PROP_VALIDITY) == 0)
        validity = value;
    else
        return 1;
    if (days < 0 || days > KM_MAX_VALIDITY_DAYS)
        return 1; /* out of range: the row's check refuses it (found by fuzz_settings) */
    /* mtls.validity (90d, 12h, 30m) wins over mtls.validity.days */
    if (validity != NULL && !km_validity_parse(validity, &lifetime, err, sizeof(err)))
        return 1; /* a bad value is the row's check to refuse */
    if (validity == NULL)
        lifetime = days * 86400L;
    if (rb_spec == NULL || lifetime <= 0 || !km_renew_before_parse(rb_spec, &rb, err, sizeof(err)) ||
        km_renew_window_check(lifetime, &rb, &st))
        return 1;
    if (validity != NULL)
        snprintf(given, sizeof(given), "%s=%s", KAFKA_MTLS_PROP_VALIDITY, validity);
    else
        snprintf(given, sizeof(given), "%s=%ld", KAFKA_MTLS_PROP_VALIDITY_DAYS, days);
    snprintf(errstr, errstr_size, "%s=%s with %s: %s", KAFKA_MTLS_PROP_RENEW_BEFORE, rb_spec, given, st.msg);
    return 0;
}

rd_kafka_conf_res_t km_settings_set(km_settings *s, const char *name, const char *value,
                                    char *errstr, size_t errstr_size)
{
    const prop *p;

    if (s->applying || name == NULL)
        return RD_KAFKA_CONF_UNKNOWN;
    if (km_app_material_refused(name, errstr, errstr_size))
        return RD_KAFKA_CONF_INVALID;
    if ((p = prop_named(name, 0)) == NULL)
        return RD_KAFKA_CONF_UNKNOWN;
    if (value == NULL)
        value = "";
    if (!window_ok(s, name, value, errstr, errstr_size))
        return RD_KAFKA_CONF_INVALID;
    switch (p->kind) {
    case PROP_NUMBER:
        return parse_number(p, value, (long *)((char *)s + p->slot), errstr, errstr_size) ? RD_KAFKA_CONF_OK
                                                                                         : RD_KAFKA_CONF_INVALID;
    case PROP_NO_HOSTNAME_CHECK:
        /* Java spells "no hostname verification" as an empty value, which
         * librdkafka rejects; "https"/"none" are librdkafka's own. The last
         * value set wins, so a later "https" turns the check back on. */
        s->no_hostname_check = value[0] == '\0';
        return s->no_hostname_check ? RD_KAFKA_CONF_OK : RD_KAFKA_CONF_UNKNOWN;
    default:
        return valid(p, value, errstr, errstr_size) ? keep(s, p, value, errstr, errstr_size)
                                                    : RD_KAFKA_CONF_INVALID;
    }
}

const char *km_settings_source(const km_settings *s)
{
    return s->volume != NULL ? s->volume : s->keystore;
}

const char *km_settings_source_property(const km_settings *s)
{
    return s->volume != NULL ? KAFKA_MTLS_PROP_VOLUME : "ssl.keystore.location";
}

int km_settings_from_env(km_settings *s)
{
    const char *v = getenv(KAFKA_MTLS_ENV_VOLUME);

    return v == NULL || v[0] == '\0' || (s->env_volume = OPENSSL_strdup(v)) != NULL;
}

int km_settings_use_env_volume(km_settings *s, char *errstr, size_t errstr_size)
{
    char why[512];

    if (s->env_volume == NULL) {
        snprintf(errstr, errstr_size,
                 "kafka-mtls: no key source configured: set %s (or the %s environment variable) "
                 "or ssl.keystore.location", KAFKA_MTLS_PROP_VOLUME, KAFKA_MTLS_ENV_VOLUME);
        return 0;
    }
    if (!check_path(KAFKA_MTLS_ENV_VOLUME, s->env_volume, PROP_PATH_VOLUME, why, sizeof(why))) {
        snprintf(errstr, errstr_size, "kafka-mtls: %s", why);
        return 0;
    }
    return keep(s, prop_named(KAFKA_MTLS_PROP_VOLUME, 0), s->env_volume, errstr, errstr_size) == RD_KAFKA_CONF_OK;
}
