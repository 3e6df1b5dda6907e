/*
 * kafka-mtls — the public contract between the OpenSSL provider, the
 * librdkafka interceptor and their users: the URI scheme, its parameters,
 * the provider's configuration keys and the error reasons it raises.
 */
#ifndef KAFKA_MTLS_H
#define KAFKA_MTLS_H

/* Provider name, as given to `openssl -provider` and OPENSSL_CONF. */
#define KAFKA_MTLS_PROVIDER_NAME "kafka-mtls"

/*
 * URI scheme of the provider's OSSL_STORE:
 *   keystore:/abs/volume/dir[?param=value&...]   a client volume (layout discovered)
 *   keystore:/abs/path/to/file[?...]             one keystore or truststore file
 * "keystore:///abs/..." is accepted too. Percent-escapes (%2F) are decoded.
 */
#define KAFKA_MTLS_URI_SCHEME "keystore"

/* URI query parameters. */
#define KAFKA_MTLS_URI_ALIAS         "alias"         /* volume ALIAS / keystore entry */
#define KAFKA_MTLS_URI_PART          "part"          /* "keystore" | "truststore" */
#define KAFKA_MTLS_URI_PASSWORD_FILE "password-file" /* file holding the store password */

/*
 * Parameters a program may pass to OSSL_STORE_open_ex() (octet strings).
 * Passwords never travel in a URI. A password given here wins over every
 * password found on the volume.
 */
#define KAFKA_MTLS_PARAM_PASSWORD     "kafka-mtls-password"     /* store password */
#define KAFKA_MTLS_PARAM_KEY_PASSWORD "kafka-mtls-key-password" /* JKS/JCEKS key password */

/* Keys read from the provider's OPENSSL_CONF section. */
#define KAFKA_MTLS_CONF_PASSWORD_FILE "password-file" /* default password file */
#define KAFKA_MTLS_CONF_DEBUG         "debug"         /* "1": trace to stderr */

/* Caps on what a store may make a reader do (defaults in provider/kdf_limit.h:
 * 100000, 250000, 1024), as configuration keys and environment variables
 * (the environment wins). */
#define KAFKA_MTLS_CONF_MAX_KDF_ITERATIONS   "max-kdf-iterations"   /* PKCS#12, PBES2: per derivation */
#define KAFKA_MTLS_CONF_MAX_JCEKS_ITERATIONS "max-jceks-iterations" /* per JCEKS key */
#define KAFKA_MTLS_CONF_MAX_ENTRIES          "max-entries"          /* per store file */
#define KAFKA_MTLS_ENV_MAX_KDF_ITERATIONS    "KAFKA_MTLS_MAX_KDF_ITERATIONS"
#define KAFKA_MTLS_ENV_MAX_JCEKS_ITERATIONS  "KAFKA_MTLS_MAX_JCEKS_ITERATIONS"
#define KAFKA_MTLS_ENV_MAX_ENTRIES           "KAFKA_MTLS_MAX_ENTRIES"

/* Environment: KAFKA_MTLS_DEBUG=1 traces discovery to stderr (never secrets). */
#define KAFKA_MTLS_ENV_DEBUG "KAFKA_MTLS_DEBUG"
/* Environment: seconds before the plugin's renewer tries again after a
 * failed renewal (1 to 3600; default 60). For tests that restart a CA
 * service; read when a client starts its renewer. */
#define KAFKA_MTLS_ENV_RENEW_RETRY_SECONDS "KAFKA_MTLS_RENEW_RETRY_SECONDS"

/*
 * librdkafka plugin (libkafka-mtls.so, loaded with plugin.library.paths):
 * its own configuration properties ...
 */
#define KAFKA_MTLS_PROP_VOLUME        "mtls.volume"        /* volume dir or keystore file */
#define KAFKA_MTLS_PROP_ALIAS         "mtls.alias"         /* volume alias (default: dir name) */
#define KAFKA_MTLS_PROP_PASSWORD_FILE "mtls.password.file" /* store password file */
#define KAFKA_MTLS_PROP_WAIT_MS       "mtls.wait.ms"       /* wait for a not-ready volume */
#define KAFKA_MTLS_WAIT_MS_DEFAULT    10000
/* ... issuance on first use and renewal (a CA configured makes the plugin the
 * volume's issuer) ... */
#define KAFKA_MTLS_PROP_CA_LOCATION            "mtls.ca.location"
#define KAFKA_MTLS_PROP_CA_KEY_LOCATION        "mtls.ca.key.location"
#define KAFKA_MTLS_PROP_CA_KEY_PASSWORD        "mtls.ca.key.password"
#define KAFKA_MTLS_PROP_CA_KEY_PASSWORD_FILE   "mtls.ca.key.password.file"
/* "true": issue although the CA key or its password file is readable by
 * group or others (refused otherwise) */
#define KAFKA_MTLS_PROP_CA_KEY_INSECURE_OK     "mtls.ca.key.insecure.ok"
/* ... or a CA service (step-ca) instead of a CA key: the plugin makes the
 * key, sends a CSR with a one-time token (first use) or renews by mutual
 * TLS with the current certificate ... */
