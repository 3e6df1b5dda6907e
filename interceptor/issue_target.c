/*
 * Where the plugin issues. With mtls.volume: that directory, alias
 * mtls.alias (default: the directory's name). With Java's
 * ssl.keystore.location=DIR/ALIAS.keystore.jks: the properties name the
 * files of the seed's layout, so DIR is the volume and ALIAS its alias; the
 * issuer then writes DIR/ALIAS.truststore.jks with the one password it
 * writes (ssl.keystore.password, else the volume's), so a truststore named
 * elsewhere, or under another password, could never be what it wrote.
 */
#include <stdio.h>
#include <string.h>

#include "issuing.h"
#include "kafka-mtls.h"
#include "kmtls/seed.h"

int km_issue_target_of(const km_settings *s, km_issue_target *t, char *errstr, size_t n)
{
    const char *file = s->keystore, *base, *ext;
    char ts[sizeof(t->volume) + sizeof(t->alias_buf) + 32], msg[300];
    km_seed_file kind;
    size_t alias_len;

    memset(t, 0, sizeof(*t));
    if (s->volume != NULL || file == NULL) {
        snprintf(t->volume, sizeof(t->volume), "%s", km_settings_source(s) ? km_settings_source(s) : "");
        t->alias = s->alias;
        return 1;
    }
    base = strrchr(file, '/') + 1; /* an absolute path: checked when it was set */
    if (!km_seed_parse(base, &kind, &alias_len, &ext) || kind != KM_SEED_KEYSTORE || !km_seed_known_ext(ext) ||
        alias_len >= sizeof(t->alias_buf)) {
        snprintf(errstr, n, "kafka-mtls: ssl.keystore.location=%s: to issue into it, the plugin needs the seed's "
                 "name ALIAS.keystore.jks (or .p12, .pfx): it writes ALIAS.truststore.jks and ALIAS_creds "
                 "beside it, and ALIAS becomes the certificate's CN", file);
        return 0;
    }
    snprintf(t->volume, sizeof(t->volume), "%.*s", (int)(base - 1 - file), file);
    snprintf(t->alias_buf, sizeof(t->alias_buf), "%.*s", (int)alias_len, base);
    if (!km_alias_check(t->alias_buf, msg, sizeof(msg))) {
        snprintf(errstr, n, "kafka-mtls: ssl.keystore.location=%s: %s", file, msg);
        return 0;
    }
    if (s->alias != NULL && strcmp(s->alias, t->alias_buf) != 0) {
        snprintf(errstr, n, "kafka-mtls: %s=%s but ssl.keystore.location=%s names alias %s: set one of them",
                 KAFKA_MTLS_PROP_ALIAS, s->alias, file, t->alias_buf);
        return 0;
    }
    t->alias = t->alias_buf;
    if (!km_seed_path(KM_SEED_TRUSTSTORE, t->volume, t->alias, ext, ts, sizeof(ts))) {
        snprintf(errstr, n, "kafka-mtls: ssl.keystore.location=%s: the path is too long", file);
        return 0;
    }
    if (s->truststore != NULL && strcmp(s->truststore, ts) != 0) {
        snprintf(errstr, n, "kafka-mtls: ssl.truststore.location=%s: issuing into %s writes the truststore %s; "
                 "name that one, or leave ssl.truststore.location unset", s->truststore, t->volume, ts);
        return 0;
    }
    if (s->truststore_password != NULL &&
        (s->keystore_password == NULL || strcmp(s->truststore_password, s->keystore_password) != 0)) {
        snprintf(errstr, n, "kafka-mtls: ssl.truststore.password differs from ssl.keystore.password: the issuer "
                 "writes both stores under one password (ssl.keystore.password); make them the same");
        return 0;
    }
    return 1;
}
