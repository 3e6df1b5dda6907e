/*
 * Property handling. Everything that can be checked when a property is set
 * is checked then, so that a typo fails at rd_kafka_conf_set() with a
 * message naming the property, before any client exists. Values of
 * password properties are never echoed.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "kafka-mtls.h"
#include "issuer.h"
#include "settings.h"

km_settings *km_settings_new(void)
{
    km_settings *s = OPENSSL_zalloc(sizeof(*s));

    if (s != NULL) {
        s->wait_ms = KAFKA_MTLS_WAIT_MS_DEFAULT;
        s->memfd = -1;
    }
    return s;
}

static void free_secret(char **p)
{
    if (*p != NULL)
        OPENSSL_clear_free(*p, strlen(*p));
    *p = NULL;
}

void km_settings_free(km_settings *s)
{
    if (s == NULL)
        return;
    OPENSSL_free(s->volume);
    OPENSSL_free(s->env_volume);
    OPENSSL_free(s->alias);
    OPENSSL_free(s->password_file);
    OPENSSL_free(s->keystore);
    OPENSSL_free(s->keystore_type);
    OPENSSL_free(s->truststore);
    OPENSSL_free(s->truststore_type);
    free_secret(&s->keystore_password);
    free_secret(&s->key_password);
    free_secret(&s->truststore_password);
    free_secret(&s->ca_key_password);
    OPENSSL_free(s->ca_cert);
    OPENSSL_free(s->ca_key);
    OPENSSL_free(s->ca_key_password_file);
    OPENSSL_free(s->subject);
    OPENSSL_free(s->san);
    OPENSSL_free(s->key_type);
    OPENSSL_free(s->renew_before);
    OPENSSL_free(s->keystore_password_file);
    if (s->memfd >= 0)
        close(s->memfd);
    OPENSSL_free(s);
}

static int copy_str(char **dst, const char *src)
{
    *dst = NULL;
    return src == NULL || (*dst = OPENSSL_strdup(src)) != NULL;
}

km_settings *km_settings_dup(const km_settings *src)
{
    km_settings *s = km_settings_new();

    if (s == NULL)
        return NULL;
    s->rdk = src->rdk;
    s->wait_ms = src->wait_ms;
    s->no_hostname_check = src->no_hostname_check;
    s->validity_days = src->validity_days;
    if (!copy_str(&s->volume, src->volume) || !copy_str(&s->env_volume, src->env_volume) ||
        !copy_str(&s->alias, src->alias) ||
        !copy_str(&s->password_file, src->password_file) || !copy_str(&s->keystore, src->keystore) ||
        !copy_str(&s->keystore_type, src->keystore_type) || !copy_str(&s->truststore, src->truststore) ||
        !copy_str(&s->truststore_type, src->truststore_type) ||
        !copy_str(&s->keystore_password, src->keystore_password) ||
        !copy_str(&s->key_password, src->key_password) ||
        !copy_str(&s->truststore_password, src->truststore_password) ||
        !copy_str(&s->ca_cert, src->ca_cert) || !copy_str(&s->ca_key, src->ca_key) ||
        !copy_str(&s->ca_key_password, src->ca_key_password) ||
        !copy_str(&s->ca_key_password_file, src->ca_key_password_file) ||
        !copy_str(&s->subject, src->subject) || !copy_str(&s->san, src->san) ||
        !copy_str(&s->key_type, src->key_type) || !copy_str(&s->renew_before, src->renew_before) ||
        !copy_str(&s->keystore_password_file, src->keystore_password_file)) {
        km_settings_free(s);
        return NULL;
    }
    return s;
}

/* What a path property names, and how much of it must exist now. */
typedef enum path_kind {
    PATH_FILE,        /* a regular file, there now (a CA, a password file) */
    PATH_VOLUME,      /* a volume directory or a store file; a volume not made yet is
                       * accepted when its parent exists (the certificate service
                       * creates it: the seed's sidecar does mkdir -p /keystore/ALIAS) */
    PATH_STORE_FILE   /* a store file or a volume; one not made yet is accepted when
                       * its directory or that directory's parent exists */
} path_kind;

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
static int pending_ok(const char *value, path_kind kind)
{
    char dir[PATH_MAX];
    struct stat sb;

    for (int up = 1; up <= (kind == PATH_STORE_FILE ? 2 : kind == PATH_VOLUME ? 1 : 0); up++) {
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
static int check_path(const char *prop, const char *value, path_kind kind, char *errstr, size_t errstr_size)
{
    struct stat sb;

    if (value[0] != '/') {
        snprintf(errstr, errstr_size, "%s: \"%s\" is not an absolute path", prop, value);
        return 0;
    }
    if (stat(value, &sb) != 0) {
        if (errno == ENOENT && pending_ok(value, kind))
            return 1; /* client creation waits for it (mtls.wait.ms), or issues into it */
        snprintf(errstr, errstr_size, "%s: %s: %s%s", prop, value, strerror(errno),
                 errno == ENOENT && kind != PATH_FILE ? " (nor does its parent directory)" : "");
        return 0;
    }
    if (kind != PATH_FILE ? !(S_ISDIR(sb.st_mode) || S_ISREG(sb.st_mode)) : !S_ISREG(sb.st_mode)) {
        snprintf(errstr, errstr_size, "%s: %s: not a %s", prop, value,
                 kind != PATH_FILE ? "directory or regular file" : "regular file");
        return 0;
    }
    if (access(value, R_OK | (S_ISDIR(sb.st_mode) ? X_OK : 0)) != 0) {
        snprintf(errstr, errstr_size, "%s: %s: %s", prop, value, strerror(errno));
        return 0;
    }
    return 1;
}

static rd_kafka_conf_res_t store(char **slot, const char *value, char *errstr, size_t errstr_size)
{
    char *copy = OPENSSL_strdup(value);

    if (copy == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return RD_KAFKA_CONF_INVALID;
    }
    OPENSSL_free(*slot);
    *slot = copy;
    return RD_KAFKA_CONF_OK;
}

static rd_kafka_conf_res_t store_secret(char **slot, const char *value, char *errstr, size_t errstr_size)
{
    char *copy = OPENSSL_strdup(value);

    if (copy == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return RD_KAFKA_CONF_INVALID;
    }
    free_secret(slot);
    *slot = copy;
    return RD_KAFKA_CONF_OK;
}

static rd_kafka_conf_res_t store_type(const char *prop, char **slot, const char *value,
                                      char *errstr, size_t errstr_size)
{
    static const char *const known[] = { "JKS", "JCEKS", "PKCS12", "PEM" };

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcasecmp(value, known[i]) == 0)
            return store(slot, value, errstr, errstr_size);
    snprintf(errstr, errstr_size, "%s: unsupported keystore type \"%s\" (JKS, JCEKS, PKCS12 or PEM)",
             prop, value);
    return RD_KAFKA_CONF_INVALID;
}

static rd_kafka_conf_res_t set_path(const char *prop, char **slot, const char *value, path_kind kind,
                                    char *errstr, size_t errstr_size)
{
    if (!check_path(prop, value, kind, errstr, errstr_size))
        return RD_KAFKA_CONF_INVALID;
    return store(slot, value, errstr, errstr_size);
}

/* A whole number in [lo, hi], e.g. mtls.wait.ms, mtls.validity.days. */
static rd_kafka_conf_res_t set_number(const char *prop, long *slot, const char *value, long lo, long hi,
                                      const char *unit, char *errstr, size_t errstr_size)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || v < lo || v > hi) {
        snprintf(errstr, errstr_size, "%s: \"%s\" is not a number of %s (%ld..%ld)", prop, value, unit,
                 lo, hi);
        return RD_KAFKA_CONF_INVALID;
    }
    *slot = v;
    return RD_KAFKA_CONF_OK;
}