#define KAFKA_MTLS_PROP_ENROL_URL              "mtls.enrol.url"         /* https://host:port */
#define KAFKA_MTLS_PROP_ENROL_CA_LOCATION      "mtls.enrol.ca.location" /* the service's root (PEM) */
#define KAFKA_MTLS_PROP_ENROL_TOKEN_FILE       "mtls.enrol.token.file"  /* one line: the token */
#define KAFKA_MTLS_PROP_ENROL_TIMEOUT_MS       "mtls.enrol.timeout.ms"  /* default mtls.wait.ms */
#define KAFKA_MTLS_PROP_ENROL_NOT_AFTER        "mtls.enrol.not.after"   /* 24h, 90m; default: the service's */
#define KAFKA_MTLS_PROP_SUBJECT                "mtls.subject"       /* default CN=${alias} */
#define KAFKA_MTLS_PROP_SAN                    "mtls.san"           /* DNS:..,URI:..,IP:.. */
#define KAFKA_MTLS_PROP_KEY_TYPE               "mtls.key.type"      /* rsa:2048 (default) ... */
#define KAFKA_MTLS_PROP_VALIDITY_DAYS          "mtls.validity.days" /* default 90 */
#define KAFKA_MTLS_PROP_RENEW_BEFORE           "mtls.renew.before"  /* default 1/3 of the lifetime */
#define KAFKA_MTLS_PROP_KEYSTORE_PASSWORD_FILE "mtls.keystore.password.file"
#define KAFKA_MTLS_PROP_VALIDITY               "mtls.validity"      /* 90d, 12h, 30m; before .days */
/* ... live rotation: with mtls.rotation=live the plugin does the TLS under an
 * unmodified client (librdkafka's connect_cb) and moves it to a renewed
 * certificate without a restart ... */
#define KAFKA_MTLS_PROP_ROTATION               "mtls.rotation"      /* restart (default) | live */
#define KAFKA_MTLS_PROP_ROTATION_EXISTING      "mtls.rotation.existing" /* move (default) | keep */
#define KAFKA_MTLS_PROP_ROTATION_POLL_MS       "mtls.rotation.poll.ms"  /* default 1000 */
#define KAFKA_MTLS_ROTATION_POLL_MS_DEFAULT    1000
#define KAFKA_MTLS_PROP_ROTATION_DRAIN_MS      "mtls.rotation.drain.timeout.ms" /* default 10000 */
#define KAFKA_MTLS_ROTATION_DRAIN_MS_DEFAULT   10000
#define KAFKA_MTLS_PROP_ROTATION_REPLY_WAIT_US "mtls.rotation.reply.wait.us" /* default 1000, 0: never */
#define KAFKA_MTLS_ROTATION_REPLY_WAIT_US_DEFAULT 1000
/* ... the environment variable read when mtls.volume is not set ... */
#define KAFKA_MTLS_ENV_VOLUME "KAFKA_MTLS_VOLUME"
/* ... and the Java client properties it accepts and handles itself:
 * ssl.keystore.location/.password/.type, ssl.key.password,
 * ssl.truststore.location/.password/.type, and an empty
 * ssl.endpoint.identification.algorithm (Java's "no hostname check"). */

/*
 * Error reasons (ERR_GET_REASON() of the errors the provider raises). The
 * message text always names the file or parameter and the cause.
 */
enum kafka_mtls_reason {
    KAFKA_MTLS_R_BAD_URI = 1,          /* malformed URI, unknown or bad parameter */
    KAFKA_MTLS_R_RELATIVE_PATH,        /* the URI path is not absolute */
    KAFKA_MTLS_R_NOT_FOUND,            /* file or volume directory does not exist */
    KAFKA_MTLS_R_READ_FAILED,          /* a file exists but cannot be read */
    KAFKA_MTLS_R_NOT_READY,            /* volume not written completely yet: retry later */
    KAFKA_MTLS_R_NO_PASSWORD,          /* a password is needed and none was found */
    KAFKA_MTLS_R_PASSWORD_FILE,        /* the password file is missing or unreadable */
    KAFKA_MTLS_R_WRONG_PASSWORD,       /* the password does not open the store */
    KAFKA_MTLS_R_INTEGRITY,            /* MAC / integrity check failed: file modified */
    KAFKA_MTLS_R_CORRUPT,              /* truncated or malformed content */
    KAFKA_MTLS_R_UNSUPPORTED_FORMAT,   /* not PKCS#12, JKS, JCEKS or PEM */
    KAFKA_MTLS_R_UNSUPPORTED_CONTENT,  /* a recognised format holding something we cannot use */
    KAFKA_MTLS_R_NO_KEY,               /* the keystore holds no private key */
    KAFKA_MTLS_R_MULTIPLE_KEYS,        /* several keys and no alias chose one */
    KAFKA_MTLS_R_ALIAS_NOT_FOUND,      /* no entry / keystore with the given alias */
    KAFKA_MTLS_R_KEY_MISMATCH,         /* private key does not match the certificate */
    KAFKA_MTLS_R_NO_CERTIFICATE,       /* key without a certificate */
    KAFKA_MTLS_R_LAYOUT,               /* volume layout unrecognised or ambiguous */
    KAFKA_MTLS_R_TOO_LARGE,            /* file larger than any keystore should be */
    KAFKA_MTLS_R_INTERNAL,             /* out of memory or a libcrypto failure */
    /* issuance only (the kafka-mtls command and the plugin; never the provider) */
    KAFKA_MTLS_R_BAD_REQUEST = 21,     /* bad alias, subject, SAN, key type, days, password */
    KAFKA_MTLS_R_CA_REFUSED,           /* not a CA, expired, key mismatch, undecryptable key */
    KAFKA_MTLS_R_WRITE_FAILED,         /* the volume or one of its files cannot be written */
    KAFKA_MTLS_R_INSECURE              /* group/other-writable volume, symlink in the volume */
};

#endif
