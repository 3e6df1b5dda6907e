/* Finding the files of a client volume (or a single keystore file). */
#ifndef KMTLS_VOLUME_H
#define KMTLS_VOLUME_H

#include <stddef.h>

#include "kmtls/status.h"
#include "uri.h"

typedef enum km_role {
    KM_ROLE_KEYSTORE,   /* key store file (PKCS#12/JKS/JCEKS/PEM bundle) */
    KM_ROLE_TRUSTSTORE, /* trust store file: every certificate is an anchor */
    KM_ROLE_KEY,        /* PEM private key (tls.key, svid_key.pem) */
    KM_ROLE_CHAIN,      /* PEM certificates, leaf first (tls.crt, svid.pem) */
    KM_ROLE_CA          /* PEM trust anchors (ca.crt, svid_bundle.pem) */
} km_role;

typedef struct km_file {
    char *path;
    km_role role;
    char *creds;        /* password file found beside it (seed layout), or NULL */
} km_file;

#define KM_MAX_FILES 4

typedef struct km_volume {
    const char *layout; /* "seed", "cert-manager", "spiffe-helper", "file" */
    char *alias;        /* seed alias, or NULL */
    km_file files[KM_MAX_FILES];
    size_t nfiles;
} km_volume;

/*
 * Discovers what uri points at. explicit_password says the caller has a
 * password of its own, so a seed volume need not wait for ALIAS_creds.
 * Returns 1, or 0 with st set (KAFKA_MTLS_R_NOT_READY for a volume still
 * being written).
 */
int km_volume_discover(const km_uri *uri, int explicit_password, km_volume *v, km_status *st);
void km_volume_clear(km_volume *v);

#endif