/* The issuer's own rules (km_subject_check, km_san_check), at conf_set. */
static rd_kafka_conf_res_t set_name(const char *prop, char **slot, const char *value,
                                    int (*check)(const char *, km_status *), char *errstr, size_t errstr_size)
{
    km_status st = { 0 };

    if (!check(value, &st)) {
        snprintf(errstr, errstr_size, "%s: %s", prop, st.msg);
        return RD_KAFKA_CONF_INVALID;
    }
    return store(slot, value, errstr, errstr_size);
}

static rd_kafka_conf_res_t set_key_type(km_settings *s, const char *value, char *errstr, size_t errstr_size)
{
    char err[256];

    if (!km_key_type_valid(value, err, sizeof(err))) {
        snprintf(errstr, errstr_size, "mtls.key.type: %s", err);
        return RD_KAFKA_CONF_INVALID;
    }
    return store(&s->key_type, value, errstr, errstr_size);
}

static rd_kafka_conf_res_t set_renew_before(km_settings *s, const char *value, char *errstr,
                                            size_t errstr_size)
{
    km_renew_before rb;
    char err[256];

    if (!km_renew_before_parse(value, &rb, err, sizeof(err))) {
        snprintf(errstr, errstr_size, "mtls.renew.before: %s", err);
        return RD_KAFKA_CONF_INVALID;
    }
    return store(&s->renew_before, value, errstr, errstr_size);
}

