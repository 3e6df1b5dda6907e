/* The plugin's per-configuration state: the properties it claimed
 * (settings.c keeps the table of them). */
#ifndef KMTLS_SETTINGS_H
#define KMTLS_SETTINGS_H

#include <stddef.h>
#include <librdkafka/rdkafka.h>

#include "client_log.h"
#include "rdkafka_host.h"

typedef struct km_settings {
    const km_rdkafka *rdk;     /* the librdkafka that owns this configuration */
    char *volume;              /* mtls.volume */
    char *env_volume;          /* KAFKA_MTLS_VOLUME, used only without another key source */
    char *alias;               /* mtls.alias */
    char *password_file;       /* mtls.password.file */
    long wait_ms;              /* mtls.wait.ms */
    char *keystore;            /* ssl.keystore.location */
    char *keystore_type;       /* ssl.keystore.type (content decides; kept for messages) */
    char *keystore_password;   /* ssl.keystore.password (secret) */
    char *key_password;        /* ssl.key.password (secret) */
    char *truststore;          /* ssl.truststore.location */
    char *truststore_type;
    char *truststore_password; /* ssl.truststore.password (secret) */
    int no_hostname_check;     /* ssl.endpoint.identification.algorithm= (empty) */
    /* issuance and renewal (a CA configured makes the plugin the issuer) */
    char *ca_cert;             /* mtls.ca.location */
    char *ca_key;              /* mtls.ca.key.location */
    char *ca_key_password;     /* mtls.ca.key.password (secret) */
    char *ca_key_password_file;/* mtls.ca.key.password.file */
    char *ca_key_insecure_ok;  /* mtls.ca.key.insecure.ok ("true" or "false") */
    /* or a CA service (enrolling.c): the plugin holds no CA key */
    char *enrol_url;           /* mtls.enrol.url */
    char *enrol_root;          /* mtls.enrol.ca.location */
    char *enrol_token_file;    /* mtls.enrol.token.file */
    long enrol_timeout_ms;     /* mtls.enrol.timeout.ms (0: mtls.wait.ms) */
    char *enrol_not_after;     /* mtls.enrol.not.after */
    char *subject;             /* mtls.subject */
    char *san;                 /* mtls.san */
    char *key_type;            /* mtls.key.type */
    long validity_days;        /* mtls.validity.days (0: default) */
    char *renew_before;        /* mtls.renew.before */
    char *keystore_password_file; /* mtls.keystore.password.file */
    char *validity;            /* mtls.validity: 90d, 12h, 30m (wins over mtls.validity.days) */
    /* live rotation: the plugin's own TLS under librdkafka (live.c) */
    char *rotation;            /* mtls.rotation: "restart" (default) or "live" */
    char *rotation_existing;   /* mtls.rotation.existing: "move" (default) or "keep" */
    long rotation_poll_ms;     /* mtls.rotation.poll.ms */
    long drain_timeout_ms;     /* mtls.rotation.drain.timeout.ms */
    long reply_wait_us;        /* mtls.rotation.reply.wait.us */
    km_client_log log;         /* where this client's lines go, read at on_new */
    int applying;              /* set while the plugin itself sets properties */
    int memfd;                 /* certificate chain handed to librdkafka, or -1 */
} km_settings;

km_settings *km_settings_new(void);
km_settings *km_settings_dup(const km_settings *src);
void km_settings_free(km_settings *s);

/*
 * Claims and validates one property: RD_KAFKA_CONF_OK (ours, stored),
 * RD_KAFKA_CONF_INVALID (ours, bad value: errstr says why) or
 * RD_KAFKA_CONF_UNKNOWN (not ours).
 */
rd_kafka_conf_res_t km_settings_set(km_settings *s, const char *name, const char *value,
                                    char *errstr, size_t errstr_size);

/* The key source: mtls.volume, else ssl.keystore.location (NULL: neither),
 * and the name of the property that set it, for messages. */
const char *km_settings_source(const km_settings *s);
const char *km_settings_source_property(const km_settings *s);

/* mtls.rotation=live */
int km_settings_live(const km_settings *s);

/* Remembers KAFKA_MTLS_VOLUME (checked only if it ends up being used). */
int km_settings_from_env(km_settings *s);

/*
 * The volume to use when neither mtls.volume nor ssl.keystore.location is
 * set: KAFKA_MTLS_VOLUME, checked now. 1 (s->volume set), or 0 with errstr.
 */
int km_settings_use_env_volume(km_settings *s, char *errstr, size_t errstr_size);

#endif
