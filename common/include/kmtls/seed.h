/*
 * The seed's volume layout, as its keytool script and `kafka-mtls issue`
 * write it, and the one rule for an ALIAS:
 *   ALIAS.keystore.{jks,p12,pfx}   ALIAS.truststore.{jks,p12,pfx}
 *   ALIAS-ca-signed.crt            ALIAS_creds (the store password, written last)
 *   .kafka-mtls.lock               .kafka-mtls-tmp.* (an issuer's temporary files)
 *   .kafka-mtls-writing            (an issuance under way, or interrupted)
 */
#ifndef KMTLS_SEED_H
#define KMTLS_SEED_H

#include <stddef.h>

#define KAFKA_MTLS_LOCK_FILE ".kafka-mtls.lock"
#define KM_TEMP_PREFIX ".kafka-mtls-tmp."
/* There while kafka-mtls writes stores that ALIAS_creds does not yet match
 * (a first issuance, a new password): stores without ALIAS_creds beside it
 * are an interrupted issuance of ours, to redo; without it, another
 * writer's work in progress, never to overwrite. */
#define KM_WRITING_MARK ".kafka-mtls-writing"
/* What an alias may hold at most: it prefixes file names and becomes a CN. */
#define KM_MAX_ALIAS 200

typedef enum km_seed_file {
    KM_SEED_KEYSTORE,   /* ALIAS.keystore.EXT */
    KM_SEED_TRUSTSTORE, /* ALIAS.truststore.EXT */
    KM_SEED_CREDS,      /* ALIAS_creds */
    KM_SEED_CERT        /* ALIAS-ca-signed.crt */
} km_seed_file;

/* The store endings readers look for, in this order; issuers write the first. */
extern const char *const km_seed_store_exts[];
#define KM_SEED_STORE_EXTS 3

/* The name of one of ALIAS's files into out; ext is a store's ending (NULL:
 * "jks"), ignored for the others. 1, or 0 if it does not fit. */
int km_seed_name(km_seed_file f, const char *alias, const char *ext, char *out, size_t n);
/* The same as a path: "VOLUME/NAME" into out. 1, or 0 if it does not fit. */
int km_seed_path(km_seed_file f, const char *volume, const char *alias, const char *ext, char *out, size_t n);

/* For "ALIAS.keystore.EXT" / "ALIAS.truststore.EXT" (the first such
 * marker counts): 1 with *kind, the alias's length and the ending (any,
 * see km_seed_known_ext); 0 for any other name, or an empty alias. */
int km_seed_parse(const char *name, km_seed_file *kind, size_t *alias_len, const char **ext);
int km_seed_known_ext(const char *ext);
/* A name an issuer owns: ALIAS_creds, the lock file, a temporary file. */
int km_seed_is_creds(const char *name);
int km_seed_is_temp(const char *name);

/*
 * The rule for an alias, wherever one is given (keystore: URIs, the
 * plugin's mtls.alias, issuance): it prefixes file names in the volume and
 * becomes the certificate's CN and the keystore's friendlyName, so it is
 * not empty, holds no '/', does not start with '.', is at most
 * KM_MAX_ALIAS bytes of valid UTF-8 without control characters. 1 when
 * valid; else 0 with msg saying why ("alias 'x/y': ..."; an alias with
 * control characters or invalid UTF-8 is not quoted).
 */
int km_alias_check(const char *alias, char *msg, size_t n);

#endif