rd_kafka_conf_res_t km_settings_set(km_settings *s, const char *name, const char *value,
                                    char *errstr, size_t errstr_size)
{
    if (s->applying || name == NULL)
        return RD_KAFKA_CONF_UNKNOWN;
    if (value == NULL)
        value = "";
    if (strcmp(name, KAFKA_MTLS_PROP_VOLUME) == 0)
        return set_path(name, &s->volume, value, PATH_VOLUME, errstr, errstr_size);
    if (strcmp(name, KAFKA_MTLS_PROP_ALIAS) == 0) {
        if (value[0] == '\0' || strchr(value, '/') != NULL) {
            snprintf(errstr, errstr_size, "%s: \"%s\" is not a valid alias", name, value);
            return RD_KAFKA_CONF_INVALID;
        }
        return store(&s->alias, value, errstr, errstr_size);
    }
    if (strcmp(name, KAFKA_MTLS_PROP_PASSWORD_FILE) == 0)
        return set_path(name, &s->password_file, value, PATH_FILE, errstr, errstr_size);
    if (strcmp(name, KAFKA_MTLS_PROP_WAIT_MS) == 0)
        return set_number(name, &s->wait_ms, value, 0, 3600000, "milliseconds", errstr, errstr_size);
    if (strcmp(name, "ssl.keystore.location") == 0)
        return set_path(name, &s->keystore, value, PATH_STORE_FILE, errstr, errstr_size);
    if (strcmp(name, "ssl.truststore.location") == 0)
        return set_path(name, &s->truststore, value, PATH_STORE_FILE, errstr, errstr_size);
    if (strcmp(name, "ssl.keystore.password") == 0)
        return store_secret(&s->keystore_password, value, errstr, errstr_size);
    if (strcmp(name, "ssl.key.password") == 0)
        return store_secret(&s->key_password, value, errstr, errstr_size);
    if (strcmp(name, "ssl.truststore.password") == 0)
        return store_secret(&s->truststore_password, value, errstr, errstr_size);
    if (strcmp(name, "ssl.keystore.type") == 0)
        return store_type(name, &s->keystore_type, value, errstr, errstr_size);
    if (strcmp(name, "ssl.truststore.type") == 0)
        return store_type(name, &s->truststore_type, value, errstr, errstr_size);
    if (strcmp(name, "mtls.ca.location") == 0)
        return set_path(name, &s->ca_cert, value, PATH_FILE, errstr, errstr_size);
    if (strcmp(name, "mtls.ca.key.location") == 0)
        return set_path(name, &s->ca_key, value, PATH_FILE, errstr, errstr_size);
    if (strcmp(name, "mtls.ca.key.password") == 0)
        return store_secret(&s->ca_key_password, value, errstr, errstr_size);
    if (strcmp(name, "mtls.ca.key.password.file") == 0)
        return set_path(name, &s->ca_key_password_file, value, PATH_FILE, errstr, errstr_size);
    if (strcmp(name, "mtls.keystore.password.file") == 0)
        return set_path(name, &s->keystore_password_file, value, PATH_FILE, errstr, errstr_size);
    if (strcmp(name, "mtls.subject") == 0)
        return set_name(name, &s->subject, value, km_subject_check, errstr, errstr_size);
    if (strcmp(name, "mtls.san") == 0)
        return set_name(name, &s->san, value, km_san_check, errstr, errstr_size);
    if (strcmp(name, "mtls.key.type") == 0)
        return set_key_type(s, value, errstr, errstr_size);
    if (strcmp(name, "mtls.validity.days") == 0)
        return set_number(name, &s->validity_days, value, 1, 36500, "days", errstr, errstr_size);
    if (strcmp(name, "mtls.renew.before") == 0)
        return set_renew_before(s, value, errstr, errstr_size);
    /* Java spells "no hostname verification" as an empty value, which
     * librdkafka rejects; "https"/"none" are librdkafka's own. The last
     * value set wins, so a later "https" turns the check back on. */
    if (strcmp(name, "ssl.endpoint.identification.algorithm") == 0) {
        s->no_hostname_check = value[0] == '\0';
        return s->no_hostname_check ? RD_KAFKA_CONF_OK : RD_KAFKA_CONF_UNKNOWN;
    }
    return RD_KAFKA_CONF_UNKNOWN;
}

int km_settings_from_env(km_settings *s)
{
    const char *v = getenv(KAFKA_MTLS_ENV_VOLUME);

    return v == NULL || v[0] == '\0' || (s->env_volume = OPENSSL_strdup(v)) != NULL;
}

int km_settings_use_env_volume(km_settings *s, char *errstr, size_t errstr_size)
{
    if (s->env_volume == NULL) {
        snprintf(errstr, errstr_size,
                 "kafka-mtls: no key source configured: set %s (or the %s environment variable) "
                 "or ssl.keystore.location", KAFKA_MTLS_PROP_VOLUME, KAFKA_MTLS_ENV_VOLUME);
        return 0;
    }
    char why[512];

    if (!check_path(KAFKA_MTLS_ENV_VOLUME, s->env_volume, PATH_VOLUME, why, sizeof(why))) {
        snprintf(errstr, errstr_size, "kafka-mtls: %s", why);
        return 0;
    }
    return store(&s->volume, s->env_volume, errstr, errstr_size) == RD_KAFKA_CONF_OK;
}
